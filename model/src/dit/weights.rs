//! Shipped DiT weights: `dit.json` (format, DiT and text-encoder configs, the tokenizer's word
//! list, how it was trained) and `dit.mpk` (EMA weights of the DiT and text encoder, f16), next
//! to the VAE they were trained on. Loading checks everything and fails with the file and the
//! reason, never a panic.

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::config::DitConfig;
use super::denoiser::Denoiser;
use crate::error::ModelError;
use crate::text::{TextEncoderConfig, Tokenizer};
use crate::weights::{load_checked, save_model_files, weights_err};

/// The value of `format` in `dit.json`.
pub const DIT_FORMAT: &str = "worldsim-dit/1";
/// The metadata file of a model folder's DiT.
pub const META: &str = "dit.json";
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
    save_model_files(dir, META, meta, WEIGHTS, model)
}

/// Loads a DiT folder, checking format, configuration and every weight's shape.
pub fn load_denoiser<B: Backend>(dir: &Path, device: &B::Device) -> Result<LoadedDenoiser<B>, ModelError> {
    let meta = load_dit_meta(dir)?;
    let fresh = Denoiser { dit: meta.model.init::<B>(device), text: meta.text.init::<B>(device) };
    let model = load_checked(fresh, &dir.join(WEIGHTS), META, device)?;
    Ok(LoadedDenoiser { meta, model })
}

/// Reads and checks a model folder's `dit.json` alone (no weights).
pub fn load_dit_meta(dir: &Path) -> Result<DitMeta, ModelError> {
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
    Ok(meta)
}
