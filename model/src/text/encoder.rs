//! The text encoder: word embeddings plus learnt positions through a few pre-norm transformer
//! layers; returns every token's vector (for cross-attention) and their masked mean (pooled, for
//! the per-frame conditioning). Trained together with the DiT.

use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::{Bool, Distribution, Int, TensorData};

use super::tokenizer::{PAD, Tokens};
use crate::dit::attention::linear3;
use crate::kernels::{attention, gelu};

/// Shape of the text encoder.
#[derive(Config, Debug, PartialEq)]
pub struct TextEncoderConfig {
    /// Token ids (the tokenizer's vocabulary size).
    pub vocab: usize,
    /// Width.
    pub dim: usize,
    /// Transformer layers.
    #[config(default = 2)]
    pub layers: usize,
    /// Attention heads.
    #[config(default = 2)]
    pub heads: usize,
    /// Longest text in tokens.
    #[config(default = 256)]
    pub max_len: usize,
    /// MLP width as a multiple of `dim`.
    #[config(default = 4)]
    pub mlp_ratio: usize,
}

/// One pre-norm transformer layer.
#[derive(Module, Debug)]
pub struct TextLayer<B: Backend> {
    norm1: LayerNorm<B>,
    qkv: Linear<B>,
    out: Linear<B>,
    norm2: LayerNorm<B>,
    mlp_in: Linear<B>,
    mlp_out: Linear<B>,
    heads: usize,
}

impl<B: Backend> TextLayer<B> {
    /// # Shapes
    /// - `x` `[b, L, dim]`, `mask` `[b, heads, L, L]` (`true` = blocked); output `[b, L, dim]`
    fn forward(&self, x: Tensor<B, 3>, mask: Tensor<B, 4, Bool>) -> Tensor<B, 3> {
        let [b, l, d] = x.dims();
        let h = self.heads;
        let qkv = linear3(&self.qkv, self.norm1.forward(x.clone())); // [b, L, 3d]
        let split = |i: usize| qkv.clone().narrow(2, i * d, d).reshape([b, l, h, d / h]).swap_dims(1, 2);
        let o = attention(split(0), split(1), split(2), Some(mask));
        let o = o.swap_dims(1, 2).reshape([b, l, d]); // [b, L, d]
        let x = x + linear3(&self.out, o);
        let m = linear3(&self.mlp_out, gelu(linear3(&self.mlp_in, self.norm2.forward(x.clone()))));
        x + m
    }
}

/// The text encoder.
#[derive(Module, Debug)]
pub struct TextEncoder<B: Backend> {
    embed: Embedding<B>,
    positions: Param<Tensor<B, 2>>,
    layers: Vec<TextLayer<B>>,
    norm: LayerNorm<B>,
    heads: usize,
}

impl TextEncoderConfig {
    /// Builds the encoder with fresh weights.
    pub fn init<B: Backend>(&self, device: &B::Device) -> TextEncoder<B> {
        let d = self.dim;
        TextEncoder {
            embed: EmbeddingConfig::new(self.vocab, d).init(device),
            positions: Param::from_tensor(Tensor::random([self.max_len, d], Distribution::Normal(0.0, 0.02), device)),
            layers: (0..self.layers)
                .map(|_| TextLayer {
                    norm1: LayerNormConfig::new(d).init(device),
                    qkv: LinearConfig::new(d, 3 * d).init(device),
                    out: LinearConfig::new(d, d).init(device),
                    norm2: LayerNormConfig::new(d).init(device),
                    mlp_in: LinearConfig::new(d, self.mlp_ratio * d).init(device),
                    mlp_out: LinearConfig::new(self.mlp_ratio * d, d).init(device),
                    heads: self.heads,
                })
                .collect(),
            norm: LayerNormConfig::new(d).init(device),
            heads: self.heads,
        }
    }
}

/// Encoded texts.
#[derive(Clone, Debug)]
pub struct EncodedText<B: Backend> {
    /// `[b, L, dim]` token vectors (padding positions hold garbage).
    pub tokens: Tensor<B, 3>,
    /// `[b, dim]` mean over each text's real tokens.
    pub pooled: Tensor<B, 2>,
    /// Real tokens per text.
    pub lens: Vec<usize>,
}

impl<B: Backend> EncodedText<B> {
    /// Text `i`'s real tokens.
    ///
    /// # Shapes
    /// - output `[lens[i], dim]`
    pub fn tokens_of(&self, i: usize) -> Tensor<B, 2> {
        let d = self.tokens.dims()[2];
        self.tokens.clone().narrow(0, i, 1).narrow(1, 0, self.lens[i]).reshape([self.lens[i], d])
    }
}

impl<B: Backend> TextEncoder<B> {
    /// Longest text in tokens.
    pub fn max_len(&self) -> usize {
        self.positions.dims()[0]
    }

    /// Encodes a batch of tokenized texts (each at most [`TextEncoder::max_len`] long).
    pub fn forward(&self, texts: &[Tokens], device: &B::Device) -> EncodedText<B> {
        let lens: Vec<usize> = texts.iter().map(|t| t.ids.len().clamp(1, self.max_len())).collect();
        let (b, l) = (texts.len(), lens.iter().copied().max().unwrap_or(1));
        let mut ids = vec![PAD as i64; b * l];
        let mut blocked = vec![true; b * l * l];
        let mut weights = vec![0f32; b * l];
        for (i, t) in texts.iter().enumerate() {
            for (j, id) in t.ids.iter().take(lens[i]).enumerate() {
                ids[i * l + j] = i64::from(*id);
                weights[i * l + j] = 1.0 / lens[i] as f32;
            }
            for q in 0..l {
                // Real tokens see the real tokens; padding sees only itself.
                for k in 0..l {
                    blocked[(i * l + q) * l + k] = if q < lens[i] { k >= lens[i] } else { k != q };
                }
            }
        }
        let ids = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [b, l]), device);
        let mask = Tensor::<B, 1, Bool>::from_data(TensorData::new(blocked, [b * l * l]), device)
            .reshape([b, 1, l, l])
            .repeat_dim(1, self.heads);
        let d = self.positions.dims()[1];
        let mut x = self.embed.forward(ids) + self.positions.val().narrow(0, 0, l).reshape([1, l, d]); // [b, L, d]
        for layer in &self.layers {
            x = layer.forward(x, mask.clone());
        }
        let x = self.norm.forward(x);
        let w = Tensor::<B, 1>::from_floats(weights.as_slice(), device).reshape([b, l, 1]);
        let pooled = (x.clone() * w).sum_dim(1).reshape([b, d]);
        EncodedText { tokens: x, pooled, lens }
    }
}
