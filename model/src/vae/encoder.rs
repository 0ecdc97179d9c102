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

    /// This encoder with `config.latent_channels` latent channels (at least as many as it has):
    /// its own keep their mean and log-variance weights exactly, so the latent space a DiT
    /// knows is the first channels of the wider one. The new channels' means start fresh; their
    /// log-variances start as those of the trained channels (new channel `j` as channel
    /// `j mod own`), so they are as certain, nearly noiseless, from the start: a new channel
    /// that began at the prior's unit variance would carry only noise, and the decoder would
    /// learn little from it.
    pub fn widened(self, config: &VaeConfig, device: &B::Device) -> Self {
        let [last, out] = [self.conv_out.channels()[0], config.latent_channels];
        let own = self.conv_out.channels()[1] / 2;
        if out == own {
            return self;
        }
        let fresh = CausalConv3dConfig::new([last, 2 * out], [1, 3, 3]).init(device);
        let mut pieces = latent_pieces(own, own, out).to_vec();
        pieces.extend((own..out).map(|j| (own + j % own, out + j, 1)));
        Encoder { conv_out: fresh.with_channels_from(&self.conv_out, 0, &pieces), ..self }
    }

    /// This encoder with the first `kept` latent channels' weights (mean and log-variance) set
    /// back to `source`'s, the same architecture: what keeps them fixed while the others train.
    pub fn with_latent_kept_from(self, source: &Encoder<B>, kept: usize) -> Self {
        let latent = self.conv_out.channels()[1] / 2;
        let conv_out = self.conv_out.with_channels_from(&source.conv_out, 0, &latent_pieces(kept, latent, latent));
        Encoder { conv_out, ..self }
    }

    /// The trunk: everything but the last conv, which makes the latent's mean and log-variance.
    ///
    /// # Shapes
    /// - input `[batch, image_channels, 1 + ft·k, h, w]` in `[-1, 1]`
    /// - output `[batch, channels.last, 1 + k, h / fs, w / fs]`
    pub fn features(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
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
        self.norm_out.forward_silu(h)
    }

    /// The last conv, on the trunk's [features](Self::features).
    ///
    /// # Shapes
    /// - input `[batch, channels.last, t', h', w']`
    /// - output `[batch, 2 · latent_channels, t', h', w']` (mean, then log-variance)
    pub fn head(&self, features: Tensor<B, 5>) -> Tensor<B, 5> {
        self.conv_out.forward(features)
    }
}

/// The pieces (see [`CausalConv3d::with_channels_from`]) that copy the mean and log-variance
/// rows of the first `kept` latent channels of a head with `from` latent channels into one with
/// `to`: means first, then log-variances.
fn latent_pieces(kept: usize, from: usize, to: usize) -> [(usize, usize, usize); 2] {
    [(0, 0, kept), (from, to, kept)]
}
