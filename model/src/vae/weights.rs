//! Shipped VAE weights: a folder with `vae.json` (format, config, latent statistics, how it was
//! trained) and `vae.mpk` (weights in f16). Loading checks everything and fails with the file
//! and the reason, never a panic.

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::config::VaeConfig;
use super::model::{LatentStats, VideoVae};
use super::train::VideoSample;
use crate::error::ModelError;
use crate::weights::{load_checked, save_model_files, weights_err};

/// The value of `format` in `vae.json`.
pub const VAE_FORMAT: &str = "worldsim-vae/1";
/// The metadata file of a VAE folder (its presence marks one).
pub const META: &str = "vae.json";
const WEIGHTS: &str = "vae.mpk";

/// `vae.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VaeMeta {
    /// Always [`VAE_FORMAT`].
    pub format: String,
    /// The architecture.
    pub config: VaeConfig,
    /// Per-channel latent statistics measured on data.
    pub latent_stats: LatentStats,
    /// Free-form provenance: run, steps, time, machine.
    #[serde(default)]
    pub trained: serde_json::Value,
}

/// A VAE ready to use.
#[derive(Debug)]
pub struct LoadedVae<B: Backend> {
    /// Its metadata.
    pub meta: VaeMeta,
    /// The network.
    pub model: VideoVae<B>,
}

/// Writes a VAE folder's `vae.json` and f16 `vae.mpk`, each replaced whole; the folder's other
/// files (the DiT's weights, the model card) stay.
pub fn save_vae<B: Backend>(dir: &Path, model: &VideoVae<B>, meta: &VaeMeta) -> Result<(), ModelError> {
    save_model_files(dir, META, meta, WEIGHTS, model)
}

/// Loads a VAE folder, checking format, configuration and every weight's shape.
pub fn load_vae<B: Backend>(dir: &Path, device: &B::Device) -> Result<LoadedVae<B>, ModelError> {
    let meta = load_vae_meta(dir)?;
    let model = load_checked(meta.config.init(device), &dir.join(WEIGHTS), META, device)?;
    Ok(LoadedVae { meta, model })
}

/// Reads and checks a VAE folder's `vae.json` alone (format, configuration, statistics), for
/// callers that need the architecture and not the weights.
pub fn load_vae_meta(dir: &Path) -> Result<VaeMeta, ModelError> {
    let meta_path = dir.join(META);
    let text = std::fs::read_to_string(&meta_path)
        .map_err(|e| weights_err(&meta_path, format!("cannot read ({e}); is this a VAE folder?")))?;
    let meta: VaeMeta = serde_json::from_str(&text)
        .map_err(|e| weights_err(&meta_path, format!("line {}, column {}: {e}", e.line(), e.column())))?;
    if meta.format != VAE_FORMAT {
        return Err(weights_err(&meta_path, format!("format is {:?}; this build reads {VAE_FORMAT:?}", meta.format)));
    }
    meta.config.validate()?;
    if meta.latent_stats.mean.len() != meta.config.latent_channels
        || meta.latent_stats.std.len() != meta.config.latent_channels
    {
        return Err(weights_err(
            &meta_path,
            format!(
                "latent_stats has {} means and {} stds for {} latent channels",
                meta.latent_stats.mean.len(),
                meta.latent_stats.std.len(),
                meta.config.latent_channels
            ),
        ));
    }
    Ok(meta)
}

/// Per-channel mean and standard deviation of the latent means of `samples`.
pub fn measure_latent_stats<B: Backend>(
    model: &VideoVae<B>,
    config: &VaeConfig,
    samples: &[VideoSample],
    device: &B::Device,
) -> LatentStats {
    let c = config.latent_channels;
    let (mut sum, mut sq, mut n) = (vec![0.0f64; c], vec![0.0f64; c], 0usize);
    for s in samples {
        let Ok(dist) = model.encode(config, s.tensor::<B>(device)) else { continue };
        let [_, _, t, h, w] = dist.mean.dims();
        let values: Vec<f32> = dist.mean.into_data().to_vec().unwrap_or_default();
        for ch in 0..c {
            for v in &values[ch * t * h * w..(ch + 1) * t * h * w] {
                sum[ch] += f64::from(*v);
                sq[ch] += f64::from(*v).powi(2);
            }
        }
        n += t * h * w;
    }
    let n = n.max(1) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    let std = sq.iter().zip(&mean).map(|(q, m)| ((q / n - f64::from(*m).powi(2)).max(1e-8).sqrt()) as f32).collect();
    LatentStats { mean, std }
}
