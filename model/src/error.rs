//! Typed errors of the model crate.

use thiserror::Error;

/// Why a model call or a model file failed.
#[derive(Debug, Error, PartialEq)]
pub enum ModelError {
    /// A video's size does not fit the model; the message names the nearest size that does.
    #[error("{field} is {got}: {reason}; the nearest valid value is {nearest}")]
    InvalidSize {
        /// Which dimension (`frames`, `height`, `width`, `channels`).
        field: &'static str,
        /// The size given.
        got: usize,
        /// What the model needs.
        reason: String,
        /// The nearest size the model accepts.
        nearest: usize,
    },
    /// A configuration that describes no valid network.
    #[error("config field `{field}`: {message}")]
    Config {
        /// The field at fault.
        field: &'static str,
        /// What is wrong and what to do instead.
        message: String,
    },
    /// A weights folder is missing, corrupt or does not match its config.
    #[error("{path}: {message}")]
    Weights {
        /// The file at fault.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A prompt or caption the model cannot read.
    #[error("prompt: {message}")]
    Prompt {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A latent has the wrong shape for this model.
    #[error("latent {field} is {got} but this model uses {expected}")]
    LatentShape {
        /// Which dimension.
        field: &'static str,
        /// The size given.
        got: usize,
        /// What the model uses.
        expected: usize,
    },
}

impl ModelError {
    /// `Ok` when `value` is a positive multiple of `multiple`; otherwise an `InvalidSize` naming
    /// `field`, `reason` and the nearest multiple.
    pub fn check_multiple(
        field: &'static str,
        value: usize,
        multiple: usize,
        reason: String,
    ) -> Result<(), ModelError> {
        if value > 0 && value.is_multiple_of(multiple) {
            return Ok(());
        }
        let nearest = ((value as f64 / multiple as f64).round() as usize).max(1) * multiple;
        Err(ModelError::InvalidSize { field, got: value, reason, nearest })
    }
}
