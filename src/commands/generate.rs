//! `worldsim generate`, `worldsim dit export` and `worldsim prompt expand`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::prelude::Backend;
use clap::Subcommand;
use worldsim_model::Cpu;
use worldsim_model::diffusion::SamplerKind;
use worldsim_model::dit::train::{DitTrainConfig, init_denoiser};
use worldsim_model::dit::weights::{DIT_FORMAT, DitMeta, load_denoiser, save_denoiser};
use worldsim_model::generate::{GenerateRequest, generate};
use worldsim_model::train::Checkpoint;
use worldsim_model::train::checkpoint::RunState;
use worldsim_model::vae::weights::load_vae;
use worldsim_scenes::media::write_video;

use super::device::DeviceKind;
use super::vae::default_model_dir;
use crate::with_backend;

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
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sampler steps.
    #[arg(long, default_value_t = 30)]
    steps: usize,
    /// Classifier-free guidance scale (1: none).
    #[arg(long, default_value_t = 3.0)]
    guidance: f32,
    /// ODE solver: euler or heun.
    #[arg(long, default_value = "euler")]
    sampler: SamplerKind,
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
    },
}

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
    let dir = args.model.unwrap_or_else(default_model_dir);
    let vae = load_vae::<B>(&dir, &device)?;
    let dit = load_denoiser::<B>(&dir, &device)?;
    let req = GenerateRequest {
        prompt: args.prompt,
        frames: args.frames,
        width: args.size.0 as usize,
        height: args.size.1 as usize,
        seed: args.seed,
        steps: args.steps,
        guidance: args.guidance,
        sampler: args.sampler,
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
        DitCommand::Export { run, out } => {
            let device = Default::default();
            let ckpt = Checkpoint::of_run(&run);
            let state: RunState<DitTrainConfig> = ckpt.state()?;
            let config = &state.config;
            let ema = ckpt.load_ema(init_denoiser::<Cpu>(config, &device), &device)?;
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
                    "weights": "EMA, f16",
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
    }
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
