//! Shipped DiT weights: `dit.json` (format, DiT and text-encoder configs, the tokenizer's word
//! list, how it was trained) and `dit.mpk` (EMA weights of the DiT and text encoder, f16), next
//! to the VAE they were trained on. Loading checks everything and fails with the file and the
//! reason, never a panic.

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;
use burn::record::{HalfPrecisionSettings, NamedMpkFileRecorder};
use serde::{Deserialize, Serialize};
use worldsim_scenes::media::write_dir_atomic;

use super::config::DitConfig;
use super::denoiser::Denoiser;
use crate::error::ModelError;
use crate::text::{TextEncoderConfig, Tokenizer};
use crate::vae::weights::{shapes, weights_err};

/// The value of `format` in `dit.json`.
pub const DIT_FORMAT: &str = "worldsim-dit/1";
const META: &str = "dit.json";
const WEIGHTS: &str = "dit.mpk";

/// `dit.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DitMeta {
    /// Always [`DIT_FORMAT`].
    pub format: String,
    /// The DiT.
    pub model: DitConfig,
    /// The text encoder.
    pub text: TextEncoderConfig,
    /// The tokenizer.
    pub tokenizer: Tokenizer,
    /// How it was trained (free-form provenance).
    pub trained: serde_json::Value,
}

/// A loaded denoiser with its metadata.
#[derive(Debug)]
pub struct LoadedDenoiser<B: Backend> {
    /// Its metadata.
    pub meta: DitMeta,
    /// The network.
    pub model: Denoiser<B>,
}

/// Writes `dit.json` and `dit.mpk` into `dir`, each replaced whole; the folder's other files
/// (the VAE, the model card) stay.
pub fn save_denoiser<B: Backend>(dir: &Path, model: &Denoiser<B>, meta: &DitMeta) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|e| weights_err(dir, e))?;
    let staging = dir.join(format!(".dit-staging-{}", std::process::id()));
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

/// Loads a DiT folder, checking format, configuration and every weight's shape.
pub fn load_denoiser<B: Backend>(dir: &Path, device: &B::Device) -> Result<LoadedDenoiser<B>, ModelError> {
    let meta_path = dir.join(META);
    let text = std::fs::read_to_string(&meta_path).map_err(|e| {
        weights_err(
            &meta_path,
            format!("cannot read ({e}); is this a model folder with a trained DiT (`worldsim dit export`)?"),
        )
    })?;
    let meta: DitMeta = serde_json::from_str(&text)
        .map_err(|e| weights_err(&meta_path, format!("line {}, column {}: {e}", e.line(), e.column())))?;
    if meta.format != DIT_FORMAT {
        return Err(weights_err(&meta_path, format!("format is {:?}; this build reads {DIT_FORMAT:?}", meta.format)));
    }
    meta.model.validate()?;
    if meta.text.vocab != meta.tokenizer.vocab_size() {
        return Err(weights_err(
            &meta_path,
            format!("text.vocab is {} but the tokenizer has {} words", meta.text.vocab, meta.tokenizer.vocab_size()),
        ));
    }
    let weights = dir.join(WEIGHTS);
    if !weights.is_file() {
        return Err(weights_err(&weights, "missing; the folder needs dit.json and dit.mpk"));
    }
    let fresh = Denoiser { dit: meta.model.init::<B>(device), text: meta.text.init::<B>(device) };
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
                "weight #{i} has shape {:?} but dit.json's config needs {:?}; the weights and the config do not match",
                got.get(i),
                expected.get(i)
            ),
        ));
    }
    Ok(LoadedDenoiser { meta, model })
}
