//! A 3×3 convolution (padding 1) of a 2× nearest-neighbour upsampling, as the decoder's
//! upsamplers use it. Every 2×2 block of the upsampled image repeats one input pixel, so each of
//! the four output phases `(py, px)` is a 2×2 convolution of the *input* with taps summed from
//! the 3×3 kernel: 4 taps per output pixel instead of 9, and the 4× larger upsampled tensor is
//! never made. On the CPU this runs on the input's padded planes (`conv_planes`), with a fused
//! backward under autodiff; elsewhere it is the plain upsample and convolution, the same numbers
//! up to rounding.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::prelude::*;
use burn::tensor::ops::ConvOptions;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::conv::{bias_grad, channel_chunk, conv3d, sum_over_frames};
use super::conv_planes::Geometry;
use super::gemm::{self, View};
use super::node::record;
use super::route::{Kind, cast, kind_of};
use super::storage::{contiguous, flex_of, flex_tensor, values, wrap};
use crate::{Cpu, CpuAutodiff};

/// Output phases per axis (the upsampling factor) and the input taps of one phase per axis.
const FACTOR: usize = 2;

/// Which of a phase's two input taps (0: the row or column before, 1: the one after, in the
/// padded input) tap `k` of the 3-tap kernel reads, for output phase `p`: phase 0 (an even
/// upsampled row `2y`) reads upsampled rows `2y − 1, 2y, 2y + 1` = input rows `y − 1, y, y`;
/// phase 1 reads `2y, 2y + 1, 2y + 2` = input rows `y, y, y + 1`.
fn merged_tap(p: usize, k: usize) -> usize {
    (p + k).div_ceil(FACTOR) - p
}

/// Phase `py · 2 + px`'s taps `(tap, b, e)`: tap `i · 2 + j` reads the planes' window at `(b,
/// e) = (py + i, px + j)`.
fn taps_of(phase: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    let (py, px) = (phase / FACTOR, phase % FACTOR);
    (0..FACTOR * FACTOR).map(move |tap| (tap, py + tap / FACTOR, px + tap % FACTOR))
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
        && options.groups == 1
        && kind_of(&weight) == kind_of(&x)
        && Geometry::fits(&x.dims(), &weight.dims(), &options);
    match (kind_of(&x), bias) {
        (Kind::Cpu, bias) if fused => {
            let bias = bias.map(|b| contiguous(flex_of(b)));
            let (x, weight) = (contiguous(flex_of(x)), contiguous(flex_of(weight)));
            let g = geometry(&x, &weight);
            let y = forward(&g, values(&x), values(&weight), bias.as_ref().map(values));
            cast(wrap::<5>(flex_tensor(y, &output_shape(&g))))
        }
        (Kind::CpuAutodiff, Some(bias)) if fused => cast(upsample_conv_autodiff(cast(x), cast(weight), cast(bias))),
        (_, bias) => conv3d(upsample2x(x), weight, bias, options),
    }
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

/// The geometry of the input's planes for a 3×3 window with padding 1: plane rows `y + r` hold
/// input row `y + r − 1`, so phase `(py, px)`'s tap `(i, j)` is the window at `(py + i, px + j)` ([`taps_of`]).
fn geometry(x: &FlexTensor, weight: &FlexTensor) -> Geometry {
    let options = ConvOptions::new([1, 1, 1], [0, 1, 1], [1, 1, 1], 1);
    Geometry::new(x.layout().shape(), weight.layout().shape(), &options)
}

/// `[batch, c_out, t, 2h, 2w]`.
fn output_shape(g: &Geometry) -> [usize; 5] {
    [g.batch, g.co, g.t, FACTOR * g.ho, FACTOR * g.wo]
}

/// The fused forward.
///
/// # Shapes
/// - `x` `[batch, c_in, t, h, w]`, `weight` `[c_out, c_in, 1, 3, 3]`, `bias` `[c_out]`
/// - output `[batch, c_out, t, 2h, 2w]`
fn forward(g: &Geometry, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (co, ci, rows) = (g.co, g.ci, g.rows());
    let (planes, frames) = g.planes(x);
    let kernels = phase_kernels(weight, co, ci);
    let taps = FACTOR * FACTOR;
    let phases = FACTOR * FACTOR;
    let mut products = vec![0.0f32; g.batch * g.t * phases * co * rows]; // [batch, t, phase, c_out, rows]
    products.par_chunks_mut(co * rows).enumerate().for_each(|(task, out)| {
        let (frame, phase) = (task / phases, task % phases);
        let (n, it) = (frame / g.t, frame % g.t);
        for (p0, len) in g.tiles() {
            for (tap, b, e) in taps_of(phase) {
                gemm::matmul(
                    out,
                    View::new(p0, [len, co], [1, rows]),
                    &planes,
                    View::new(frames.at(n, it) + g.window(b, e) + p0, [len, ci], [1, frames.channel]),
                    &kernels,
                    View::new(phase * co * ci * taps + tap, [ci, co], [taps, ci * taps]),
                    tap > 0,
                    1,
                );
            }
        }
    });
    // Interleave the phases into the upsampled frames, dropping the planes' scratch columns.
    let (t, h, w) = (g.t, g.ho, g.wo);
    let (h2, w2, wq) = (FACTOR * h, FACTOR * w, rows / h.max(1));
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
    y
}

/// The output gradient split by phase at the planes' row width, `[batch, t, phase, c_out,
/// rows]`, zero in the scratch columns.
///
/// # Shapes
/// - `dy` `[batch, c_out, t, 2h, 2w]`
fn phase_rows(g: &Geometry, dy: &[f32]) -> Vec<f32> {
    let (co, t, h, w, rows) = (g.co, g.t, g.ho, g.wo, g.rows());
    let (w2, wq, phases) = (FACTOR * w, rows / h.max(1), FACTOR * FACTOR);
    let mut out = vec![0.0f32; g.batch * t * phases * co * rows];
    out.par_chunks_mut(phases * co * rows).enumerate().for_each(|(frame, out)| {
        let (n, it) = (frame / t, frame % t);
        for phase in 0..phases {
            let (py, px) = (phase / FACTOR, phase % FACTOR);
            for o in 0..co {
                let src = &dy[((n * co + o) * t + it) * FACTOR * h * w2..][..FACTOR * h * w2];
                let dst = &mut out[(phase * co + o) * rows..][..rows];
                for yy in 0..h {
                    let row = &src[(FACTOR * yy + py) * w2..][..w2];
                    for (xx, d) in dst[yy * wq..yy * wq + w].iter_mut().enumerate() {
                        *d = row[FACTOR * xx + px];
                    }
                }
            }
        }
    });
    out
}

/// `∂loss/∂weight`: the gradients of the four phase kernels (`dyᵀ · window` per tap), each
/// 2×2 tap's gradient added to every 3×3 tap merged into it.
///
/// # Shapes
/// - `x` `[batch, c_in, t, h, w]`, `grads` phase rows of `dy` ([`phase_rows`])
/// - output `[c_out, c_in, 1, 3, 3]`
fn weight_grad(g: &Geometry, x: &[f32], grads: &[f32]) -> Vec<f32> {
    const K: usize = 3;
    let (co, ci, rows) = (g.co, g.ci, g.rows());
    let (planes, frames) = g.planes(x);
    let (phases, taps) = (FACTOR * FACTOR, FACTOR * FACTOR);
    // [phase, c_out, c_in, 2, 2]
    let merged = sum_over_frames(g.batch * g.t, phases * co * ci * taps, |frame, dk, inner| {
        let (n, it) = (frame / g.t, frame % g.t);
        for (p0, len) in g.tiles() {
            for phase in 0..phases {
                for (tap, b, e) in taps_of(phase) {
                    gemm::matmul(
                        dk,
                        View::new(phase * co * ci * taps + tap, [co, ci], [ci * taps, taps]),
                        grads,
                        View::new((frame * phases + phase) * co * rows + p0, [co, len], [rows, 1]),
                        &planes,
                        View::new(frames.at(n, it) + g.window(b, e) + p0, [len, ci], [1, frames.channel]),
                        true,
                        inner,
                    );
                }
            }
        }
    });
    let mut dw = vec![0.0f32; co * ci * K * K];
    for phase in 0..phases {
        let (py, px) = (phase / FACTOR, phase % FACTOR);
        for oc in 0..co * ci {
            let src = &merged[(phase * co * ci + oc) * taps..][..taps];
            for b in 0..K {
                for e in 0..K {
                    dw[oc * K * K + b * K + e] += src[merged_tap(py, b) * FACTOR + merged_tap(px, e)];
                }
            }
        }
    }
    dw
}

/// `∂loss/∂x`: each phase kernel's `dy · kernel` added into the window its tap read, then the
/// planes' gradients back to pixels.
///
/// # Shapes
/// - `weight` `[c_out, c_in, 1, 3, 3]`, `grads` phase rows of `dy` ([`phase_rows`])
/// - output `[batch, c_in, t, h, w]`
fn input_grad(g: &Geometry, weight: &[f32], grads: &[f32]) -> Vec<f32> {
    let (co, ci, rows, channel) = (g.co, g.ci, g.rows(), g.channel_len());
    let kernels = phase_kernels(weight, co, ci);
    let (phases, taps) = (FACTOR * FACTOR, FACTOR * FACTOR);
    let chunk = channel_chunk(ci, g.batch * g.t);
    let mut planes = vec![0.0f32; g.batch * g.t * ci * channel]; // [batch, t, c_in, planes]
    planes.par_chunks_mut(ci * channel).enumerate().for_each(|(frame, out)| {
        out.par_chunks_mut(chunk * channel).enumerate().for_each(|(part, out)| {
            let (c0, cols) = (part * chunk, out.len() / channel);
            for (p0, len) in g.tiles() {
                for phase in 0..phases {
                    for (tap, b, e) in taps_of(phase) {
                        gemm::matmul(
                            out,
                            View::new(g.window(b, e) + p0, [len, cols], [1, channel]),
                            grads,
                            View::new((frame * phases + phase) * co * rows + p0, [len, co], [1, rows]),
                            &kernels,
                            View::new(phase * co * ci * taps + c0 * taps + tap, [co, cols], [ci * taps, taps]),
                            true,
                            1,
                        );
                    }
                }
            }
        });
    });
    g.input_from_planes(&planes)
}

#[derive(Debug)]
struct UpsampleConvBackward;

#[derive(Clone, Debug)]
struct UpsampleConvSaved {
    x: FlexTensor,
    weight: FlexTensor,
}

impl Backward<Cpu, 3> for UpsampleConvBackward {
    type State = UpsampleConvSaved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let UpsampleConvSaved { x, weight } = ops.state;
        let dy = contiguous(grads.consume::<Cpu>(&ops.node));
        let g = geometry(&x, &weight);
        let rows = phase_rows(&g, values(&dy));
        let [node_x, node_w, node_b] = ops.parents;
        if let Some(node) = node_w {
            let dw = weight_grad(&g, values(&x), &rows);
            grads.register::<Cpu>(node.id, flex_tensor(dw, weight.layout().shape()));
        }
        if let Some(node) = node_b {
            grads.register::<Cpu>(node.id, bias_grad(&dy));
        }
        if let Some(node) = node_x {
            let dx = input_grad(&g, values(&weight), &rows);
            grads.register::<Cpu>(node.id, flex_tensor(dx, x.layout().shape()));
        }
    }
}

/// The fused op under autodiff: one graph node with the backward above.
///
/// # Shapes
/// - `x` `[batch, c_in, t, h, w]`, `weight` `[c_out, c_in, 1, 3, 3]`, `bias` `[c_out]`
/// - output `[batch, c_out, t, 2h, 2w]`
fn upsample_conv_autodiff(
    x: Tensor<CpuAutodiff, 5>,
    weight: Tensor<CpuAutodiff, 5>,
    bias: Tensor<CpuAutodiff, 1>,
) -> Tensor<CpuAutodiff, 5> {
    let [x, weight] = [x, weight].map(|t| t.into_primitive().tensor());
    let bias = bias.into_primitive().tensor();
    let (xc, wc, bc) =
        (contiguous(x.primitive.clone()), contiguous(weight.primitive.clone()), contiguous(bias.primitive.clone()));
    let g = geometry(&xc, &wc);
    let y = flex_tensor(forward(&g, values(&xc), values(&wc), Some(values(&bc))), &output_shape(&g));
    record(UpsampleConvBackward, [&x, &weight, &bias], || UpsampleConvSaved { x: xc, weight: wc }, y)
}
