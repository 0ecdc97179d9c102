//! The denoiser: the DiT and the text encoder that feeds it, trained together, and the one call
//! that turns noisy latent samples with their captions into velocity predictions. Training and
//! generation both go through [`Denoiser::predict`], so they cannot disagree about inputs.

use burn::module::Module;
use burn::prelude::*;

use super::config::DitConfig;
use super::layout::{AttentionMode, Layout, SampleShape};
use super::model::{Dit, DitInput};
use crate::text::encoder::EncodedText;
use crate::text::{TextEncoder, Tokens};

/// The DiT with its text encoder.
#[derive(Module, Debug)]
pub struct Denoiser<B: Backend> {
    /// The diffusion transformer.
    pub dit: Dit<B>,
    /// The caption encoder.
    pub text: TextEncoder<B>,
}

/// One noisy sample to denoise.
#[derive(Clone, Debug)]
pub struct NoisySample<B: Backend> {
    /// Latent frames and patch grid.
    pub frames: usize,
    /// Patches along height and width.
    pub grid: (usize, usize),
    /// `[frames · gh · gw, token_dim]` noisy tokens.
    pub tokens: Tensor<B, 2>,
    /// Noise level of each latent frame.
    pub noise: Vec<f32>,
    /// The caption (or the null condition).
    pub caption: Tokens,
    /// The action caption in force at each latent frame (`None`: no action).
    pub actions: Vec<Option<Tokens>>,
}

impl<B: Backend> Denoiser<B> {
    /// This denoiser with its DiT [grown](Dit::grown) to `config` (more latent channels); the
    /// text encoder is unchanged.
    pub fn grown(self, config: &DitConfig, device: &B::Device) -> Self {
        Denoiser { dit: self.dit.grown(config, device), ..self }
    }

    /// Predicts the velocity of every sample's tokens, packing them into rows of at most
    /// `max_tokens` tokens.
    ///
    /// # Shapes
    /// - each sample's `tokens` `[n_i, token_dim]`; output: one `[n_i, token_dim]` per sample
    pub fn predict(
        &self,
        samples: &[NoisySample<B>],
        mode: AttentionMode,
        max_tokens: usize,
        device: &B::Device,
    ) -> Vec<Tensor<B, 2>> {
        // Every caption, then every distinct action caption, through the encoder at once.
        let mut texts: Vec<Tokens> = samples.iter().map(|s| s.caption.clone()).collect();
        let mut action_slot: Vec<Vec<Option<usize>>> = Vec::with_capacity(samples.len());
        for s in samples {
            let slots = s
                .actions
                .iter()
                .map(|a| {
                    a.as_ref().map(|tokens| {
                        texts.iter().skip(samples.len()).position(|t| t == tokens).map_or_else(
                            || {
                                texts.push(tokens.clone());
                                texts.len() - 1
                            },
                            |i| i + samples.len(),
                        )
                    })
                })
                .collect();
            action_slot.push(slots);
        }
        let encoded: EncodedText<B> = self.text.forward(&texts, device);
        let text_dim = encoded.pooled.dims()[1];
        let zero_action = Tensor::<B, 2>::zeros([1, text_dim], device);

        let shapes: Vec<SampleShape> =
            samples.iter().enumerate().map(|(i, s)| SampleShape::new(s.frames, s.grid, encoded.lens[i])).collect();
        let layout = Layout::pack(shapes, mode, max_tokens);
        let mut pooled = Vec::new();
        let mut action = Vec::new();
        let mut noise = Vec::new();
        for (i, s) in samples.iter().enumerate() {
            let p = encoded.pooled.clone().narrow(0, i, 1); // [1, text_dim]
            for f in 0..s.frames {
                pooled.push(p.clone());
                action.push(match action_slot[i].get(f).copied().flatten() {
                    Some(slot) => encoded.pooled.clone().narrow(0, slot, 1),
                    None => zero_action.clone(),
                });
                noise.push(s.noise.get(f).copied().unwrap_or(1.0));
            }
        }
        let input = DitInput {
            tokens: layout.pack_tokens(samples.iter().map(|s| s.tokens.clone()).collect()),
            noise: Tensor::from_floats(noise.as_slice(), device),
            pooled_text: Tensor::cat(pooled, 0),
            action: Tensor::cat(action, 0),
            text: layout.pack_text((0..samples.len()).map(|i| encoded.tokens_of(i)).collect()),
        };
        let out = self.dit.forward(input, &self.dit.layout_tensors(&layout, device));
        layout.unpack_tokens(out)
    }
}
