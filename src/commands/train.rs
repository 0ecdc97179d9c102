//! `worldsim train vae | dit`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::backend::Autodiff;
use clap::Subcommand;
use worldsim_model::dit::DitConfig;
use worldsim_model::dit::train::{DitTrainConfig, train_dit};
use worldsim_model::dit::weights::load_dit_meta;
use worldsim_model::vae::VaeConfig;
use worldsim_model::vae::train::{Stop, VaeTrainConfig, train_vae};
use worldsim_model::vae::weights::load_vae_meta;

use super::device::DeviceKind;
use crate::with_backend;

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
        /// Fine-tune: start from an exported VAE folder (e.g. assets/models/tiny) or from the EMA
        /// weights of a run folder's checkpoint.
        #[arg(long)]
        init_from: Option<PathBuf>,
        /// Peak learning rate (default: the preset recipe's 1e-3).
        #[arg(long)]
        lr: Option<f64>,
        /// Threads rendering training clips.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Give every clip of a step one size and duration (one batched forward per step: use
        /// on GPUs, where it is many times faster).
        #[arg(long)]
        same_shape: bool,
        /// Train only the decoder of the `--init-from` VAE: its encoder, latent space and latent
        /// statistics stay exactly as they are, so a DiT trained on that VAE keeps working and
        /// decodes through the better decoder.
        #[arg(long)]
        decoder_only: bool,
        /// Residual blocks of each decoder level, from the lowest resolution up, e.g. `2,2,1`
        /// (default: the preset's). Starting from a VAE with a shallower decoder (`--init-from`)
        /// grows it: the new blocks begin as the identity.
        #[arg(long, value_delimiter = ',')]
        decoder_res_blocks: Option<Vec<usize>>,
        /// Latent channels (default: the preset's). Starting from a VAE with fewer
        /// (`--init-from`) widens it: the new channels start unused by the decoder; with
        /// `--decoder-only` the source's channels stay exactly as they are and only the new
        /// ones (and the decoder) learn.
        #[arg(long)]
        latent_channels: Option<usize>,
        /// Extra reconstruction-loss weight of pixels inside a ball, box or the player (random
        /// scenes only; default 0: every pixel alike; the shipped VAE's last stage used 10).
        #[arg(long, allow_negative_numbers = true)]
        object_weight: Option<f32>,
        /// Where to train: cpu, or wgpu / cuda when compiled with that feature.
        #[arg(long, default_value = "cpu")]
        device: DeviceKind,
    },
    /// Train the diffusion transformer and its text encoder on random clips of the world,
    /// encoded by a trained VAE.
    Dit {
        /// Architecture preset: tiny (CPU, shipped) or base (GPU).
        #[arg(long, default_value = "tiny")]
        preset: String,
        /// Training recipe: `clips` (the shipped model's: clips and images, both attention
        /// modes) or `stream` (a fine-tune for streaming: frame-causal, a slightly noised known
        /// past, longer clips, players in most scenes; use with --init-from).
        #[arg(long, default_value = "clips")]
        recipe: String,
        /// Run folder: checkpoint/, metrics.jsonl, loss.png.
        #[arg(long, default_value = "runs/dit-tiny")]
        out: PathBuf,
        /// The VAE folder whose latents the DiT learns (default: the shipped tiny model).
        #[arg(long)]
        vae: Option<PathBuf>,
        /// Length of the run in optimiser steps (also sets the learning-rate schedule).
        #[arg(long, default_value_t = 4000)]
        steps: u64,
        /// Stop after this many minutes instead (a checkpoint is written; `--resume` goes on).
        #[arg(long)]
        minutes: Option<f64>,
        /// Continue from the run folder's checkpoint (same seed ⇒ same trajectory).
        #[arg(long)]
        resume: bool,
        /// Seed of data, weights and noise (default: the recipe's, 1 for clips, 2 for stream).
        #[arg(long)]
        seed: Option<u64>,
        /// Clips per step.
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Peak learning rate (default: the recipe's, 5e-4 for clips, 2e-4 for stream).
        #[arg(long)]
        lr: Option<f64>,
        /// Fine-tune: start from the DiT of this model folder (e.g. assets/models/tiny).
        #[arg(long)]
        init_from: Option<PathBuf>,
        /// Extra loss weight of tokens that hold a ball, box or the player (default 0: every
        /// token alike; the shipped DiT's last fine-tune used 8).
        #[arg(long, allow_negative_numbers = true)]
        object_weight: Option<f32>,
        /// Share of training videos given clean ends (a prefix, a suffix or both, as the
        /// prompting tasks give them); default: the recipe's (0.4 for clips, which the shipped
        /// DiT's last three fine-tunes used; its earlier stages used 0).
        #[arg(long)]
        given_share: Option<f32>,
        /// Share of steps with frame-causal attention (the streaming mode); default: the
        /// recipe's (0.25 for clips, 1 for stream).
        #[arg(long)]
        causal_share: Option<f32>,
        /// Share of training scenes with a player (whose action captions the DiT learns to
        /// follow); default: the recipe's (0.5 for clips, 0.9 for stream).
        #[arg(long)]
        player_share: Option<f32>,
        /// Share of clips with a player captioned without the player's motion (a stream's
        /// caption), so the DiT learns the motion from the action captions alone (default 0).
        #[arg(long)]
        steered_share: Option<f32>,
        /// Share of clip pairs made counterfactual: the second clip replays the first's scene
        /// with the player's command changed at a latent-frame boundary (same past, a future
        /// that differs as the action captions do), both captioned steered (default 0).
        #[arg(long)]
        counterfactual_share: Option<f32>,
        /// Share of scenes with a player emptied of every other object and occluder (the
        /// player alone in its world, as streams show it), so a caption that names no objects
        /// means none (default 0).
        #[arg(long)]
        alone_share: Option<f32>,
        /// Share of scenes with a player whose camera is held still where it starts (no pan,
        /// path or following camera), as a stream's world usually is (default 0).
        #[arg(long)]
        still_share: Option<f32>,
        /// Action captions also displace their frames' rotary positions, per block and head,
        /// so a head can follow the player; grown at zero from an `--init-from` model without
        /// them (on by itself when that model has them).
        #[arg(long)]
        action_shift: bool,
        /// Every token also reads the token at its place one latent frame earlier (and every
        /// frame that frame's noise level), so what does not change is one linear map away;
        /// grown at zero from an `--init-from` model without it (on by itself when that model
        /// has it).
        #[arg(long)]
        previous_frame: bool,
        /// Weight of the motion loss: the first head of every block learns to displace its
        /// frame's positions by the player's measured on-screen move, from the action caption
        /// (default 0; needs --action-shift or an --init-from model with displacements).
        #[arg(long)]
        motion_weight: Option<f32>,
        /// Weight of the action-locality loss: an action caption's effect on the prediction is
        /// penalised away from the objects (default 0).
        #[arg(long)]
        action_locality: Option<f32>,
        /// Threads rendering and encoding training clips (2: the 2-core machine's measured best,
        /// the encoding of one clip overlapping the next while the step runs).
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Where to train: cpu, or wgpu / cuda when compiled with that feature.
        #[arg(long, default_value = "cpu")]
        device: DeviceKind,
    },
}

fn report(summary: &worldsim_model::train::TrainSummary) {
    println!(
        "trained to step {} ({:.1} min in total); last loss {:.4}; checkpoint in {}",
        summary.step,
        summary.elapsed_s / 60.0,
        summary.last_loss,
        summary.dir.join("checkpoint").display()
    );
}

/// Runs a `train` sub-command.
pub fn run(command: TrainCommand) -> Result<()> {
    match command {
        TrainCommand::Vae {
            preset,
            out,
            steps,
            minutes,
            resume,
            seed,
            batch,
            data,
            init_from,
            lr,
            workers,
            same_shape,
            decoder_only,
            decoder_res_blocks,
            latent_channels,
            object_weight,
            device,
        } => {
            let Some(mut model) = VaeConfig::preset(&preset) else {
                bail!("unknown --preset {preset:?}; use tiny or base");
            };
            if let Some(blocks) = decoder_res_blocks {
                model = model.with_decoder_res_blocks(Some(blocks));
            }
            if let Some(channels) = latent_channels {
                model.latent_channels = channels;
            }
            let mut config = VaeTrainConfig {
                model,
                seed,
                batch,
                data,
                workers,
                same_shape,
                init_from,
                decoder_only,
                ..VaeTrainConfig::tiny(steps)
            };
            if let Some(peak) = lr {
                config.schedule.peak = peak;
            }
            if let Some(w) = object_weight {
                if !(w.is_finite() && w >= 0.0) {
                    bail!("--object-weight {w} must be a finite number ≥ 0 (0 weighs every pixel alike)");
                }
                if config.data.is_some() && w > 0.0 {
                    bail!(
                        "--object-weight needs the ground truth of random scenes: a --data folder has no object \
                         boxes (drop one of the two)"
                    );
                }
                config.object_weight = w;
            }
            let stop = minutes.map_or(Stop::Steps(steps), Stop::Minutes);
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let summary = with_backend!(device, |B| train_vae::<Autodiff<B>>(
                &out,
                config,
                stop,
                resume,
                &Default::default(),
                progress
            )?);
            report(&summary);
            Ok(())
        }
        TrainCommand::Dit {
            preset,
            recipe,
            out,
            vae,
            steps,
            minutes,
            resume,
            seed,
            batch,
            lr,
            init_from,
            object_weight,
            given_share,
            causal_share,
            player_share,
            steered_share,
            counterfactual_share,
            alone_share,
            still_share,
            action_shift,
            previous_frame,
            motion_weight,
            action_locality,
            workers,
            device,
        } => {
            let Some(mut model) = DitConfig::preset(&preset) else {
                bail!("unknown --preset {preset:?}; use tiny or base");
            };
            let inherited = match &init_from {
                Some(dir) => {
                    let from = load_dit_meta(dir)?.model;
                    (from.displaces(), from.reads_previous())
                }
                None => (false, false),
            };
            model.action_shift = Some(action_shift || inherited.0);
            model.previous_frame = Some(previous_frame || inherited.1);
            let vae = vae.unwrap_or_else(worldsim_model::weights::shipped_model_dir);
            // The DiT denoises its VAE's latent: it takes the VAE's channel count.
            let latent = load_vae_meta(&vae)?.config.latent_channels;
            if latent != model.latent_channels {
                println!("the VAE in {} has {latent} latent channels: the DiT takes them", vae.display());
                model.latent_channels = latent;
            }
            let base = match recipe.as_str() {
                "clips" => DitTrainConfig::tiny(steps, vae),
                "stream" => DitTrainConfig::stream(steps, vae),
                other => bail!("unknown --recipe {other:?}; use clips or stream (a fine-tune: add --init-from)"),
            };
            let mut config =
                DitTrainConfig { model, seed: seed.unwrap_or(base.seed), batch, workers, init_from, ..base };
            if let Some(peak) = lr {
                config.schedule.peak = peak;
            }
            if let Some(w) = object_weight {
                if !(w.is_finite() && w >= 0.0) {
                    bail!("--object-weight {w} must be a finite number ≥ 0 (0 weighs every token alike)");
                }
                config.object_weight = w;
            }
            // A share given on the command line: between 0 and 1, or an error naming the flag.
            let share = |flag: &str, value: Option<f32>, of: &str| -> Result<Option<f32>> {
                match value {
                    Some(v) if !(0.0..=1.0).contains(&v) => {
                        bail!("--{flag} {v} must be between 0 and 1 (a share of {of})")
                    }
                    v => Ok(v),
                }
            };
            if let Some(v) = share("given-share", given_share, "the training videos")? {
                config.noise.given_share = v;
            }
            if let Some(v) = share("causal-share", causal_share, "the training steps")? {
                config.causal_share = v;
            }
            if let Some(v) = share("player-share", player_share, "the training scenes")? {
                config.player_share = v;
            }
            if let Some(v) = share("steered-share", steered_share, "the clips with a player")? {
                config.steered_share = v;
            }
            if let Some(v) = share("counterfactual-share", counterfactual_share, "the clip pairs")? {
                config.counterfactual_share = v;
            }
            if let Some(v) = share("alone-share", alone_share, "the scenes with a player")? {
                config.alone_share = v;
            }
            if let Some(v) = share("still-share", still_share, "the scenes with a player")? {
                config.still_share = v;
            }
            if let Some(w) = motion_weight {
                if !(w.is_finite() && w >= 0.0) {
                    bail!("--motion-weight {w} must be a finite number ≥ 0 (0: no motion loss)");
                }
                if w > 0.0 && !config.model.displaces() {
                    bail!("--motion-weight needs action displacements: add --action-shift");
                }
                config.motion_weight = w;
            }
            if let Some(w) = action_locality {
                if !(w.is_finite() && w >= 0.0) {
                    bail!("--action-locality {w} must be a finite number ≥ 0 (0: no locality loss)");
                }
                config.action_locality = w;
            }
            let stop = minutes.map_or(Stop::Steps(steps), Stop::Minutes);
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let summary = with_backend!(device, |B| train_dit::<Autodiff<B>>(
                &out,
                config,
                stop,
                resume,
                &Default::default(),
                progress
            )?);
            report(&summary);
            Ok(())
        }
    }
}
