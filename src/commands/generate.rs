//! `worldsim generate`, `worldsim dit export` and `worldsim prompt expand`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::prelude::Backend;
use clap::Subcommand;
use worldsim_model::Cpu;
use worldsim_model::diffusion::SamplerKind;
use worldsim_model::dit::train::{DitTrainConfig, init_denoiser};
use worldsim_model::dit::weights::{
    DIT_FORMAT, DitMeta, META as DIT_META, load_denoiser, load_dit_meta, save_denoiser,
};
use worldsim_model::generate::{GenerateRequest, TEXT_TO_VIDEO_GUIDANCE, generate};
use worldsim_model::prompting::SamplingSettings;
use worldsim_model::train::Checkpoint;
use worldsim_model::train::checkpoint::RunState;
use worldsim_model::vae::weights::load_vae;
use worldsim_scenes::media::write_video;

use super::device::DeviceKind;
use crate::with_backend;
use worldsim_model::weights::shipped_model_dir;

/// Arguments of `worldsim generate`.
#[derive(clap::Args)]
pub struct GenerateArgs {
    /// What to show, e.g. "red ball bouncing on snow at night".
    #[arg(long)]
    prompt: String,
    /// Frames: 1 + 4k (1 makes an image).
    #[arg(long, default_value_t = 9)]
    frames: usize,
    /// Frame size WIDTHxHEIGHT (multiples of 8).
    #[arg(long, value_parser = super::parse_size, default_value = "64x64")]
    size: (u32, u32),
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Output: .gif, .png (one frame, or frames side by side), folder/, .npy.
    #[arg(long)]
    out: String,
    /// The model folder (default: the shipped tiny model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Where to run: cpu, or wgpu / cuda when compiled with that feature.
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
}

/// How to sample, shared by `generate` and the prompting verbs.
#[derive(clap::Args)]
pub struct SamplingArgs {
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sampler steps (from pure noise; SDEdit takes the steps below its strength).
    #[arg(long, default_value_t = 30)]
    pub steps: usize,
    /// Classifier-free guidance scale (1: none; default 9 for `generate`, 3 for `edit`, 2 for
    /// the other prompting verbs: each chosen with its evaluation, `eval dit` and `eval
    /// prompting`).
    #[arg(long)]
    pub guidance: Option<f32>,
    /// ODE solver: euler or heun.
    #[arg(long, default_value = "euler")]
    pub sampler: SamplerKind,
}

impl SamplingArgs {
    /// The settings of a prompting task for `prompt`, guided by `--guidance` or else by the
    /// task's own default.
    pub fn settings(&self, prompt: &str, default_guidance: f32) -> SamplingSettings {
        SamplingSettings {
            prompt: prompt.to_string(),
            seed: self.seed,
            steps: self.steps,
            guidance: self.guidance.unwrap_or(default_guidance),
            sampler: self.sampler,
        }
    }
}

/// `worldsim dit …`
#[derive(Subcommand)]
pub enum DitCommand {
    /// Export a DiT training run's EMA weights (f16) into a model folder, next to its VAE.
    Export {
        /// The run folder (with checkpoint/).
        #[arg(long, default_value = "runs/dit-tiny")]
        run: PathBuf,
        /// The model folder to write into.
        #[arg(long, default_value = "assets/models/tiny")]
        out: PathBuf,
        /// Which weights: `ema` (the average) or `live` (the last step's).
        #[arg(long, default_value = "ema")]
        weights: String,
    },
    /// Draw a grid of samples: 8 prompts (rows) in 3 aspect ratios (1:1, 2:1, 1:2), frames 0,
    /// 4 and 8 of each 9-frame clip.
    Grid {
        /// Output PNG.
        #[arg(long)]
        out: String,
        /// The model folder (default: the shipped tiny model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Sampler steps.
        #[arg(long, default_value_t = 30)]
        steps: usize,
        /// Classifier-free guidance scale (default: text-to-video's, 9).
        #[arg(long, default_value_t = TEXT_TO_VIDEO_GUIDANCE)]
        guidance: f32,
        /// Seed of the noise.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

/// The prompts of `worldsim dit grid` (and of the model card).
pub const GRID_PROMPTS: [&str; 8] = [
    "red ball bouncing on grass",
    "blue box sliding on snow",
    "yellow ball rolling on the beach at dusk",
    "green player walking right on grass",
    "purple ball falling on water at night",
    "two orange balls bouncing on sand",
    "white box falling on grass at night",
    "pink player jumping on snow at dusk",
];

/// `worldsim prompt …`
#[derive(Subcommand)]
pub enum PromptCommand {
    /// Expand a short prompt into the descriptive caption the model was trained on.
    Expand {
        /// The short prompt.
        prompt: String,
        /// Frame size WIDTHxHEIGHT (it changes what is in view).
        #[arg(long, value_parser = super::parse_size, default_value = "64x64")]
        size: (u32, u32),
        /// Frames of the clip the caption describes.
        #[arg(long, default_value_t = 9)]
        frames: u32,
        /// Seed of what the prompt leaves open.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

fn generate_on<B: Backend>(args: GenerateArgs) -> Result<()> {
    let device = Default::default();
    let dir = args.model.unwrap_or_else(shipped_model_dir);
    let vae = load_vae::<B>(&dir, &device)?;
    let dit = load_denoiser::<B>(&dir, &device)?;
    let req = GenerateRequest {
        prompt: args.prompt,
        frames: args.frames,
        width: args.size.0 as usize,
        height: args.size.1 as usize,
        seed: args.sampling.seed,
        steps: args.sampling.steps,
        guidance: args.sampling.guidance.unwrap_or(TEXT_TO_VIDEO_GUIDANCE),
        sampler: args.sampling.sampler,
    };
    let start = std::time::Instant::now();
    let out = generate(&vae, &dit, &req, &device)?;
    println!("caption: {}", out.caption);
    if !out.unknown.is_empty() {
        println!("unknown words (the model ignores them): {}", out.unknown.join(", "));
    }
    write_video(&args.out, &out.frames, 12)?;
    println!(
        "wrote {} ({} frames {}×{}, {} steps, {:.1} s)",
        args.out,
        out.frames.len(),
        req.width,
        req.height,
        req.steps,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs `worldsim generate`.
pub fn run_generate(args: GenerateArgs) -> Result<()> {
    let device = args.device;
    with_backend!(device, |B| generate_on::<B>(args))
}

/// Runs a `dit` sub-command.
pub fn run_dit(command: DitCommand) -> Result<()> {
    match command {
        DitCommand::Export { run, out, weights } => {
            let device = Default::default();
            let ckpt = Checkpoint::of_run(&run);
            let state: RunState<DitTrainConfig> = ckpt.state()?;
            let config = &state.config;
            let fresh = init_denoiser::<Cpu>(config, &device);
            let ema = match weights.as_str() {
                "ema" => ckpt.load_ema(fresh, &device)?,
                "live" => ckpt.load_live(fresh, &device)?,
                other => bail!("unknown --weights {other:?}; use ema or live"),
            };
            // A fine-tune of an exported DiT keeps the story of its start.
            let init_trained = match &config.init_from {
                Some(init) if init.join(DIT_META).is_file() => load_dit_meta(init)?.trained,
                _ => serde_json::Value::Null,
            };
            let meta = DitMeta {
                format: DIT_FORMAT.into(),
                model: config.model.clone(),
                text: config.text.clone(),
                tokenizer: config.tokenizer.clone(),
                trained: serde_json::json!({
                    "run": run.display().to_string(),
                    "steps": state.step,
                    "seed": state.seed,
                    "minutes": state.elapsed_s / 60.0,
                    "batch": config.batch,
                    "vae": config.vae.display().to_string(),
                    "init_from": config.init_from.as_ref().map(|p| p.display().to_string()),
                    "object_weight": config.object_weight,
                    "given_share": config.noise.given_share,
                    // The provenance of the exported DiT this run started from.
                    "init_trained": init_trained,
                    "weights": format!("{weights}, f16"),
                }),
            };
            save_denoiser(&out, &ema, &meta)?;
            let lines = worldsim_model::train::MetricsLog::read(&run.join("metrics.jsonl"));
            if let Err(e) = worldsim_model::train::plot::plot_losses(
                &lines,
                "tiny DiT training loss",
                "smoothed",
                &out.join("dit_loss.png"),
            ) {
                eprintln!("warning: no loss plot: {e}");
            }
            println!("exported step {} of {} to {}", state.step, run.display(), out.display());
            Ok(())
        }
        DitCommand::Grid { out, model, steps, guidance, seed } => {
            write_video(&out, &[grid(model, steps, guidance, seed)?], 1)?;
            println!("wrote {out}");
            Ok(())
        }
    }
}

/// Rows of 9 cells (3 sizes × frames 0, 4, 8), each cell 100×100 with the frame centred.
fn grid(model: Option<PathBuf>, steps: usize, guidance: f32, seed: u64) -> Result<worldsim_scenes::Frame> {
    const CELL: u32 = 100;
    const GAP: u32 = 4;
    let device = Default::default();
    let dir = model.unwrap_or_else(shipped_model_dir);
    let vae = load_vae::<Cpu>(&dir, &device)?;
    let dit = load_denoiser::<Cpu>(&dir, &device)?;
    let sizes = [(64u32, 64u32), (96, 48), (48, 96)];
    let width = 9 * CELL + 2 * GAP;
    let height = GRID_PROMPTS.len() as u32 * CELL;
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    for (row, prompt) in GRID_PROMPTS.iter().enumerate() {
        for (k, (w, h)) in sizes.iter().enumerate() {
            let req = GenerateRequest {
                prompt: prompt.to_string(),
                frames: 9,
                width: *w as usize,
                height: *h as usize,
                seed,
                steps,
                guidance,
                sampler: SamplerKind::Euler,
            };
            let out = generate(&vae, &dit, &req, &device)?;
            for (j, f) in [0usize, 4, 8].iter().enumerate() {
                let frame = &out.frames[*f];
                let x0 = (k as u32 * 3 + j as u32) * CELL + k as u32 * GAP + (CELL - w) / 2;
                let y0 = row as u32 * CELL + (CELL - h) / 2;
                for y in 0..*h {
                    for x in 0..*w {
                        let src = ((y * w + x) * 3) as usize;
                        let dst = (((y0 + y) * width + x0 + x) * 3) as usize;
                        rgb[dst..dst + 3].copy_from_slice(&frame.rgb[src..src + 3]);
                    }
                }
            }
        }
        eprintln!("{}/{}: {prompt}", row + 1, GRID_PROMPTS.len());
    }
    Ok(worldsim_scenes::Frame { width, height, rgb })
}

/// Runs a `prompt` sub-command.
pub fn run_prompt(command: PromptCommand) -> Result<()> {
    match command {
        PromptCommand::Expand { prompt, size, frames, seed } => {
            if worldsim_scenes::vocabulary::words(&prompt).next().is_none() {
                bail!("the prompt {prompt:?} has no words; describe a scene, e.g. \"red ball bouncing on snow\"");
            }
            let e = worldsim_scenes::prompt::expand(&prompt, size.0, size.1, frames, seed);
            println!("{}", e.caption);
            if !e.unknown.is_empty() {
                eprintln!("unknown words (ignored): {}", e.unknown.join(", "));
            }
            Ok(())
        }
    }
}
