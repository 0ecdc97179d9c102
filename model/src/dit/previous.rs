//! The previous latent frame as a direct input ([`DitConfig::previous_frame`]): every token
//! also reads the token at its own place one latent frame earlier, through a linear layer
//! added to its embedding, and every frame's conditioning reads that frame's noise level.
//! Attention alone left the tiny DiT far from copying what does not change: on held-out
//! scenes of a standing player, its estimate of the next latent frame erred 10–54× more than
//! the previous frame itself. The direct path makes "the same as before, plus what moved"
//! one linear map away. A sample's first frame (and an image) reads zeros at level 1 (pure
//! noise: nothing known), so both layers, grown at zero, leave a trained network unchanged.
//! Frame-causal attention stays causal: a frame reads only the one before it.

use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Int;

use super::attention::{linear2, linear3};
use super::config::DitConfig;
use super::model::noise_features;

/// The two layers of the previous-frame input.
#[derive(Module, Debug)]
pub struct PreviousFrame<B: Backend> {
    /// The previous frame's token → an addition to the token's embedding.
    tokens: Linear<B>,
    /// The previous frame's noise-level features → an addition to the frame's conditioning.
    level: Linear<B>,
}

impl DitConfig {
    /// Whether tokens read the previous frame directly ([`DitConfig::previous_frame`]).
    pub fn reads_previous(&self) -> bool {
        self.previous_frame.unwrap_or(false)
    }

    /// The previous-frame layers, at zero: the network predicts as it did without them.
    pub fn previous_frame_layer<B: Backend>(&self, device: &B::Device) -> PreviousFrame<B> {
        let zeros = |i: usize| LinearConfig::new(i, self.dim).with_initializer(Initializer::Zeros).init(device);
        PreviousFrame { tokens: zeros(self.token_dim()), level: zeros(self.freq_dim) }
    }
}

impl<B: Backend> PreviousFrame<B> {
    /// The previous frame's tokens as an addition to the embedding.
    ///
    /// # Shapes
    /// - `tokens` `[rows, len, token_dim]`; output `[rows, len, dim]`
    pub fn embed(&self, tokens: Tensor<B, 3>) -> Tensor<B, 3> {
        linear3(&self.tokens, tokens)
    }

    /// The previous frames' noise levels as an addition to the frames' conditioning.
    ///
    /// # Shapes
    /// - `level` `[frames]`; output `[frames, dim]`
    pub fn condition(&self, level: Tensor<B, 1>, freq_dim: usize) -> Tensor<B, 2> {
        linear2(&self.level, noise_features(level, freq_dim))
    }
}

/// What each frame of a call reads as its previous frame: tokens and noise level.
#[derive(Clone, Debug)]
pub struct PreviousInput<B: Backend> {
    /// `[rows, len, token_dim]` the token at the same place one latent frame earlier (zeros
    /// where there is none).
    pub tokens: Tensor<B, 3>,
    /// `[frames]` the previous frame's noise level (1 where there is none).
    pub level: Tensor<B, 1>,
}

impl<B: Backend> PreviousInput<B> {
    /// The previous frames inside a packed batch: `token_index` `[rows · len]` points each
    /// token at its previous-frame token in the flattened batch, or at `rows · len` (a zero
    /// token appended); `frame_index` `[frames]` points each frame at its previous frame in the
    /// frame table, or at `frames` (a level of 1 appended).
    ///
    /// # Shapes
    /// - `tokens` `[rows, len, token_dim]`, `noise` `[frames]`
    pub fn within(
        tokens: &Tensor<B, 3>,
        noise: &Tensor<B, 1>,
        token_index: Tensor<B, 1, Int>,
        frame_index: Tensor<B, 1, Int>,
    ) -> Self {
        let [rows, len, td] = tokens.dims();
        let device = tokens.device();
        let flat = Tensor::cat(vec![tokens.clone().reshape([rows * len, td]), Tensor::zeros([1, td], &device)], 0);
        let levels = Tensor::cat(vec![noise.clone(), Tensor::ones([1], &device)], 0);
        PreviousInput {
            tokens: flat.select(0, token_index).reshape([rows, len, td]),
            level: levels.select(0, frame_index),
        }
    }
}
