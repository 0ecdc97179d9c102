//! Training machinery: checkpoints round-trip exactly, a resumed run follows the same
//! trajectory, metrics and the loss plot are written, the schedule has its shape.

use std::path::PathBuf;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use worldsim_model::CpuAutodiff;
use worldsim_model::train::metrics::MetricsLog;
use worldsim_model::train::{Checkpoint, LrSchedule};
use worldsim_model::vae::VaeConfig;
use worldsim_model::vae::train::{Stop, VaeTrainConfig, train_vae};

/// Weight initialisation draws from the backend's process-wide generator: tests that train
/// take turns so they do not draw from it at the same time.
static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("worldsim-model-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A VAE small enough to train a few steps in a test.
fn micro(steps: u64) -> VaeTrainConfig {
    let model = VaeConfig::new(4, vec![8, 8], vec![true], vec![true]).with_groups(4);
    VaeTrainConfig {
        model,
        batch: 2,
        areas: vec![16 * 16],
        max_k: 1,
        checkpoint_every: 2,
        log_every: 1,
        ..VaeTrainConfig::tiny(steps)
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

fn load(dir: &std::path::Path, config: &VaeTrainConfig) -> Vec<f32> {
    let device = Default::default();
    let model = config.model.init::<CpuAutodiff>(&device);
    let rec = burn::record::NamedMpkFileRecorder::<burn::record::FullPrecisionSettings>::new();
    let model =
        model.load_file(Checkpoint::of_run(dir).dir.join("model.mpk"), &rec, &device).expect("checkpoint loads");
    values(&model)
}

#[test]
fn a_resumed_run_follows_the_same_trajectory() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    let (a, b) = (temp_dir("straight"), temp_dir("resumed"));
    train_vae::<CpuAutodiff>(&a, micro(4), Stop::Steps(4), false, &device, false).expect("trains");
    let half = train_vae::<CpuAutodiff>(&b, micro(4), Stop::Steps(2), false, &device, false).expect("trains");
    assert_eq!(half.step, 2);
    let after_two = load(&b, &micro(4));
    let done = train_vae::<CpuAutodiff>(&b, micro(4), Stop::Steps(4), true, &device, false).expect("resumes");
    assert_eq!(done.step, 4);
    let (wa, wb) = (load(&a, &micro(4)), load(&b, &micro(4)));
    assert_eq!(wa.len(), wb.len());
    let diff = wa.iter().zip(&wb).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(diff < 1e-5, "resumed weights differ from the straight run by {diff}");
    assert!(after_two.iter().zip(&wb).any(|(x, y)| x != y), "the resumed run did not train");
    // Metrics: one line per step, the same numbers either way.
    let (ma, mb) = (MetricsLog::read(&a.join("metrics.jsonl")), MetricsLog::read(&b.join("metrics.jsonl")));
    assert_eq!(ma.iter().map(|l| l.step).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(mb.iter().map(|l| l.step).collect::<Vec<_>>(), [1, 2, 3, 4]);
    for (x, y) in ma.iter().zip(&mb) {
        assert!((x.loss - y.loss).abs() < 1e-5, "step {}: {} vs {}", x.step, x.loss, y.loss);
    }
    let png = std::fs::read(a.join("loss.png")).expect("loss plot");
    assert_eq!(&png[1..4], b"PNG");
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn checkpoint_save_then_load_is_the_identity() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    let dir = temp_dir("identity");
    let config = micro(2);
    train_vae::<CpuAutodiff>(&dir, config.clone(), Stop::Steps(2), false, &device, false).expect("trains");
    let ckpt = Checkpoint::of_run(&dir);
    let first = load(&dir, &config);
    // Resaving what was loaded gives the same bytes' worth of values.
    let model = config.model.init::<CpuAutodiff>(&device);
    let rec = burn::record::NamedMpkFileRecorder::<burn::record::FullPrecisionSettings>::new();
    let model = model.load_file(ckpt.dir.join("model.mpk"), &rec, &device).expect("loads");
    let again = dir.join("again.mpk");
    model.save_file(again.clone(), &rec).expect("saves");
    let reloaded = config.model.init::<CpuAutodiff>(&device).load_file(again, &rec, &device).expect("loads");
    assert_eq!(values(&reloaded), first);
    assert!(!dir.join(".checkpoint.tmp").exists());
    let state: worldsim_model::train::checkpoint::RunState<VaeTrainConfig> = ckpt.state().expect("state");
    assert_eq!((state.step, state.config.clone()), (2, config));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_checkpoint_is_reported_not_panicked() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    let dir = temp_dir("corrupt");
    train_vae::<CpuAutodiff>(&dir, micro(1), Stop::Steps(1), false, &device, false).expect("trains");
    std::fs::write(Checkpoint::of_run(&dir).dir.join("model.mpk"), b"garbage").expect("write");
    let e = train_vae::<CpuAutodiff>(&dir, micro(2), Stop::Steps(2), true, &device, false).expect_err("corrupt");
    assert!(e.to_string().contains("model.mpk: cannot load"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_schedule_warms_up_then_decays_to_its_floor() {
    let s = LrSchedule { peak: 1e-3, warmup: 10, total: 110, floor: 0.1 };
    assert!((s.at(0) - 1e-4).abs() < 1e-12);
    assert!((s.at(9) - 1e-3).abs() < 1e-12);
    assert!((s.at(60) - 1e-3 * (0.1 + 0.9 * 0.5)).abs() < 1e-9, "half way down the cosine");
    assert!((s.at(110) - 1e-4).abs() < 1e-12 && (s.at(500) - 1e-4).abs() < 1e-12);
    assert!((10..110).all(|i| s.at(i + 1) <= s.at(i)));
}

#[test]
fn trains_on_a_dataset_folder_with_native_aspect_ratios() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    let (data, run) = (temp_dir("folder-data"), temp_dir("folder-run"));
    // Two clips of different shapes: 17 frames 96×40 and one 40×64 image.
    for (i, (w, h, frames)) in [(96, 40, 17), (40, 64, 1)].into_iter().enumerate() {
        let scene = worldsim_scenes::random::random_scene(5, i as u64, &Default::default())
            .with_overrides(Some((w, h)), Some(frames), None)
            .expect("valid");
        worldsim_scenes::dataset::write_clip(&data.join(format!("clip_{i}")), &worldsim_scenes::Clip::render(&scene))
            .expect("writes");
    }
    let config = VaeTrainConfig { data: Some(data.clone()), ..micro(2) };
    let clips: Vec<Vec<worldsim_scenes::Frame>> = (0..2)
        .map(|i| worldsim_scenes::dataset::read_clip(&data.join(format!("clip_{i}"))).expect("valid").frames)
        .collect();
    for i in 0..20 {
        let s = worldsim_model::vae::train::dataset_sample(&config, &clips, i).clip;
        assert!(
            s.width.is_multiple_of(8) && s.height.is_multiple_of(8) && (s.frames - 1).is_multiple_of(4),
            "{}×{}×{}",
            s.frames,
            s.height,
            s.width
        );
        assert!(s.width * s.height <= 16 * 16 * 2, "{}×{} exceeds the training area", s.width, s.height);
        assert_ne!(s.width, s.height, "aspect ratio lost: {}×{}", s.width, s.height);
    }
    let summary =
        train_vae::<CpuAutodiff>(&run, config, Stop::Steps(2), false, &device, false).expect("trains on the folder");
    assert_eq!(summary.step, 2);
    let missing = VaeTrainConfig { data: Some(data.join("nope")), ..micro(2) };
    assert!(
        train_vae::<CpuAutodiff>(&temp_dir("folder-run2"), missing, Stop::Steps(1), false, &device, false).is_err()
    );
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&run);
}

#[test]
fn same_shape_steps_share_one_size_and_vary_between_steps() {
    use worldsim_model::vae::train::training_sample;
    let config = VaeTrainConfig {
        batch: 4,
        same_shape: true,
        areas: vec![16 * 16, 24 * 24, 32 * 32],
        max_k: 2,
        ..VaeTrainConfig::tiny(10)
    };
    let shape = |i: u64| {
        let s = training_sample(&config, i).clip;
        (s.frames, s.height, s.width)
    };
    let steps: Vec<_> = (0..8u64).map(|step| (0..4).map(|k| shape(step * 4 + k)).collect::<Vec<_>>()).collect();
    for clips in &steps {
        assert!(clips.iter().all(|s| *s == clips[0]), "one step mixes shapes: {clips:?}");
    }
    let distinct: std::collections::BTreeSet<_> = steps.iter().map(|c| c[0]).collect();
    assert!(distinct.len() >= 3, "steps should vary in shape: {distinct:?}");
    // The scenes themselves still differ within a step.
    assert_ne!(training_sample(&config, 0).clip.data, training_sample(&config, 1).clip.data);
}

#[test]
fn init_from_starts_at_the_source_runs_ema_weights() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    let (source, tuned) = (temp_dir("init-source"), temp_dir("init-tuned"));
    train_vae::<CpuAutodiff>(&source, micro(2), Stop::Steps(2), false, &device, false).expect("trains");
    let ema = Checkpoint::of_run(&source)
        .load_ema(micro(2).model.init::<worldsim_model::Cpu>(&device), &device)
        .expect("ema loads");
    let config = VaeTrainConfig { init_from: Some(source.clone()), ..micro(1) };
    // Zero learning rate: the fine-tune's weights are exactly where it started.
    let config = VaeTrainConfig { schedule: LrSchedule { peak: 0.0, ..config.schedule }, ..config };
    train_vae::<CpuAutodiff>(&tuned, config, Stop::Steps(1), false, &device, false).expect("fine-tunes");
    let (want, got) = (values(&ema), load(&tuned, &micro(1)));
    let diff = want.iter().zip(&got).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(diff < 1e-6, "fine-tune did not start from the source EMA (max diff {diff})");

    let other = VaeTrainConfig {
        model: VaeConfig::new(4, vec![8, 16], vec![true], vec![true]).with_groups(4),
        init_from: Some(source.clone()),
        ..micro(1)
    };
    let err = train_vae::<CpuAutodiff>(&temp_dir("init-other"), other, Stop::Steps(1), false, &device, false)
        .expect_err("another architecture is refused");
    assert!(err.to_string().contains("another architecture"), "{err}");
    let _ = std::fs::remove_dir_all(&source);
    let _ = std::fs::remove_dir_all(&tuned);
}

#[test]
fn decoder_only_training_keeps_the_encoder_bit_identical() {
    use worldsim_model::Cpu;
    use worldsim_model::vae::LatentStats;
    use worldsim_model::vae::train::training_sample;
    use worldsim_model::vae::weights::{VAE_FORMAT, VaeMeta, load_vae, save_vae};
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    let (source, tuned) = (temp_dir("decoder-source"), temp_dir("decoder-tuned"));
    // The source is an exported VAE folder, what `--init-from assets/models/tiny` names.
    let model = micro(1).model;
    let meta = VaeMeta {
        format: VAE_FORMAT.into(),
        config: model.clone(),
        latent_stats: LatentStats::identity(model.latent_channels),
        trained: serde_json::Value::Null,
    };
    save_vae(&source, &model.init::<Cpu>(&device), &meta).expect("saves the source");
    let before = load_vae::<Cpu>(&source, &device).expect("the source loads").model;
    // The fine-tune also grows the decoder by a block per level (the shipped model's recipe) and
    // adds two latent channels, which train with it.
    let grown = VaeConfig { latent_channels: 6, ..model.clone().with_decoder_res_blocks(Some(vec![2, 1])) };
    let config =
        VaeTrainConfig { model: grown.clone(), init_from: Some(source.clone()), decoder_only: true, ..micro(3) };
    // Step 0 (the grown model as it starts), then three steps resumed from it.
    train_vae::<CpuAutodiff>(&tuned, config.clone(), Stop::Steps(0), false, &device, false).expect("starts");
    let ckpt = Checkpoint::of_run(&tuned);
    let start = ckpt.load_live(grown.init::<Cpu>(&device), &device).expect("step 0 loads");
    train_vae::<CpuAutodiff>(&tuned, config, Stop::Steps(3), true, &device, false).expect("trains the decoder");

    let x = training_sample(&micro(1), 7).clip.tensor::<Cpu>(&device);
    let want = before.encode(&model, x.clone()).expect("encodes");
    let flat = |t: &Tensor<Cpu, 5>| t.to_data().to_vec::<f32>().expect("f32");
    let max_change = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
    let new_at_start = start.encode(&grown, x.clone()).expect("encodes").mean.narrow(1, 4, 2);
    let [n, _, t, h, w] = want.mean.dims();
    let with_new = |fill: f32| Tensor::cat(vec![want.mean.clone(), Tensor::full([n, 2, t, h, w], fill, &device)], 1);
    for (name, after) in [
        ("EMA", ckpt.load_ema(grown.init::<Cpu>(&device), &device).expect("EMA loads")),
        ("live", ckpt.load_live(grown.init::<Cpu>(&device), &device).expect("live weights load")),
    ] {
        let got = after.encode(&grown, x.clone()).expect("encodes");
        for (what, a, b) in [("mean", &want.mean, &got.mean), ("log-variance", &want.log_var, &got.log_var)] {
            assert!(flat(a) == flat(&b.clone().narrow(1, 0, 4)), "the {name} encoder's latent {what} moved");
        }
        let trained = max_change(&flat(&new_at_start), &flat(&got.mean.narrow(1, 4, 2)));
        assert!(trained > 1e-5, "the {name} encoder's new latent channels did not train ({trained})");
        let old = flat(&before.decode(&model, want.mean.clone()).expect("decodes"));
        let moved = max_change(&old, &flat(&after.decode(&grown, with_new(0.0)).expect("decodes")));
        assert!(moved > 1e-4, "the {name} decoder did not train (max change {moved})");
        let decode = |fill| flat(&after.decode(&grown, with_new(fill)).expect("decodes"));
        let reads = max_change(&decode(0.0), &decode(1.0));
        assert!(reads > 1e-6, "the {name} decoder does not read the new latent channels ({reads})");
    }

    let narrower = VaeTrainConfig {
        model: VaeConfig { channels: model.channels.iter().map(|c| c * 2).collect(), ..model.clone() },
        init_from: Some(source.clone()),
        ..micro(1)
    };
    let err = train_vae::<CpuAutodiff>(&temp_dir("decoder-wider"), narrower, Stop::Steps(1), false, &device, false)
        .expect_err("only the decoder's depth may differ from the source");
    assert!(err.to_string().contains("another architecture"), "{err}");

    let alone = VaeTrainConfig { decoder_only: true, ..micro(1) };
    let err = train_vae::<CpuAutodiff>(&temp_dir("decoder-alone"), alone, Stop::Steps(1), false, &device, false)
        .expect_err("a decoder-only run needs an encoder to keep");
    assert!(err.to_string().contains("--init-from"), "{err}");
    let _ = std::fs::remove_dir_all(&source);
    let _ = std::fs::remove_dir_all(&tuned);
}

#[test]
fn the_ema_warms_up_then_keeps_its_decay() {
    use worldsim_model::train::Ema;
    let device = Default::default();
    let zeros = burn::nn::LinearConfig::new(2, 2)
        .with_initializer(burn::nn::Initializer::Zeros)
        .init::<worldsim_model::Cpu>(&device);
    // The same parameters (same ids) set to one.
    struct Ones;
    impl<Bk: Backend> burn::module::ModuleMapper<Bk> for Ones {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<Bk, D>>) -> Param<Tensor<Bk, D>> {
            let (id, t, mapper) = param.consume();
            Param::from_mapped_value(id, t.ones_like(), mapper)
        }
    }
    let ones = zeros.clone().map(&mut Ones);
    let mut ema = Ema::new(zeros, 0.999);
    ema.update(&ones);
    // First update: decay min(0.999, 1/10) = 0.1, so the average is 90 % of the new weights.
    let first = values(&ema.module);
    assert!(first.iter().all(|v| (v - 0.9).abs() < 1e-6), "{first:?}");
    for _ in 0..10_000 {
        ema.update(&ones);
    }
    assert!((ema.current_decay() - 0.999).abs() < 1e-12);
    assert!(values(&ema.module).iter().all(|v| (v - 1.0).abs() < 1e-4));
}

#[test]
fn the_fused_adamw_follows_burns_adamw() {
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::grad_clipping::GradientClippingConfig;
    use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
    use burn::tensor::Distribution;
    use worldsim_model::train::FusedAdamWConfig;

    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    CpuAutodiff::seed(&device, 7);
    // 200×100 weights: more than one task's chunk of the fused kernel.
    let start: Linear<CpuAutodiff> = LinearConfig::new(200, 100).init(&device);
    let x = Tensor::<CpuAutodiff, 2>::random([16, 200], Distribution::Normal(0.0, 1.0), &device);
    // Parameters are initialised lazily: read them once so every clone starts from the same.
    let initial = values(&start);
    let train = |mut optim: Box<dyn FnMut(Linear<CpuAutodiff>, GradientsParams) -> Linear<CpuAutodiff>>| {
        let mut model = start.clone();
        for _ in 0..5 {
            let loss = model.forward(x.clone()).powi_scalar(2).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim(model, grads);
        }
        values(&model)
    };
    // A clipping norm that some parameters' gradients exceed (the weights') and some not.
    let (decay, clip) = (0.05, 0.5);
    let mut fused = FusedAdamWConfig::new().with_weight_decay(decay).with_max_grad_norm(Some(clip)).init();
    let mut burns =
        AdamWConfig::new().with_weight_decay(decay).with_grad_clipping(Some(GradientClippingConfig::Norm(clip))).init();
    let ours = train(Box::new(move |m, g| fused.step(3e-2, m, g)));
    let theirs = train(Box::new(move |m, g| burns.step(3e-2, m, g)));
    let moved = ours.iter().zip(&initial).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(moved > 0.05, "five steps at lr 0.03 move some weight by more than 0.05 (moved {moved})");
    let diff = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(diff < 1e-5, "fused AdamW differs from burn's by {diff}");
}

#[test]
fn object_masks_mark_the_pixels_of_objects_in_each_frame() {
    use worldsim_model::vae::train::training_sample;
    let plain = micro(1);
    let weighted = VaeTrainConfig { object_weight: 4.0, ..micro(1) };
    assert!(training_sample(&plain, 0).focus.is_empty(), "no mask when every pixel weighs alike");
    let mut marked_clips = 0;
    for i in 0..12 {
        let s = training_sample(&weighted, i);
        let c = &s.clip;
        assert_eq!(s.focus.len(), c.frames * c.height * c.width);
        assert!(s.focus.iter().all(|&v| v == 0.0 || v == 1.0));
        assert_eq!(c.data, training_sample(&plain, i).clip.data, "the mask does not change the clip");
        let marked = s.focus.iter().filter(|&&v| v == 1.0).count();
        assert!(marked < s.focus.len() / 2, "objects are a small part of a frame: {marked} of {}", s.focus.len());
        marked_clips += usize::from(marked > 0);
    }
    assert!(marked_clips >= 4, "most random scenes hold an object; {marked_clips} of 12 marked any");
}

#[test]
fn object_weighting_of_the_vae_loss_is_a_weighted_mean() {
    use worldsim_model::vae::train::{training_sample, vae_loss};
    let device = Default::default();
    let config = micro(1);
    let model = config.model.init::<worldsim_model::Cpu>(&device);
    let sample = training_sample(&VaeTrainConfig { object_weight: 1.0, ..config.clone() }, 3);
    let c = &sample.clip;
    let x = c.tensor::<worldsim_model::Cpu>(&device);
    let at = |w: f32, focus: Option<Tensor<worldsim_model::Cpu, 5>>| {
        let cfg = VaeTrainConfig { object_weight: w, ..config.clone() };
        f64::from(vae_loss(&model, &cfg, x.clone(), focus, 5).1.into_scalar())
    };
    let plain = at(0.0, None);
    // Every pixel marked: uniform weights, the same mean.
    let all = Tensor::ones([1, 1, c.frames, c.height, c.width], &device);
    assert!((at(3.0, Some(all)) - plain).abs() < 1e-5 * plain, "uniform weights keep the mean");
    // A mask of m of n pixels: L(w) = (S + w·E) / (n + w·m) per pixel, with S the plain sum
    // and E the masked pixels' sum. Solve E from w = 3, then predict w = 10.
    let n = (c.frames * c.height * c.width) as f64;
    let mask: Vec<f32> = (0..n as usize).map(|i| f32::from(i % 7 == 2)).collect();
    let m = mask.iter().map(|&v| f64::from(v)).sum::<f64>();
    let focus = Tensor::<worldsim_model::Cpu, 1>::from_floats(mask.as_slice(), &device)
        .reshape([1, 1, c.frames, c.height, c.width]);
    let (l3, l10) = (at(3.0, Some(focus.clone())), at(10.0, Some(focus)));
    let e = (l3 * (n + 3.0 * m) - n * plain) / 3.0;
    let predicted = (n * plain + 10.0 * e) / (n + 10.0 * m);
    assert!((l10 - predicted).abs() < 1e-4 * plain, "weight 10: {l10}, a weighted mean predicts {predicted}");
    assert!((l3 - plain).abs() > 1e-4 * plain, "weighted pixels move the mean: {l3} vs {plain}");
}

#[test]
fn an_object_weighted_run_trains_and_records_its_weight() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    let run = temp_dir("object-weighted");
    let config = VaeTrainConfig { object_weight: 8.0, ..micro(2) };
    let summary = train_vae::<CpuAutodiff>(&run, config, Stop::Steps(2), false, &device, false).expect("trains");
    assert_eq!(summary.step, 2);
    assert!(summary.last_loss.is_finite());
    let state: worldsim_model::train::checkpoint::RunState<VaeTrainConfig> =
        Checkpoint::of_run(&run).state().expect("a checkpoint");
    assert_eq!(state.config.object_weight, 8.0);
    let _ = std::fs::remove_dir_all(&run);
}
