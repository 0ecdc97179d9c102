//! The VAE decoder: latent → video, causal in time, runnable one latent frame at a time.

use burn::module::Module;
use burn::prelude::*;

use super::blocks::{ChunkCache, FrameGroupNorm, ResBlock, ResBlockConfig, Upsample};
use super::causal_conv::{CausalConv3d, CausalConv3dConfig};
use super::config::VaeConfig;

/// One resolution level: residual blocks, then (except at full resolution) an upsampler.
#[derive(Module, Debug)]
struct DecoderLevel<B: Backend> {
    blocks: Vec<ResBlock<B>>,
    up: Option<Upsample<B>>,
}

/// The decoder.
#[derive(Module, Debug)]
pub struct Decoder<B: Backend> {
    conv_in: CausalConv3d<B>,
    mid: ResBlock<B>,
    levels: Vec<DecoderLevel<B>>,
    norm_out: FrameGroupNorm<B>,
    conv_out: CausalConv3d<B>,
}

impl<B: Backend> Decoder<B> {
    /// Builds the decoder of `config` (the encoder's mirror).
    pub fn new(config: &VaeConfig, device: &B::Device) -> Self {
        let ch = &config.channels;
        let n = ch.len();
        let block = |cin: usize, cout: usize| res_block(config, [cin, cout], device);
        let last = ch[n - 1];
        // Level i (from the lowest resolution up) works at ch[n-1-i] and then upsamples by the
        // step between levels n-2-i and n-1-i of the encoder.
        let levels = (0..n)
            .map(|i| {
                let c = level_channels(config, i);
                let cin = if i == 0 { last } else { ch[n - i] };
                let blocks = (0..config.decoder_blocks(i)).map(|j| block(if j == 0 { cin } else { c }, c)).collect();
                let step = n.checked_sub(2 + i);
                let up = step.map(|s| Upsample::new(c, config.spatial_down[s], config.temporal_down[s], device));
                DecoderLevel { blocks, up }
            })
            .collect();
        Decoder {
            conv_in: CausalConv3dConfig::new([config.latent_channels, last], [1, 3, 3]).init(device),
            mid: block(last, last),
            levels,
            norm_out: FrameGroupNorm::new(ch[0], config.groups, device),
            conv_out: CausalConv3dConfig::new([ch[0], config.image_channels], [3, 3, 3]).init(device),
        }
    }

    /// This decoder grown to `config` (its own but for deeper levels or more latent channels):
    /// `config.decoder_blocks(level)` residual blocks at each level, the new ones after the
    /// trained ones and starting as the identity (their last conv is zero), and
    /// `config.latent_channels` inputs, the new ones with zero weights. The grown decoder
    /// decodes exactly as this one (whatever the new latent channels hold) until it is trained.
    pub fn grown(mut self, config: &VaeConfig, device: &B::Device) -> Self {
        let [own, out] = self.conv_in.channels();
        if config.latent_channels > own {
            let wider = CausalConv3dConfig::new([config.latent_channels, out], [1, 3, 3]).init(device).zeroed();
            self.conv_in = wider.with_channels_from(&self.conv_in, 1, &[(0, 0, own)]);
        }
        for (i, level) in self.levels.iter_mut().enumerate() {
            let c = level_channels(config, i);
            while level.blocks.len() < config.decoder_blocks(i) {
                level.blocks.push(res_block(config, [c, c], device).with_zero_output());
            }
        }
        self
    }

    /// Decodes the next latent frames of a clip; `cache` carries the causal convs' past from
    /// the previous chunk (fresh for the clip's start).
    ///
    /// # Shapes
    /// - input `[batch, latent_channels, n, h, w]`
    /// - output `[batch, image_channels, ft·n (ft·(n-1) + 1 for the first chunk), h·fs, w·fs]`
    pub fn forward_chunk(&self, z: Tensor<B, 5>, cache: &mut ChunkCache<B>) -> Tensor<B, 5> {
        cache.rewind();
        let mut h = self.mid.forward_chunk(self.conv_in.forward(z), cache);
        for level in &self.levels {
            for block in &level.blocks {
                h = block.forward_chunk(h, cache);
            }
            if let Some(up) = &level.up {
                h = up.forward_chunk(h, cache);
            }
        }
        let h = self.norm_out.forward_silu(h);
        cache.run(&self.conv_out, h)
    }
}

/// Channels of decoder level `i` (0 is the lowest resolution): the encoder's levels, mirrored.
fn level_channels(config: &VaeConfig, i: usize) -> usize {
    config.channels[config.channels.len() - 1 - i]
}

/// A residual block of the decoder of `config`, `channels` `[in, out]`.
fn res_block<B: Backend>(config: &VaeConfig, channels: [usize; 2], device: &B::Device) -> ResBlock<B> {
    ResBlockConfig::new(channels, config.groups, config.factorized).init(device)
}
