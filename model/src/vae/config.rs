//! VAE configuration and named presets.

use burn::prelude::*;

use crate::error::ModelError;

/// The shape of a video VAE.
#[derive(Config, Debug, PartialEq)]
pub struct VaeConfig {
    /// Colour channels of the video (3 for RGB).
    #[config(default = 3)]
    pub image_channels: usize,
    /// Channels of the latent.
    pub latent_channels: usize,
    /// Channels at each resolution level, from full resolution down.
    pub channels: Vec<usize>,
    /// Whether each step between levels halves height and width (one entry per step).
    pub spatial_down: Vec<bool>,
    /// Whether each step between levels halves time (one entry per step).
    pub temporal_down: Vec<bool>,
    /// Residual blocks per level.
    #[config(default = 1)]
    pub res_blocks: usize,
    /// Residual blocks of each decoder level, from the lowest resolution up (one entry per
    /// level); `None`: `res_blocks` at every level. A trained decoder can be deepened (see
    /// [`super::VideoVae::grown`]).
    pub decoder_res_blocks: Option<Vec<usize>>,
    /// Groups of the group norms (divides every channel count).
    #[config(default = 8)]
    pub groups: usize,
    /// (2+1)D convs in residual blocks (spatial then temporal) instead of full 3D ones.
    #[config(default = true)]
    pub factorized: bool,
}

impl VaeConfig {
    /// The preset trained and shipped for CPUs: spatial ×4, temporal ×4, 8 latent channels, one
    /// residual block per encoder level; the decoder has two at its two lower resolutions and one
    /// at full resolution, where a block costs the most.
    pub fn tiny() -> Self {
        VaeConfig::new(8, vec![32, 64, 64], vec![true, true], vec![true, true])
            .with_decoder_res_blocks(Some(vec![2, 2, 1]))
    }

    /// A larger preset for GPUs: spatial ×8, temporal ×4, 16 latent channels.
    pub fn base() -> Self {
        VaeConfig::new(16, vec![64, 128, 256, 256], vec![true, true, true], vec![false, true, true]).with_res_blocks(2)
    }

    /// A preset by name (`tiny`, `base`).
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "tiny" => Some(Self::tiny()),
            "base" => Some(Self::base()),
            _ => None,
        }
    }

    /// Checks that the configuration describes a buildable network.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |field: &'static str, message: String| Err(ModelError::Config { field, message });
        if self.channels.is_empty() {
            return bad("channels", "is empty; give at least one level, e.g. [32, 64, 64]".into());
        }
        let steps = self.channels.len() - 1;
        if self.spatial_down.len() != steps || self.temporal_down.len() != steps {
            return bad(
                "spatial_down",
                format!(
                    "spatial_down has {} and temporal_down {} entries; both need one per step between the {} levels ({steps})",
                    self.spatial_down.len(),
                    self.temporal_down.len(),
                    self.channels.len()
                ),
            );
        }
        if let Some(c) = self.channels.iter().find(|c| **c == 0 || !c.is_multiple_of(self.groups)) {
            return bad("channels", format!("{c} is not a positive multiple of groups ({})", self.groups));
        }
        if self.latent_channels == 0 || self.image_channels == 0 || self.res_blocks == 0 {
            return bad("latent_channels", "latent_channels, image_channels and res_blocks must be positive".into());
        }
        if let Some(blocks) = &self.decoder_res_blocks
            && (blocks.len() != self.channels.len() || blocks.contains(&0))
        {
            return bad(
                "decoder_res_blocks",
                format!(
                    "is {blocks:?}; give one positive count per level ({}), from the lowest resolution up, or leave \
                     it out to use res_blocks",
                    self.channels.len()
                ),
            );
        }
        Ok(())
    }

    /// Residual blocks of decoder level `level` (0 is the lowest resolution).
    pub fn decoder_blocks(&self, level: usize) -> usize {
        self.decoder_res_blocks.as_ref().and_then(|b| b.get(level).copied()).unwrap_or(self.res_blocks)
    }

    /// Whether a model of `self` can start from a trained model of `from`: the same network, or
    /// one with a decoder at least as deep at every level and at least as many latent channels
    /// (grown with [`super::VideoVae::grown`]).
    pub fn grows_from(&self, from: &VaeConfig) -> bool {
        let same_else = VaeConfig {
            latent_channels: self.latent_channels,
            decoder_res_blocks: self.decoder_res_blocks.clone(),
            ..from.clone()
        } == *self;
        same_else
            && self.latent_channels >= from.latent_channels
            && (0..self.channels.len()).all(|l| self.decoder_blocks(l) >= from.decoder_blocks(l))
    }

    /// How many pixels one latent cell spans along height and width.
    pub fn spatial_factor(&self) -> usize {
        1 << self.spatial_down.iter().filter(|d| **d).count()
    }

    /// How many frames one latent frame (after the first) spans.
    pub fn temporal_factor(&self) -> usize {
        1 << self.temporal_down.iter().filter(|d| **d).count()
    }

    /// Latent frames of a `frames`-frame video: `1 + (frames - 1) / temporal_factor`.
    pub fn latent_frames(&self, frames: usize) -> usize {
        1 + (frames - 1) / self.temporal_factor()
    }

    /// Checks a video size; the error names the dimension and the nearest valid size.
    pub fn check_video(&self, frames: usize, height: usize, width: usize) -> Result<(), ModelError> {
        let ft = self.temporal_factor();
        if frames == 0 || !(frames - 1).is_multiple_of(ft) {
            let k = ((frames.max(1) - 1) as f64 / ft as f64).round() as usize;
            return Err(ModelError::InvalidSize {
                field: "frames",
                got: frames,
                reason: format!("a video has 1 + {ft}·k frames (1 is an image)"),
                nearest: 1 + ft * k,
            });
        }
        let fs = self.spatial_factor();
        for (field, v) in [("height", height), ("width", width)] {
            ModelError::check_multiple(
                field,
                v,
                fs,
                format!("it must be a positive multiple of the spatial factor {fs}"),
            )?;
        }
        Ok(())
    }
}
