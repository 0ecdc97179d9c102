//! `worldsim vae roundtrip | eval | export`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::prelude::Backend;
use clap::Subcommand;
use worldsim_model::Cpu;
use worldsim_model::quality::{masked_squared_error, psnr, psnr_of_parts, ssim};
use worldsim_model::train::Checkpoint;
use worldsim_model::train::checkpoint::RunState;
use worldsim_model::train::focus::object_focus;
use worldsim_model::vae::train::{VaeTrainConfig, VideoSample, training_sample};
use worldsim_model::vae::weights::{
    META, VAE_FORMAT, VaeMeta, load_vae, load_vae_meta, measure_latent_stats, save_vae,
};
use worldsim_model::vae::{VaeConfig, VideoVae};
use worldsim_scenes::media::{read_video, write_video};
use worldsim_scenes::{Clip, Frame, Scene};

use worldsim_model::weights::shipped_model_dir;

use super::device::DeviceKind;
use crate::with_backend;

/// `worldsim vae …`
#[derive(Subcommand)]
pub enum VaeCommand {
    /// Encode and decode a video; print PSNR and SSIM per frame and their mean.
    Roundtrip {
        /// A .gif, a .png, a folder of PNGs, a .npy (uint8 [frames, height, width, 3]) or a
        /// scene file (.ron).
        #[arg(long = "in")]
        input: PathBuf,
        /// Where to write the reconstruction (.gif, .png, folder/, .npy).
        #[arg(long)]
        out: String,
        /// The VAE folder (default: the shipped tiny model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// For a scene input: frame size as WIDTHxHEIGHT.
        #[arg(long, value_parser = super::parse_size)]
        size: Option<(u32, u32)>,
        /// For a scene input: number of frames.
        #[arg(long)]
        frames: Option<u32>,
        /// For a scene input: scenery seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Where to run: cpu, or wgpu / cuda when compiled with that feature.
        #[arg(long, default_value = "cpu")]
        device: DeviceKind,
    },
    /// Measure reconstruction quality on held-out clips of the world: mean PSNR and SSIM for
    /// videos and images at 64×64, 2:1 (128×64) and 1:2 (64×128), and the PSNR of the pixels
    /// of objects (balls, boxes, players: what prompts name and actions move).
    Eval {
        /// The VAE folder (default: the shipped tiny model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Clips per case.
        #[arg(long, default_value_t = 16)]
        clips: u64,
        /// Seed of the held-out scenes (training uses other seeds).
        #[arg(long, default_value_t = 9001)]
        seed: u64,
        /// Also draw a picture (.png) of the first 4 held-out 64×64 videos: inputs at frames
        /// 0, 4, 8 (left) beside their reconstructions (right).
        #[arg(long)]
        picture: Option<String>,
        /// Where to run: cpu, or wgpu / cuda when compiled with that feature.
        #[arg(long, default_value = "cpu")]
        device: DeviceKind,
    },
    /// Export a training run's EMA weights (f16) with latent statistics measured on data, and
    /// its loss curve (`loss.png`).
    Export {
        /// The run folder (with checkpoint/).
        #[arg(long, default_value = "runs/vae-tiny")]
        run: PathBuf,
        /// The VAE folder to write.
        #[arg(long, default_value = "assets/models/tiny")]
        out: PathBuf,
        /// Clips to measure the latent statistics on.
        #[arg(long, default_value_t = 64)]
        clips: u64,
    },
}

/// How well a VAE reconstructs one case of held-out clips.
pub struct CaseScore {
    /// Mean PSNR of the frames (dB).
    pub psnr: f64,
    /// Mean SSIM of the frames.
    pub ssim: f64,
    /// PSNR of the pixels inside the boxes of balls, boxes and players, pooled over every frame
    /// of the case (`None` when no clip held an object).
    pub objects_psnr: Option<f64>,
}

/// Scores `clips` held-out random scenes rendered at `size` with `frames` frames.
pub fn eval_case<B: Backend>(
    vae: &VideoVae<B>,
    config: &VaeConfig,
    seed: u64,
    clips: u64,
    size: (u32, u32),
    frames: u32,
) -> Result<CaseScore> {
    let scenes = worldsim_scenes::random::RandomSceneConfig::default();
    let (mut p_sum, mut s_sum, mut n) = (0.0, 0.0, 0.0);
    let (mut object_err, mut object_count) = (0.0, 0);
    for i in 0..clips {
        let scene =
            worldsim_scenes::random::random_scene(seed, i, &scenes).with_overrides(Some(size), Some(frames), None)?;
        let clip = Clip::render(&scene);
        let recon = vae.roundtrip(config, &clip.frames, &Default::default())?;
        let pixels = (size.0 * size.1) as usize;
        let focus = object_focus(&clip.truth, clip.frames.len(), (size.1 as usize, size.0 as usize), 1, 1);
        for ((a, b), mask) in clip.frames.iter().zip(&recon).zip(focus.chunks_exact(pixels)) {
            p_sum += psnr(a, b).min(99.0);
            s_sum += ssim(a, b);
            n += 1.0;
            let (err, count) = masked_squared_error(a, b, mask);
            object_err += err;
            object_count += count;
        }
    }
    Ok(CaseScore { psnr: p_sum / n, ssim: s_sum / n, objects_psnr: psnr_of_parts(object_err, object_count) })
}

fn roundtrip_command<B: Backend>(
    input: PathBuf,
    out: String,
    model: Option<PathBuf>,
    size: Option<(u32, u32)>,
    frames: Option<u32>,
    seed: Option<u64>,
) -> Result<()> {
    let dir = model.unwrap_or_else(shipped_model_dir);
    let vae = load_vae::<B>(&dir, &Default::default())?;
    let (video, fps) = if input.extension().is_some_and(|e| e == "ron") {
        let scene = Scene::load(&input)?
            .with_overrides(size, frames, seed)
            .map_err(|e| e.in_file(&input.display().to_string()))?;
        (Clip::render(&scene).frames, scene.fps)
    } else {
        if size.is_some() || frames.is_some() || seed.is_some() {
            bail!("--size, --frames and --seed apply to scene inputs only");
        }
        (read_video(&input)?, 12)
    };
    let start = Instant::now();
    let recon = vae
        .model
        .roundtrip(&vae.meta.config, &video, &Default::default())
        .with_context(|| format!("{}", input.display()))?;
    let secs = start.elapsed().as_secs_f64();
    write_video(&out, &recon, fps)?;
    let (mut p_sum, mut s_sum) = (0.0, 0.0);
    println!("frame   PSNR (dB)   SSIM");
    for (i, (a, b)) in video.iter().zip(&recon).enumerate() {
        let (p, s) = (psnr(a, b).min(99.0), ssim(a, b));
        p_sum += p;
        s_sum += s;
        println!("{i:>5}   {p:>9.2}   {s:.4}");
    }
    let n = video.len() as f64;
    println!("mean    {:>9.2}   {:.4}", p_sum / n, s_sum / n);
    println!(
        "wrote {out} ({} frames {}×{}; encode+decode {:.2} s)",
        recon.len(),
        video[0].width,
        video[0].height,
        secs
    );
    Ok(())
}

/// Side by side: for each of `rows` held-out 64×64 videos, frames 0, 4, 8 of the input, a gap,
/// then the same frames of the reconstruction; every pixel drawn 2×2.
fn picture<B: Backend>(vae: &VideoVae<B>, config: &VaeConfig, seed: u64, rows: u64) -> Result<Frame> {
    const SIDE: u32 = 64;
    const SCALE: u32 = 2;
    const GAP: u32 = 8;
    const SHOWN: [usize; 3] = [0, 4, 8];
    let cell = SIDE * SCALE;
    let (width, height) = (6 * cell + GAP, rows as u32 * cell);
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    let scenes = worldsim_scenes::random::RandomSceneConfig::default();
    for row in 0..rows {
        let scene = worldsim_scenes::random::random_scene(seed, row, &scenes).with_overrides(
            Some((SIDE, SIDE)),
            Some(9),
            None,
        )?;
        let video = Clip::render(&scene).frames;
        let recon = vae.roundtrip(config, &video, &Default::default())?;
        for (side, frames) in [(0, &video), (1, &recon)] {
            for (col, &f) in SHOWN.iter().enumerate() {
                let x0 = side * (3 * cell + GAP) + col as u32 * cell;
                for y in 0..cell {
                    for x in 0..cell {
                        let src = (((y / SCALE) * SIDE + x / SCALE) * 3) as usize;
                        let dst = (((row as u32 * cell + y) * width + x0 + x) * 3) as usize;
                        rgb[dst..dst + 3].copy_from_slice(&frames[f].rgb[src..src + 3]);
                    }
                }
            }
        }
    }
    Ok(Frame { width, height, rgb })
}

fn eval_command<B: Backend>(model: Option<PathBuf>, clips: u64, seed: u64, picture_out: Option<String>) -> Result<()> {
    let dir = model.unwrap_or_else(shipped_model_dir);
    let vae = load_vae::<B>(&dir, &Default::default())?;
    println!("{:<22} {:>6} {:>10} {:>8} {:>14}", "case", "clips", "PSNR (dB)", "SSIM", "objects (dB)");
    for (name, w, h, frames) in [
        ("64x64 video (9 fr)", 64, 64, 9),
        ("64x64 image", 64, 64, 1),
        ("128x64 video (2:1)", 128, 64, 9),
        ("64x128 video (1:2)", 64, 128, 9),
    ] {
        let score = eval_case(&vae.model, &vae.meta.config, seed, clips, (w, h), frames)?;
        let objects = score.objects_psnr.map_or_else(|| "—".to_string(), |p| format!("{p:.2}"));
        println!("{name:<22} {clips:>6} {:>10.2} {:>8.4} {objects:>14}", score.psnr, score.ssim);
    }
    if let Some(out) = picture_out {
        write_video(&out, &[picture(&vae.model, &vae.meta.config, seed, 4)?], 1)?;
        println!("wrote {out}");
    }
    Ok(())
}

/// Runs a `vae` sub-command.
pub fn run(command: VaeCommand) -> Result<()> {
    match command {
        VaeCommand::Roundtrip { input, out, model, size, frames, seed, device } => {
            with_backend!(device, |B| roundtrip_command::<B>(input, out, model, size, frames, seed))
        }
        VaeCommand::Eval { model, clips, seed, picture, device } => {
            with_backend!(device, |B| eval_command::<B>(model, clips, seed, picture))
        }
        VaeCommand::Export { run, out, clips } => {
            let device = Default::default();
            let ckpt = Checkpoint::of_run(&run);
            let state: RunState<VaeTrainConfig> = ckpt.state()?;
            let config = state.config.model.clone();
            let ema: VideoVae<Cpu> = config.init(&device);
            let ema = ckpt.load_ema(ema, &device)?;
            // Statistics on clips the run never trained on: indices far past its last step.
            let measure = || {
                let samples: Vec<VideoSample> =
                    (0..clips).map(|i| training_sample(&state.config, 1_000_000_000 + i).clip).collect();
                measure_latent_stats(&ema, &config, &samples, &device)
            };
            // A decoder-only run kept its source's latent channels: keep the statistics a DiT
            // built on that VAE normalises with, bit for bit, and measure only new channels.
            let kept = state.config.init_from.as_ref().filter(|d| state.config.decoder_only && d.join(META).is_file());
            let (stats, encoder_from) = match kept {
                Some(init) => {
                    let source = load_vae::<Cpu>(init, &device)?.meta;
                    let mut stats = source.latent_stats;
                    let own = stats.mean.len();
                    println!("decoder-only run: latent statistics of {own} channels kept from {}", init.display());
                    if config.latent_channels > own {
                        let measured = measure();
                        stats.mean.extend_from_slice(&measured.mean[own..]);
                        stats.std.extend_from_slice(&measured.std[own..]);
                        println!("measured the {} new channels", config.latent_channels - own);
                    }
                    (stats, source.trained)
                }
                None => (measure(), serde_json::Value::Null),
            };
            // A fine-tune of an exported VAE (encoder included) keeps the story of its start.
            let init_trained = match &state.config.init_from {
                Some(init) if !state.config.decoder_only && init.join(META).is_file() => load_vae_meta(init)?.trained,
                _ => serde_json::Value::Null,
            };
            let meta = VaeMeta {
                format: VAE_FORMAT.into(),
                config,
                latent_stats: stats,
                trained: serde_json::json!({
                    "run": run.display().to_string(),
                    "steps": state.step,
                    "seed": state.seed,
                    "minutes": state.elapsed_s / 60.0,
                    "batch": state.config.batch,
                    "init_from": state.config.init_from.as_ref().map(|p| p.display().to_string()),
                    "decoder_only": state.config.decoder_only,
                    "object_weight": state.config.object_weight,
                    // The provenance of the exported VAE a full fine-tune started from.
                    "init_trained": init_trained,
                    // The provenance of the kept encoder (and of the decoder this run started from).
                    "encoder_trained": encoder_from,
                    "weights": "EMA, f16",
                }),
            };
            save_vae(&out, &ema, &meta)?;
            let lines = worldsim_model::train::MetricsLog::read(&run.join("metrics.jsonl"));
            if let Err(e) = worldsim_model::train::plot::plot_losses(
                &lines,
                "tiny VAE training loss",
                "reconstruction",
                &out.join("loss.png"),
            ) {
                eprintln!("warning: no loss plot: {e}");
            }
            println!(
                "exported step {} of {} to {} (latent std {:?})",
                state.step,
                run.display(),
                out.display(),
                meta.latent_stats.std
            );
            Ok(())
        }
    }
}
