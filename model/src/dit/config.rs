//! DiT configuration and named presets.

use burn::prelude::*;

use crate::error::ModelError;

/// The shape of a diffusion transformer.
#[derive(Config, Debug, PartialEq)]
pub struct DitConfig {
    /// Channels of the VAE latent it denoises.
    pub latent_channels: usize,
    /// Side of a spatial patch in latent cells (patches are `1 × patch × patch`).
    #[config(default = 2)]
    pub patch: usize,
    /// Width of the token stream.
    pub dim: usize,
    /// Number of blocks.
    pub depth: usize,
    /// Attention heads (`dim / heads` must be a multiple of 16 for the 3D rotary split).
    pub heads: usize,
    /// MLP hidden width as a multiple of `dim`.
    #[config(default = 4)]
    pub mlp_ratio: usize,
    /// Width of the text encoder's tokens.
    pub text_dim: usize,
    /// Size of the sinusoidal embedding of a noise level.
    #[config(default = 256)]
    pub freq_dim: usize,
    /// Base of the rotary frequencies.
    #[config(default = 10000.0)]
    pub rope_theta: f64,
    /// Longest video in latent frames (a stated limit, not a learnt table).
    #[config(default = 64)]
    pub max_latent_frames: usize,
    /// Largest side in patches.
    #[config(default = 128)]
    pub max_side: usize,
    /// Epsilon of the normalisations.
    #[config(default = 1e-6)]
    pub norm_eps: f64,
    /// Whether action captions also displace their frames' rotary positions
    /// ([`super::action_shift`]); `None` (configs written before it existed) is off. Read it
    /// with [`DitConfig::displaces`].
    pub action_shift: Option<bool>,
    /// Whether every token also reads the token at its place one latent frame earlier, and
    /// every frame that frame's noise level ([`super::previous`]); `None` (configs written
    /// before it existed) is off. Read it with [`DitConfig::reads_previous`].
    pub previous_frame: Option<bool>,
}

impl DitConfig {
    /// The preset trained and shipped for CPUs: width 192, 6 blocks, 3 heads of 64.
    pub fn tiny() -> Self {
        DitConfig::new(8, 192, 6, 3, 128)
    }

    /// A larger preset for GPUs: width 512, 12 blocks, 8 heads of 64.
    pub fn base() -> Self {
        DitConfig::new(16, 512, 12, 8, 256)
    }

    /// A preset by name (`tiny`, `base`).
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "tiny" => Some(Self::tiny()),
            "base" => Some(Self::base()),
            _ => None,
        }
    }

    /// Whether action captions displace rotary positions ([`DitConfig::action_shift`]).
    pub fn displaces(&self) -> bool {
        self.action_shift.unwrap_or(false)
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.dim / self.heads.max(1)
    }

    /// Whether a model of `self` can start from a trained model of `from`: the same network, or
    /// one grown with [`super::Dit::grown`] — for a latent with more channels (e.g. a VAE
    /// widened by a decoder-only fine-tune that kept `from`'s channels), or with action
    /// displacements or the previous-frame input `from` lacks.
    pub fn grows_from(&self, from: &DitConfig) -> bool {
        self.latent_channels >= from.latent_channels
            && (self.displaces() || !from.displaces())
            && (self.reads_previous() || !from.reads_previous())
            && DitConfig {
                latent_channels: self.latent_channels,
                action_shift: self.action_shift,
                previous_frame: self.previous_frame,
                ..from.clone()
            } == *self
    }

    /// Values per token in and out: `latent_channels · patch²`.
    pub fn token_dim(&self) -> usize {
        self.latent_channels * self.patch * self.patch
    }

    /// Checks that the configuration describes a buildable network.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |field: &'static str, message: String| Err(ModelError::Config { field, message });
        if self.heads == 0 || !self.dim.is_multiple_of(self.heads) {
            return bad("heads", format!("{} does not divide dim {}", self.heads, self.dim));
        }
        if !self.head_dim().is_multiple_of(16) {
            return bad(
                "heads",
                format!("head width dim/heads = {} must be a multiple of 16 (3D rotary split)", self.head_dim()),
            );
        }
        if self.latent_channels == 0 || self.patch == 0 || self.depth == 0 || self.text_dim == 0 {
            return bad("depth", "latent_channels, patch, depth and text_dim must be positive".into());
        }
        if self.freq_dim == 0 || !self.freq_dim.is_multiple_of(2) {
            return bad("freq_dim", format!("{} must be a positive even number", self.freq_dim));
        }
        Ok(())
    }

    /// Checks a latent's size `[latent_channels, frames, height, width]` against the model's
    /// limits; the error names the dimension and the nearest size that works.
    pub fn check_latent(&self, channels: usize, frames: usize, height: usize, width: usize) -> Result<(), ModelError> {
        if channels != self.latent_channels {
            return Err(ModelError::LatentShape { field: "channels", got: channels, expected: self.latent_channels });
        }
        if frames == 0 || frames > self.max_latent_frames {
            return Err(ModelError::InvalidSize {
                field: "latent frames",
                got: frames,
                reason: format!("this model generates 1 to {} latent frames", self.max_latent_frames),
                nearest: frames.clamp(1, self.max_latent_frames),
            });
        }
        for (field, v) in [("latent height", height), ("latent width", width)] {
            let max = self.max_side * self.patch;
            if v == 0 || !v.is_multiple_of(self.patch) || v > max {
                let nearest = (((v as f64 / self.patch as f64).round() as usize).max(1) * self.patch).min(max);
                return Err(ModelError::InvalidSize {
                    field,
                    got: v,
                    reason: format!("it must be a positive multiple of the patch size {} up to {max}", self.patch),
                    nearest,
                });
            }
        }
        Ok(())
    }
}
