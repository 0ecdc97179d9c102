//! A 3×3 convolution (padding 1) of a 2× nearest-neighbour upsampling, as the decoder's
//! upsamplers use it. Every 2×2 block of the upsampled image repeats one input pixel, so each of
//! the four output phases `(py, px)` is a 2×2 convolution of the *input* with taps summed from
//! the 3×3 kernel: 4 taps per output pixel instead of 9, and the 4× larger upsampled tensor is
//! never made. On the CPU this runs on the input's padded planes (`conv_planes`); elsewhere
//! (and under autodiff) it is the plain upsample and convolution, the same numbers up to
//! rounding.

use burn::prelude::*;
use burn::tensor::ops::ConvOptions;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::conv::conv3d;
use super::conv_planes::Geometry;
use super::gemm::{self, View};
use super::route::{Kind, cast, kind_of};
use super::storage::{contiguous, flex_tensor, values, wrap};
use crate::Cpu;

/// Output phases per axis (the upsampling factor) and the input taps of one phase per axis.
const FACTOR: usize = 2;

/// Which of a phase's two input taps (0: the row or column before, 1: the one after, in the
/// padded input) tap `k` of the 3-tap kernel reads, for output phase `p`: phase 0 (an even
/// upsampled row `2y`) reads upsampled rows `2y − 1, 2y, 2y + 1` = input rows `y − 1, y, y`;
/// phase 1 reads `2y, 2y + 1, 2y + 2` = input rows `y, y, y + 1`.
fn merged_tap(p: usize, k: usize) -> usize {
    (p + k).div_ceil(FACTOR) - p
}

/// `conv3d(upsample_nearest_2x(x), weight, bias)` for a `1×3×3` kernel with stride 1 and
/// padding `[0, 1, 1]` (the decoder's upsamplers); any other convolution is the plain pair.
///
/// # Shapes
/// - `x` `[batch, c_in, t, h, w]`, `weight` `[c_out, c_in, 1, 3, 3]`, `bias` `[c_out]`
/// - output `[batch, c_out, t, 2h, 2w]`
pub fn upsample2x_conv3d<B: Backend>(
    x: Tensor<B, 5>,
    weight: Tensor<B, 5>,
    bias: Option<Tensor<B, 1>>,
    options: ConvOptions<3>,
) -> Tensor<B, 5> {
    let fused = weight.dims()[2..] == [1, 3, 3]
        && options.stride == [1, 1, 1]
        && options.padding == [0, 1, 1]
        && options.dilation == [1, 1, 1]
        && options.groups == 1;
    if fused && kind_of(&x) == Kind::Cpu && kind_of(&weight) == Kind::Cpu {
        let flex = |t: Tensor<B, 5>| contiguous(cast::<_, Tensor<Cpu, 5>>(t).into_primitive().tensor());
        let bias = bias.map(|b| contiguous(cast::<_, Tensor<Cpu, 1>>(b).into_primitive().tensor()));
        return cast(wrap::<5>(upsample_conv_cpu(flex(x), flex(weight), bias)));
    }
    conv3d(upsample2x(x), weight, bias, options)
}

/// Nearest-neighbour 2× upsampling in height and width.
///
/// # Shapes
/// - `x` `[batch, c, t, h, w]`, output `[batch, c, t, 2h, 2w]`
pub fn upsample2x<B: Backend>(x: Tensor<B, 5>) -> Tensor<B, 5> {
    let [b, c, n, h, w] = x.dims();
    x.reshape([b, c, n, h, 1, w, 1]).expand([b, c, n, h, FACTOR, w, FACTOR]).reshape([b, c, n, FACTOR * h, FACTOR * w])
}

/// The four phases' 2×2 kernels, `[phase, c_out, c_in, 2, 2]` (phase `py · 2 + px`), each tap
/// the sum of the 3×3 taps that read the same input pixel.
///
/// # Shapes
/// - `weight` `[c_out, c_in, 1, 3, 3]` (values)
fn phase_kernels(weight: &[f32], co: usize, ci: usize) -> Vec<f32> {
    const K: usize = 3;
    let mut merged = vec![0.0f32; FACTOR * FACTOR * co * ci * FACTOR * FACTOR];
    for py in 0..FACTOR {
        for px in 0..FACTOR {
            let phase = py * FACTOR + px;
            for oc in 0..co * ci {
                let src = &weight[oc * K * K..][..K * K];
                let dst = &mut merged[(phase * co * ci + oc) * FACTOR * FACTOR..][..FACTOR * FACTOR];
                for b in 0..K {
                    for e in 0..K {
                        dst[merged_tap(py, b) * FACTOR + merged_tap(px, e)] += src[b * K + e];
                    }
                }
            }
        }
    }
    merged
}

/// The fused forward on burn-flex.
///
/// # Shapes
/// - `x` `[batch, c_in, t, h, w]`, `weight` `[c_out, c_in, 1, 3, 3]`, `bias` `[c_out]`
/// - output `[batch, c_out, t, 2h, 2w]`
fn upsample_conv_cpu(x: FlexTensor, weight: FlexTensor, bias: Option<FlexTensor>) -> FlexTensor {
    // The input's planes for a 3×3 window with padding 1: plane rows `y + r` hold input row
    // `y + r − 1`, so phase `(py, px)`'s tap `(i, j)` is the window at `(py + i, px + j)`.
    let options = ConvOptions::new([1, 1, 1], [0, 1, 1], [1, 1, 1], 1);
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), &options);
    let (co, ci, rows) = (g.co, g.ci, g.rows());
    let (planes, frames) = g.planes(values(&x));
    let kernels = phase_kernels(values(&weight), co, ci);
    let taps = FACTOR * FACTOR;
    let phases = FACTOR * FACTOR;
    let mut products = vec![0.0f32; g.batch * g.t * phases * co * rows]; // [batch, t, phase, c_out, rows]
    products.par_chunks_mut(co * rows).enumerate().for_each(|(task, out)| {
        let (frame, phase) = (task / phases, task % phases);
        let (n, it) = (frame / g.t, frame % g.t);
        let (py, px) = (phase / FACTOR, phase % FACTOR);
        for i in 0..FACTOR {
            for j in 0..FACTOR {
                gemm::matmul(
                    out,
                    View::new(0, [rows, co], [1, rows]),
                    &planes,
                    View::new(frames.at(n, it) + g.window(py + i, px + j), [rows, ci], [1, frames.channel]),
                    &kernels,
                    View::new(phase * co * ci * taps + i * FACTOR + j, [ci, co], [taps, ci * taps]),
                    i + j > 0,
                    1,
                );
            }
        }
    });
    // Interleave the phases into the upsampled frames, dropping the planes' scratch columns.
    let (t, h, w) = (g.t, g.ho, g.wo);
    let (h2, w2, wq) = (FACTOR * h, FACTOR * w, rows / h.max(1));
    let bias = bias.as_ref().map(values);
    let mut y = vec![0.0f32; g.batch * co * t * h2 * w2];
    y.par_chunks_mut(t * h2 * w2).enumerate().for_each(|(slab, out)| {
        let (n, o) = (slab / co, slab % co);
        let b = bias.map_or(0.0, |b| b[o]);
        for it in 0..t {
            for phase in 0..phases {
                let (py, px) = (phase / FACTOR, phase % FACTOR);
                let src = &products[(((n * t + it) * phases + phase) * co + o) * rows..][..rows];
                for yy in 0..h {
                    let dst = &mut out[(it * h2 + FACTOR * yy + py) * w2..][..w2];
                    for (xx, &v) in src[yy * wq..yy * wq + w].iter().enumerate() {
                        dst[FACTOR * xx + px] = v + b;
                    }
                }
            }
        }
    });
    flex_tensor(y, &[g.batch, co, t, h2, w2])
}
