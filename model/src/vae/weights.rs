//! Shipped VAE weights: a folder with `vae.json` (format, config, latent statistics, how it was
//! trained) and `vae.mpk` (weights in f16). Loading checks everything and fails with the file
//! and the reason, never a panic.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::record::{HalfPrecisionSettings, NamedMpkFileRecorder};
use serde::{Deserialize, Serialize};
use worldsim_scenes::MediaError;
use worldsim_scenes::media::write_dir_atomic;

use super::config::VaeConfig;
use super::model::{LatentStats, VideoVae};
use super::train::VideoSample;
use crate::error::ModelError;

/// The value of `format` in `vae.json`.
pub const VAE_FORMAT: &str = "worldsim-vae/1";
const META: &str = "vae.json";
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

pub(crate) fn weights_err(path: &Path, message: impl ToString) -> ModelError {
    ModelError::Weights { path: path.display().to_string(), message: message.to_string() }
}

impl From<MediaError> for ModelError {
    fn from(e: MediaError) -> Self {
        ModelError::Weights { path: String::new(), message: e.to_string() }
    }
}

struct Shapes(Vec<Vec<usize>>);

impl<B: Backend> ModuleVisitor<B> for Shapes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.push(param.shape().dims::<D>().to_vec());
    }
}

/// The shape of every float parameter of a module, in visiting order (to check that loaded
/// weights fit their config).
pub(crate) fn shapes<B: Backend, M: Module<B>>(m: &M) -> Vec<Vec<usize>> {
    let mut s = Shapes(Vec::new());
    m.visit(&mut s);
    s.0
}

/// Writes a VAE folder atomically (weights stored as f16).
pub fn save_vae<B: Backend>(dir: &Path, model: &VideoVae<B>, meta: &VaeMeta) -> Result<(), ModelError> {
    // Both files are written whole into a staging folder, then each is renamed over its old
    // version: a reader never sees half a file, and the folder's other files (the DiT's weights,
    // the model card) stay.
    std::fs::create_dir_all(dir).map_err(|e| weights_err(dir, e))?;
    let staging = dir.join(format!(".vae-staging-{}", std::process::id()));
    write_dir_atomic(&staging, |tmp: &Path| -> Result<(), ModelError> {
        let json = serde_json::to_string_pretty(meta).map_err(|e| weights_err(&dir.join(META), e))?;
        std::fs::write(tmp.join(META), json + "\n").map_err(|e| weights_err(&dir.join(META), e))?;
        model
            .clone()
            .save_file(tmp.join(WEIGHTS), &NamedMpkFileRecorder::<HalfPrecisionSettings>::new())
            .map_err(|e| weights_err(&dir.join(WEIGHTS), e))
    })?;
    let moved = [WEIGHTS, META].iter().try_for_each(|name| {
        std::fs::rename(staging.join(name), dir.join(name)).map_err(|e| weights_err(&dir.join(name), e))
    });
    let _ = std::fs::remove_dir_all(&staging);
    moved
}

/// Loads a VAE folder, checking format, configuration and every weight's shape.
pub fn load_vae<B: Backend>(dir: &Path, device: &B::Device) -> Result<LoadedVae<B>, ModelError> {
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
    let weights: PathBuf = dir.join(WEIGHTS);
    if !weights.is_file() {
        return Err(weights_err(&weights, "missing; the folder needs vae.json and vae.mpk"));
    }
    let fresh: VideoVae<B> = meta.config.init(device);
    let expected = shapes(&fresh);
    let model = fresh
        .load_file(weights.clone(), &NamedMpkFileRecorder::<HalfPrecisionSettings>::new(), device)
        .map_err(|e| weights_err(&weights, format!("cannot load ({e}); the file is corrupt or for another config")))?;
    let got = shapes(&model);
    if got != expected {
        let i = got.iter().zip(&expected).position(|(a, b)| a != b).unwrap_or(got.len().min(expected.len()));
        return Err(weights_err(
            &weights,
            format!(
                "weight #{i} has shape {:?} but vae.json's config needs {:?}; the weights and the config do not match",
                got.get(i),
                expected.get(i)
            ),
        ));
    }
    Ok(LoadedVae { meta, model })
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
