//! DiT training: a small model over-fits one clip in a bounded number of steps, a resumed run
//! follows the same trajectory, and generation is deterministic under a seed, with precise
//! errors for bad sizes, bad prompts and mismatched weights.

use std::path::{Path, PathBuf};

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use worldsim_model::diffusion::SamplerKind;
use worldsim_model::dit::DitConfig;
use worldsim_model::dit::layout::AttentionMode;
use worldsim_model::dit::train::{DitTrainConfig, LatentSample, flow_loss, init_denoiser, train_dit};
use worldsim_model::dit::weights::{DIT_FORMAT, DitMeta, load_denoiser, save_denoiser};
use worldsim_model::generate::{GenerateRequest, generate};
use worldsim_model::text::TextEncoderConfig;
use worldsim_model::train::Checkpoint;
use worldsim_model::vae::train::Stop;
use worldsim_model::vae::weights::load_vae;
use worldsim_model::{Cpu, CpuAutodiff, ModelError};
use worldsim_scenes::rng::Rng;

/// This package's folder, from cargo at run time (a test binary built in another checkout that
/// shares the target folder must still read this checkout's files).
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
}

/// Training draws initial weights from the backend's process-wide generator: take turns.
static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn shipped_vae() -> PathBuf {
    manifest_dir().join("../assets/models/tiny")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("worldsim-dit-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A DiT small enough to train in a test, on the shipped VAE's 8-channel latents.
fn micro(steps: u64) -> DitTrainConfig {
    let base = DitTrainConfig::tiny(steps, shipped_vae());
    DitTrainConfig {
        model: DitConfig::new(8, 32, 2, 2, 16).with_freq_dim(32),
        text: TextEncoderConfig::new(base.tokenizer.vocab_size(), 16).with_layers(1).with_max_len(256),
        batch: 2,
        areas: vec![16 * 16],
        max_k: 1,
        checkpoint_every: 2,
        log_every: 1,
        ..base
    }
}

struct Values(Vec<f32>);

impl<B: Backend> ModuleVisitor<B> for Values {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.extend(param.val().into_data().to_vec::<f32>().unwrap_or_default());
    }
}

fn values<B: Backend, M: Module<B>>(m: &M) -> Vec<f32> {
    let mut v = Values(Vec::new());
    m.visit(&mut v);
    v.0
}

#[test]
fn a_small_dit_overfits_one_clip() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    let config = DitTrainConfig { cond_dropout: 0.0, ..micro(800) };
    let td = config.model.token_dim();
    let mut rng = Rng::new(5);
    let clip = LatentSample {
        tokens: (0..2 * 4 * td).map(|_| worldsim_model::diffusion::flow::normal(&mut rng)).collect(),
        frames: 2,
        grid: (2, 2),
        caption: "A red ball falls.".into(),
        actions: vec!["the camera holds still".into(); 2],
    };
    let batch = vec![clip.clone(), clip];
    CpuAutodiff::seed(&device, 3);
    let mut model = init_denoiser::<CpuAutodiff>(&config, &device);
    let mut optim = AdamConfig::new().init();
    // The loss at fixed draws of noise, before and after.
    let eval = |m: &worldsim_model::dit::Denoiser<CpuAutodiff>| -> f32 {
        let valid = m.valid();
        let mut r = Rng::new(99);
        (0..4)
            .map(|_| {
                flow_loss::<Cpu>(&valid, &config, &batch, AttentionMode::Bidirectional, &mut r, &device).into_scalar()
            })
            .sum::<f32>()
            / 4.0
    };
    let before = eval(&model);
    for step in 0..800u64 {
        let mut r = Rng::new(step);
        let loss = flow_loss(&model, &config, &batch, AttentionMode::Bidirectional, &mut r, &device);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(3e-3, model, grads);
    }
    let after = eval(&model);
    assert!(after < 0.25 * before, "loss on one clip went from {before} to {after}; a DiT should over-fit it");
}

#[test]
fn a_resumed_dit_run_follows_the_same_trajectory() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    let (a, b) = (temp_dir("straight"), temp_dir("resumed"));
    train_dit::<CpuAutodiff>(&a, micro(4), Stop::Steps(4), false, &device, false).expect("trains");
    train_dit::<CpuAutodiff>(&b, micro(4), Stop::Steps(2), false, &device, false).expect("trains");
    let done = train_dit::<CpuAutodiff>(&b, micro(4), Stop::Steps(4), true, &device, false).expect("resumes");
    assert_eq!(done.step, 4);
    let load = |dir: &Path| {
        let m = init_denoiser::<Cpu>(&micro(4), &device);
        values(&Checkpoint::of_run(dir).load_ema(m, &device).expect("loads"))
    };
    let (wa, wb) = (load(&a), load(&b));
    let diff = wa.iter().zip(&wb).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(diff < 1e-5, "resumed weights differ from the straight run by {diff}");
    assert!(a.join("loss.png").is_file());
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

fn model_folder(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::create_dir_all(&dir).expect("dir");
    for f in ["vae.json", "vae.mpk"] {
        std::fs::copy(shipped_vae().join(f), dir.join(f)).expect("copy the shipped VAE");
    }
    let config = micro(1);
    let device = Default::default();
    CpuAutodiff::seed(&device, 11);
    let model = init_denoiser::<Cpu>(&config, &device);
    let meta = DitMeta {
        format: DIT_FORMAT.into(),
        model: config.model.clone(),
        text: config.text.clone(),
        tokenizer: config.tokenizer.clone(),
        trained: serde_json::Value::Null,
    };
    save_denoiser(&dir, &model, &meta).expect("saves");
    dir
}

fn request() -> GenerateRequest {
    GenerateRequest {
        prompt: "red ball bouncing on snow".into(),
        frames: 5,
        width: 32,
        height: 16,
        seed: 4,
        steps: 3,
        guidance: 2.0,
        sampler: SamplerKind::Heun,
    }
}

#[test]
fn generation_is_deterministic_and_checks_its_inputs() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    let dir = model_folder("generate");
    let vae = load_vae::<Cpu>(&dir, &device).expect("vae");
    let dit = load_denoiser::<Cpu>(&dir, &device).expect("dit");
    let a = generate(&vae, &dit, &request(), &device).expect("generates");
    let b = generate(&vae, &dit, &request(), &device).expect("generates");
    assert_eq!(a.frames.len(), 5);
    assert_eq!((a.frames[0].width, a.frames[0].height), (32, 16));
    assert!(a.frames.iter().zip(&b.frames).all(|(x, y)| x.rgb == y.rgb), "same seed, same video");
    let c = generate(&vae, &dit, &GenerateRequest { seed: 5, ..request() }, &device).expect("generates");
    assert!(a.frames.iter().zip(&c.frames).any(|(x, y)| x.rgb != y.rgb), "another seed, another video");
    assert!(a.caption.contains("snowy field"), "{}", a.caption);
    let image = generate(&vae, &dit, &GenerateRequest { frames: 1, ..request() }, &device).expect("an image");
    assert_eq!(image.frames.len(), 1);

    let err = |r: GenerateRequest| generate(&vae, &dit, &r, &device).expect_err("refused").to_string();
    assert!(err(GenerateRequest { width: 36, ..request() }).contains("width is 36"));
    assert!(err(GenerateRequest { frames: 6, ..request() }).contains("nearest valid value is 5"));
    assert!(err(GenerateRequest { prompt: " ".into(), ..request() }).contains("no words"));
    assert!(err(GenerateRequest { prompt: "ball ".repeat(300), ..request() }).contains("at most 256"));
    let unknown =
        generate(&vae, &dit, &GenerateRequest { prompt: "red ball on snow, zorble".into(), ..request() }, &device)
            .expect("unknown words are not fatal");
    assert_eq!(unknown.unknown, vec!["zorble".to_string()]);

    // Weights for another configuration are refused with the file and the reason.
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("dit.json")).expect("read")).expect("json");
    meta["model"]["dim"] = serde_json::json!(64);
    std::fs::write(dir.join("dit.json"), meta.to_string()).expect("write");
    match load_denoiser::<Cpu>(&dir, &device) {
        Err(ModelError::Weights { path, message }) => {
            assert!(path.ends_with("dit.mpk") && message.contains("do not match"), "{path}: {message}")
        }
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
