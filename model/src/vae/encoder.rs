//! The VAE encoder: video → latent mean and log-variance, causal in time.

use burn::module::Module;
use burn::prelude::*;

use super::blocks::{ChunkCache, Downsample, FrameGroupNorm, ResBlock, ResBlockConfig};
use super::causal_conv::{CausalConv3d, CausalConv3dConfig};
use super::config::VaeConfig;

/// One resolution level: residual blocks, then (except at the last level) a downsampler.
#[derive(Module, Debug)]
struct EncoderLevel<B: Backend> {
    blocks: Vec<ResBlock<B>>,
    down: Option<Downsample<B>>,
}

/// The encoder.
#[derive(Module, Debug)]
pub struct Encoder<B: Backend> {
    conv_in: CausalConv3d<B>,
    levels: Vec<EncoderLevel<B>>,
    mid: ResBlock<B>,
    norm_out: FrameGroupNorm<B>,
    conv_out: CausalConv3d<B>,
}

impl<B: Backend> Encoder<B> {
    /// Builds the encoder of `config`.
    pub fn new(config: &VaeConfig, device: &B::Device) -> Self {
        let ch = &config.channels;
        let block = |cin: usize, cout: usize| {
            ResBlockConfig::new([cin, cout], config.groups, config.factorized).init::<B>(device)
        };
        let levels = (0..ch.len())
            .map(|i| {
                let cin = if i == 0 { ch[0] } else { ch[i - 1] };
                let blocks = (0..config.res_blocks).map(|j| block(if j == 0 { cin } else { ch[i] }, ch[i])).collect();
                let down = (i + 1 < ch.len())
                    .then(|| Downsample::new(ch[i], config.spatial_down[i], config.temporal_down[i], device));
                EncoderLevel { blocks, down }
            })
            .collect();
        let last = *ch.last().expect("at least one level");
        Encoder {
            conv_in: CausalConv3dConfig::new([config.image_channels, ch[0]], [3, 3, 3]).init(device),
            levels,
            mid: block(last, last),
            norm_out: FrameGroupNorm::new(last, config.groups, device),
            conv_out: CausalConv3dConfig::new([last, 2 * config.latent_channels], [1, 3, 3]).init(device),
        }
    }

    /// # Shapes
    /// - input `[batch, image_channels, 1 + ft·k, h, w]` in `[-1, 1]`
    /// - output `[batch, 2 · latent_channels, 1 + k, h / fs, w / fs]` (mean, then log-variance)
    pub fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        // The encoder sees whole clips; a fresh cache per call makes every conv pad causally.
        let mut cache = ChunkCache::default();
        let mut h = self.conv_in.forward(x);
        for level in &self.levels {
            for block in &level.blocks {
                h = block.forward_chunk(h, &mut cache);
            }
            if let Some(down) = &level.down {
                h = down.forward(h);
            }
        }
        let h = self.mid.forward_chunk(h, &mut cache);
        self.conv_out.forward(self.norm_out.forward_silu(h))
    }
}
