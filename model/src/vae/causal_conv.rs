//! Causal 3D convolution: pads only the past (by repeating the first frame), so output frame
//! `t` never sees input frames after `t`. With a cache of the last input frames it runs chunk by
//! chunk and gives exactly what it gives on the whole clip: the basis of streaming decode.

use burn::module::Module;
use burn::nn::PaddingConfig3d;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::prelude::*;
use burn::tensor::ops::ConvOptions;

use crate::grow::{remap, splice};
use crate::kernels;

/// A causal convolution's configuration.
#[derive(Config, Debug)]
pub struct CausalConv3dConfig {
    /// Input and output channels.
    pub channels: [usize; 2],
    /// Kernel `[time, height, width]`; height and width odd (symmetric spatial padding).
    pub kernel: [usize; 3],
    /// Stride `[time, height, width]`.
    #[config(default = "[1, 1, 1]")]
    pub stride: [usize; 3],
}

impl CausalConv3dConfig {
    /// Builds the layer.
    pub fn init<B: Backend>(&self, device: &B::Device) -> CausalConv3d<B> {
        let [_, kh, kw] = self.kernel;
        let conv = Conv3dConfig::new(self.channels, self.kernel)
            .with_stride(self.stride)
            .with_padding(PaddingConfig3d::Explicit(0, kh / 2, kw / 2))
            .init(device);
        CausalConv3d { conv, past: self.kernel[0] - 1, stride_t: self.stride[0] }
    }
}

/// A 3D convolution that pads only the past.
#[derive(Module, Debug)]
pub struct CausalConv3d<B: Backend> {
    conv: Conv3d<B>,
    /// Input frames of the past each output needs (`kernel_t - 1`).
    past: usize,
    /// Temporal stride.
    stride_t: usize,
}

impl<B: Backend> CausalConv3d<B> {
    /// Input and output channels.
    pub fn channels(&self) -> [usize; 2] {
        let [out, per_group, ..] = self.conv.weight.lazy_shape().dims::<5>();
        [per_group * self.conv.groups, out]
    }

    /// This layer with weights and bias set to zero.
    pub fn zeroed(mut self) -> Self {
        self.conv.weight = remap(self.conv.weight, |w| w.zeros_like());
        self.conv.bias = self.conv.bias.map(|b| remap(b, |b| b.zeros_like()));
        self
    }

    /// This layer with some of its channels taken from `source`: each piece `(from, to, len)`
    /// copies `source`'s channels `from..from + len` along `dim` (0: output channels, with their
    /// bias; 1: input channels, where the bias, one per output, is `source`'s whole) into
    /// channels `to..to + len` of this layer; the other channels stay. Pieces are sorted by `to`
    /// and do not overlap. The copy is exact: what grows a trained layer, or keeps part of it
    /// fixed during training.
    pub fn with_channels_from(
        mut self,
        source: &CausalConv3d<B>,
        dim: usize,
        pieces: &[(usize, usize, usize)],
    ) -> Self {
        let weight = source.conv.weight.val();
        self.conv.weight = remap(self.conv.weight, |w| splice(w, weight, dim, pieces));
        let bias = source.conv.bias.as_ref().map(|b| b.val());
        self.conv.bias = self.conv.bias.map(|b| {
            remap(b, |own| match bias {
                Some(src) if dim == 0 => splice(own, src, 0, pieces),
                Some(src) => src,
                None => own,
            })
        });
        self
    }

    /// Convolves a whole clip.
    ///
    /// # Shapes
    /// - input `[batch, c_in, t, h, w]`
    /// - output `[batch, c_out, (t - 1) / stride_t + 1, h / stride_h, w / stride_w]`
    pub fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        self.forward_chunk(x, None).0
    }

    /// Convolves the next frames of a clip, given the cache from the previous chunk (`None`
    /// for the clip's first chunk). Returns the output and the cache for the next chunk.
    /// Chunks are only supported at temporal stride 1.
    ///
    /// # Shapes
    /// - input `[batch, c_in, n, h, w]`, cache `[batch, c_in, kernel_t - 1, h, w]`
    /// - output `[batch, c_out, n, h', w']`
    pub fn forward_chunk(&self, x: Tensor<B, 5>, cache: Option<Tensor<B, 5>>) -> (Tensor<B, 5>, Option<Tensor<B, 5>>) {
        if self.past == 0 {
            return (self.convolve(x), None);
        }
        debug_assert!(cache.is_none() || self.stride_t == 1, "chunked causal convs need temporal stride 1");
        let past = cache.unwrap_or_else(|| x.clone().narrow(2, 0, 1).repeat_dim(2, self.past));
        let padded = kernels::cat(vec![past, x], 2); // [b, c, past + n, h, w]
        let t = padded.dims()[2];
        let next = padded.clone().narrow(2, t - self.past, self.past);
        (self.convolve(padded), Some(next))
    }

    /// Convolves the 2× nearest-neighbour upsampling (in height and width) of a clip: the same
    /// as [`Self::forward`] on the upsampled clip, without making it (on the CPU, a 1×3×3 kernel
    /// becomes four 2×2 kernels on the input). Only for convolutions without a past (`kernel_t`
    /// 1), which need no chunk cache.
    ///
    /// # Shapes
    /// - input `[batch, c_in, t, h, w]`, output `[batch, c_out, t, 2h, 2w]`
    pub fn forward_upsampled(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        debug_assert_eq!(self.past, 0, "upsampled convolutions have no past");
        let conv = &self.conv;
        kernels::upsample2x_conv3d(x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), self.options())
    }

    /// The inner convolution (burn's `Conv3d`, with the fast kernels on the CPU).
    ///
    /// # Shapes
    /// - input `[batch, c_in, t, h, w]` (already padded in time), output `[batch, c_out, t', h', w']`
    fn convolve(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        let conv = &self.conv;
        kernels::conv3d(x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), self.options())
    }

    /// The inner convolution's options: the padding `init` configured — none in time (done by
    /// the caller), half the kernel in space.
    fn options(&self) -> ConvOptions<3> {
        let conv = &self.conv;
        let [_, kh, kw] = conv.kernel_size;
        ConvOptions::new(conv.stride, [0, kh / 2, kw / 2], conv.dilation, conv.groups)
    }
}
