//! The VAE's building blocks: per-frame group normalisation, residual blocks, and spatial and
//! temporal resampling. Every block is causal in time and can run chunk by chunk with a cache
//! (see [`super::causal_conv`]).

use burn::module::{Module, Param};
use burn::prelude::*;

use super::causal_conv::{CausalConv3d, CausalConv3dConfig};
use crate::kernels;

/// Group normalisation computed per frame (never across time, so the future cannot leak into
/// the past and streaming matches full-clip processing).
#[derive(Module, Debug)]
pub struct FrameGroupNorm<B: Backend> {
    gamma: Param<Tensor<B, 1>>,
    beta: Param<Tensor<B, 1>>,
    groups: usize,
    epsilon: f64,
}

impl<B: Backend> FrameGroupNorm<B> {
    /// A norm over `channels` in `groups` groups.
    pub fn new(channels: usize, groups: usize, device: &B::Device) -> Self {
        assert!(channels.is_multiple_of(groups), "channels ({channels}) must be a multiple of groups ({groups})");
        FrameGroupNorm {
            gamma: Param::from_tensor(Tensor::ones([channels], device)),
            beta: Param::from_tensor(Tensor::zeros([channels], device)),
            groups,
            epsilon: 1e-5,
        }
    }

    /// `silu(norm(x) · γ + β)`: the norm always feeds a SiLU here, so the two run fused.
    ///
    /// # Shapes
    /// - input and output `[batch, channels, t, h, w]`
    pub fn forward_silu(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        kernels::group_norm_silu(x, self.gamma.val(), self.beta.val(), self.groups, self.epsilon)
    }
}

/// Configuration of a [`ResBlock`].
#[derive(Config, Debug)]
pub struct ResBlockConfig {
    /// Input and output channels.
    pub channels: [usize; 2],
    /// Groups of the norms.
    pub groups: usize,
    /// `true`: each conv is a spatial `1×3×3` then a temporal `3×1×1` conv ((2+1)D);
    /// `false`: full `3×3×3` convs.
    pub factorized: bool,
}

/// A causal conv, full 3×3×3 or factorised (2+1)D.
#[derive(Module, Debug)]
pub struct StConv<B: Backend> {
    spatial: CausalConv3d<B>,
    temporal: Option<CausalConv3d<B>>,
}

impl<B: Backend> StConv<B> {
    /// A `c_in → c_out` causal conv.
    pub fn new(channels: [usize; 2], factorized: bool, device: &B::Device) -> Self {
        if factorized {
            StConv {
                spatial: CausalConv3dConfig::new(channels, [1, 3, 3]).init(device),
                temporal: Some(CausalConv3dConfig::new([channels[1], channels[1]], [3, 1, 1]).init(device)),
            }
        } else {
            StConv { spatial: CausalConv3dConfig::new(channels, [3, 3, 3]).init(device), temporal: None }
        }
    }

    /// This conv with its last layer's weights and bias set to zero: it outputs zeros.
    pub fn with_zero_output(self) -> Self {
        match self.temporal {
            Some(t) => StConv { temporal: Some(t.zeroed()), ..self },
            None => StConv { spatial: self.spatial.zeroed(), temporal: None },
        }
    }

    /// # Shapes
    /// - input `[batch, c_in, n, h, w]`, output `[batch, c_out, n, h, w]`
    pub fn forward_chunk(&self, x: Tensor<B, 5>, cache: &mut ChunkCache<B>) -> Tensor<B, 5> {
        let y = cache.run(&self.spatial, x);
        match &self.temporal {
            Some(t) => cache.run(t, y),
            None => y,
        }
    }
}

/// The caches of every causal conv of a network, in call order, for chunk-by-chunk runs.
/// A fresh cache means "this is the clip's first chunk".
#[derive(Debug)]
pub struct ChunkCache<B: Backend> {
    slots: Vec<Option<Tensor<B, 5>>>,
    next: usize,
}

impl<B: Backend> Default for ChunkCache<B> {
    fn default() -> Self {
        ChunkCache { slots: Vec::new(), next: 0 }
    }
}

impl<B: Backend> ChunkCache<B> {
    /// Whether the next conv call is part of the clip's first chunk (its slot does not exist
    /// yet).
    pub fn first_chunk(&self) -> bool {
        self.next >= self.slots.len()
    }

    /// Starts the next chunk: convs are called again from the first.
    pub fn rewind(&mut self) {
        self.next = 0;
    }

    /// Runs `conv` on the chunk with the cache slot that belongs to this call.
    pub fn run(&mut self, conv: &CausalConv3d<B>, x: Tensor<B, 5>) -> Tensor<B, 5> {
        if self.next == self.slots.len() {
            self.slots.push(None);
        }
        let slot = self.slots[self.next].take();
        let (y, next) = conv.forward_chunk(x, slot);
        self.slots[self.next] = next;
        self.next += 1;
        y
    }
}

/// Norm → SiLU → conv, twice, plus a skip (1×1×1 conv when channels change).
#[derive(Module, Debug)]
pub struct ResBlock<B: Backend> {
    norm1: FrameGroupNorm<B>,
    conv1: StConv<B>,
    norm2: FrameGroupNorm<B>,
    conv2: StConv<B>,
    skip: Option<CausalConv3d<B>>,
}

impl ResBlockConfig {
    /// Builds the block.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ResBlock<B> {
        let [cin, cout] = self.channels;
        ResBlock {
            norm1: FrameGroupNorm::new(cin, self.groups, device),
            conv1: StConv::new([cin, cout], self.factorized, device),
            norm2: FrameGroupNorm::new(cout, self.groups, device),
            conv2: StConv::new([cout, cout], self.factorized, device),
            skip: (cin != cout).then(|| CausalConv3dConfig::new([cin, cout], [1, 1, 1]).init(device)),
        }
    }
}

impl<B: Backend> ResBlock<B> {
    /// This block with its last conv zeroed: with equal channels (no skip conv) it is the
    /// identity until trained, the way a network is grown without changing what it computes.
    pub fn with_zero_output(self) -> Self {
        ResBlock { conv2: self.conv2.with_zero_output(), ..self }
    }

    /// # Shapes
    /// - input `[batch, c_in, n, h, w]`, output `[batch, c_out, n, h, w]`
    pub fn forward_chunk(&self, x: Tensor<B, 5>, cache: &mut ChunkCache<B>) -> Tensor<B, 5> {
        let h = self.conv1.forward_chunk(self.norm1.forward_silu(x.clone()), cache);
        let h = self.conv2.forward_chunk(self.norm2.forward_silu(h), cache);
        let skip = match &self.skip {
            Some(s) => s.forward(x),
            None => x,
        };
        skip + h
    }
}

/// Halves height and width (stride-2 `1×3×3` conv) and, if `temporal`, halves time causally
/// (stride-2 `3×1×1` conv: `1 + 2k` frames become `1 + k`, the first on its own).
#[derive(Module, Debug)]
pub struct Downsample<B: Backend> {
    spatial: Option<CausalConv3d<B>>,
    temporal: Option<CausalConv3d<B>>,
}

impl<B: Backend> Downsample<B> {
    /// A downsampler of `channels` channels.
    pub fn new(channels: usize, spatial: bool, temporal: bool, device: &B::Device) -> Self {
        Downsample {
            spatial: spatial
                .then(|| CausalConv3dConfig::new([channels, channels], [1, 3, 3]).with_stride([1, 2, 2]).init(device)),
            temporal: temporal
                .then(|| CausalConv3dConfig::new([channels, channels], [3, 1, 1]).with_stride([2, 1, 1]).init(device)),
        }
    }

    /// # Shapes
    /// - input `[batch, c, t, h, w]`
    /// - output `[batch, c, t' , h', w']`: `t' = (t - 1) / 2 + 1` if temporal, `h' = h / 2` if spatial
    pub fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        let x = match &self.spatial {
            Some(s) => s.forward(x),
            None => x,
        };
        match &self.temporal {
            Some(t) => t.forward(x),
            None => x,
        }
    }
}

/// Doubles height and width (nearest neighbour, then a `1×3×3` conv) and, if `temporal`, doubles
/// time causally: the clip's first frame gives one frame, every later frame gives two.
#[derive(Module, Debug)]
pub struct Upsample<B: Backend> {
    spatial: Option<CausalConv3d<B>>,
    temporal: Option<CausalConv3d<B>>,
}

impl<B: Backend> Upsample<B> {
    /// An upsampler of `channels` channels.
    pub fn new(channels: usize, spatial: bool, temporal: bool, device: &B::Device) -> Self {
        Upsample {
            spatial: spatial.then(|| CausalConv3dConfig::new([channels, channels], [1, 3, 3]).init(device)),
            temporal: temporal.then(|| CausalConv3dConfig::new([channels, 2 * channels], [3, 1, 1]).init(device)),
        }
    }

    /// # Shapes
    /// - input `[batch, c, n, h, w]`
    /// - output `[batch, c, n', 2h or h, 2w or w]` with `n' = 2n` (or `2n - 1` for the clip's
    ///   first chunk) if temporal
    pub fn forward_chunk(&self, x: Tensor<B, 5>, cache: &mut ChunkCache<B>) -> Tensor<B, 5> {
        let x = match &self.temporal {
            Some(conv) => {
                let first = cache.first_chunk();
                let [b, c, n, h, w] = x.dims();
                let y = cache.run(conv, x); // [b, 2c, n, h, w]
                // Channel half j becomes the j-th of two frames per input frame.
                let y = y.reshape([b, 2, c, n, h, w]).permute([0, 2, 3, 1, 4, 5]).reshape([b, c, 2 * n, h, w]);
                if first { y.narrow(2, 1, 2 * n - 1) } else { y }
            }
            None => x,
        };
        match &self.spatial {
            // A 1×3×3 conv has no past, so it takes no chunk-cache slot.
            Some(conv) => conv.forward_upsampled(x),
            None => x,
        }
    }
}
