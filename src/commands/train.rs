//! `worldsim train vae`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Subcommand;
use worldsim_model::CpuAutodiff;
use worldsim_model::vae::VaeConfig;
use worldsim_model::vae::train::{Stop, VaeTrainConfig, train_vae};

/// `worldsim train …`
#[derive(Subcommand)]
pub enum TrainCommand {
    /// Train the causal video VAE on random clips of the ground-truth world.
    Vae {
        /// Architecture preset: tiny (CPU, shipped) or base (GPU).
        #[arg(long, default_value = "tiny")]
        preset: String,
        /// Run folder: checkpoint/, metrics.jsonl.
        #[arg(long, default_value = "runs/vae-tiny")]
        out: PathBuf,
        /// Length of the run in optimiser steps (also sets the learning-rate schedule).
        #[arg(long, default_value_t = 2000)]
        steps: u64,
        /// Stop after this many minutes instead (a checkpoint is written; `--resume` goes on).
        #[arg(long)]
        minutes: Option<f64>,
        /// Continue from the run folder's checkpoint (same seed ⇒ same trajectory).
        #[arg(long)]
        resume: bool,
        /// Seed of data, weights and noise.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Clips per step.
        #[arg(long, default_value_t = 4)]
        batch: usize,
        /// Train on a dataset folder (see `worldsim dataset`) instead of random scenes.
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

/// Runs a `train` sub-command.
pub fn run(command: TrainCommand) -> Result<()> {
    match command {
        TrainCommand::Vae { preset, out, steps, minutes, resume, seed, batch, data } => {
            let Some(model) = VaeConfig::preset(&preset) else {
                bail!("unknown --preset {preset:?}; use tiny or base");
            };
            let config = VaeTrainConfig { model, seed, batch, data, ..VaeTrainConfig::tiny(steps) };
            let stop = minutes.map_or(Stop::Steps(steps), Stop::Minutes);
            let device = Default::default();
            let summary = train_vae::<CpuAutodiff>(
                &out,
                config,
                stop,
                resume,
                &device,
                std::io::IsTerminal::is_terminal(&std::io::stderr()),
            )?;
            println!(
                "trained to step {} ({:.1} min in total); last loss {:.4}; checkpoint in {}",
                summary.step,
                summary.elapsed_s / 60.0,
                summary.last_loss,
                summary.dir.join("checkpoint").display()
            );
            Ok(())
        }
    }
}
