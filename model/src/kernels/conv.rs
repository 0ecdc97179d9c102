//! 3D convolution (groups 1, dilation 1) on the CPU: the forward, the weight gradient and the
//! input gradient as matrix products over shifted windows of the input's padded planes
//! (`conv_planes`), never unfolding patches. burn-flex's own forward converts to channels-last
//! and unfolds tiles; burn's weight gradient is a convolution whose *kernel* is the whole output
//! gradient (hundreds of MB unfolded) and its input gradient a transposed convolution.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::prelude::*;
use burn::tensor::module;
use burn::tensor::ops::ConvOptions;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::conv_planes::{Frames, Geometry};
use super::gemm::{self, View};
use super::node::record;
use super::route::{Kind, cast, kind_of};
use super::storage::{contiguous, flex_of, flex_tensor, values, wrap};
use crate::{Cpu, CpuAutodiff};

/// burn's `conv3d`; on the CPU (groups 1, dilation 1 — the VAE's convolutions) the fast kernels,
/// under autodiff when the convolution has a bias.
///
/// # Shapes
/// - `x` `[batch, c_in, t, h, w]`, `weight` `[c_out, c_in, kt, kh, kw]`, `bias` `[c_out]`
/// - output `[batch, c_out, t', h', w']`
pub fn conv3d<B: Backend>(
    x: Tensor<B, 5>,
    weight: Tensor<B, 5>,
    bias: Option<Tensor<B, 1>>,
    options: ConvOptions<3>,
) -> Tensor<B, 5> {
    let fast = options.groups == 1
        && options.dilation == [1, 1, 1]
        && kind_of(&weight) == kind_of(&x)
        && Geometry::fits(&x.dims(), &weight.dims(), &options);
    match (kind_of(&x), bias) {
        (Kind::Cpu, bias) if fast => {
            let y = conv3d_cpu(flex_of(x), flex_of(weight), bias.map(flex_of), &options);
            cast(wrap::<5>(y))
        }
        (Kind::CpuAutodiff, Some(bias)) if fast => cast(conv3d_autodiff(cast(x), cast(weight), cast(bias), options)),
        (_, bias) => module::conv3d(x, weight, bias, options),
    }
}

/// Threads rayon runs kernels on.
fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

/// Splits `channels` into chunks so that `frames × chunks` tasks keep every thread busy (chunks
/// of at least 8 channels).
pub(super) fn channel_chunk(channels: usize, frames: usize) -> usize {
    const MIN_CHUNK: usize = 8;
    let wanted = (2 * threads()).div_ceil(frames.max(1));
    channels.div_ceil(wanted).max(MIN_CHUNK).min(channels.max(1))
}

/// The forward convolution. When some horizontal taps share a phase (a kernel wider than its
/// stride) they are merged into one product of K = taps · c_in on channels-last planes (the
/// 64→64 3³ case: ~20 % faster); other shapes (1×1 skips, 3×1×1 temporal) gain nothing from
/// the layout change and stay channel-major.
///
/// # Shapes
/// - `x` `[batch, c_in, t, h, w]`, `weight` `[c_out, c_in, kt, kh, kw]`, `bias` `[c_out]`
/// - output `[batch, c_out, t', h', w']`
fn forward(g: &Geometry, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    if g.merges_taps() { forward_channels_last(g, x, weight, bias) } else { forward_channel_major(g, x, weight, bias) }
}

/// The forward convolution when no taps merge: for every output frame and chunk of output
/// channels, the sum over taps of `window · weightᵀ` (see `conv_planes`).
///
/// # Shapes
/// - `x` `[batch, c_in, t, h, w]`, `weight` `[c_out, c_in, kt, kh, kw]`, `bias` `[c_out]`
/// - output `[batch, c_out, t', h', w']`
fn forward_channel_major(g: &Geometry, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (planes, frames) = g.planes(x);
    let (rows, taps, [kt, kh, kw]) = (g.rows(), g.taps(), g.kernel);
    let chunk = channel_chunk(g.co, g.batch * g.to);
    let mut products = vec![0.0f32; g.batch * g.to * g.co * rows]; // [batch, t', c_out, rows]
    products.par_chunks_mut(g.co * rows).enumerate().for_each(|(frame, out)| {
        let (n, ot) = (frame / g.to, frame % g.to);
        out.par_chunks_mut(chunk * rows).enumerate().for_each(|(part, out)| {
            let (o0, cols) = (part * chunk, out.len() / rows);
            for (p0, len) in g.tiles() {
                let mut first = true;
                for a in 0..kt {
                    let Some(it) = g.input_frame(ot, a) else { continue };
                    for b in 0..kh {
                        for e in 0..kw {
                            gemm::matmul(
                                out,
                                View::new(p0, [len, cols], [1, rows]),
                                &planes,
                                View::new(frames.at(n, it) + g.window(b, e) + p0, [len, g.ci], [1, frames.channel]),
                                weight,
                                View::new(o0 * g.ci * taps + g.tap(a, b, e), [g.ci, cols], [taps, g.ci * taps]),
                                !first,
                                1,
                            );
                            first = false;
                        }
                    }
                }
            }
        });
    });
    g.output(&products, bias)
}

/// The forward convolution, channels-last, when horizontal taps merge: for every output frame and tile of its pixels, the
/// sum over `(a, b)` and horizontal phase of `window · weight`, where the window holds the
/// phase's horizontal taps side by side (`[pixels, taps · c_in]`, see
/// [`Geometry::planes_channels_last`]) — for a 3×3×3 kernel, 9 products with K = 3 · c_in.
///
/// # Shapes
/// - `x` `[batch, c_in, t, h, w]`, `weight` `[c_out, c_in, kt, kh, kw]`, `bias` `[c_out]`
/// - output `[batch, c_out, t', h', w']`
fn forward_channels_last(g: &Geometry, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let planes = g.planes_channels_last(x);
    let (packed, starts) = g.weight_channels_last(weight);
    let ([kt, kh, _], rows, frame_len) = (g.kernel, g.rows(), g.frame_len_channels_last());
    let frames = g.batch * g.to;
    let mut tasks: Vec<(usize, usize, &mut [f32])> = Vec::new();
    let mut products = vec![0.0f32; frames * rows * g.co]; // [batch, t', rows, c_out]
    let mut rest = products.as_mut_slice();
    for frame in 0..frames {
        for (p0, len) in g.forward_tiles(frames, threads()) {
            let (tile, tail) = rest.split_at_mut(len * g.co);
            tasks.push((frame, p0, tile));
            rest = tail;
        }
    }
    tasks.into_par_iter().for_each(|(frame, p0, out)| {
        let (n, ot, len) = (frame / g.to, frame % g.to, out.len() / g.co);
        let mut first = true;
        for a in 0..kt {
            let Some(it) = g.input_frame(ot, a) else { continue };
            let base = (n * g.t + it) * frame_len + p0 * g.ci;
            for b in 0..kh {
                for px in 0..g.horizontal_phases() {
                    let k = g.phase_taps(px) * g.ci;
                    gemm::matmul(
                        out,
                        View::new(0, [len, g.co], [g.co, 1]),
                        &planes,
                        View::new(base + g.window_channels_last(b, px), [len, k], [g.ci, 1]),
                        &packed,
                        View::new(starts[(a * kh + b) * g.horizontal_phases() + px], [k, g.co], [g.co, 1]),
                        !first,
                        1,
                    );
                    first = false;
                }
            }
        }
    });
    g.output_from_channels_last(&products, bias)
}

/// `∂loss/∂weight`: for every output frame and tap, `dyᵀ · window`, summed.
///
/// # Shapes
/// - `x` `[batch, c_in, t, h, w]`; the output gradient as its rows ([`Geometry::out_rows`] of `dy` `[batch, c_out, t', h', w']`)
/// - output `[c_out, c_in, kt, kh, kw]`
fn weight_grad(g: &Geometry, x: &[f32], (grads, grad_frames): (&[f32], Frames)) -> Vec<f32> {
    let (planes, frames) = g.planes(x);
    let (taps, [kt, kh, kw]) = (g.taps(), g.kernel);
    sum_over_frames(g.batch * g.to, g.co * g.ci * taps, |frame, dw, inner| {
        let (n, ot) = (frame / g.to, frame % g.to);
        for (p0, len) in g.tiles() {
            for a in 0..kt {
                let Some(it) = g.input_frame(ot, a) else { continue };
                for b in 0..kh {
                    for e in 0..kw {
                        gemm::matmul(
                            dw,
                            View::new(g.tap(a, b, e), [g.co, g.ci], [g.ci * taps, taps]),
                            grads,
                            View::new(grad_frames.at(n, ot) + p0, [g.co, len], [grad_frames.channel, 1]),
                            &planes,
                            View::new(frames.at(n, it) + g.window(b, e) + p0, [len, g.ci], [1, frames.channel]),
                            true,
                            inner,
                        );
                    }
                }
            }
        }
    })
}

/// `Σ_frame body(frame)` of `size` values: `body(frame, sum, threads)` adds frame `frame`'s
/// part into `sum` using up to `threads` threads. Frames are split into one group per thread,
/// each with its own sum, added at the end.
pub(super) fn sum_over_frames(frames: usize, size: usize, body: impl Fn(usize, &mut [f32], usize) + Sync) -> Vec<f32> {
    let groups = frames.min(threads()).max(1);
    let inner = (threads() / groups).max(1);
    (0..groups)
        .into_par_iter()
        .map(|group| {
            let mut sum = vec![0.0f32; size];
            for frame in (group * frames / groups)..((group + 1) * frames / groups) {
                body(frame, &mut sum, inner);
            }
            sum
        })
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
            a
        })
        .unwrap_or_else(|| vec![0.0; size])
}

/// `∂loss/∂bias`: `dy` summed over batch, time and space.
///
/// # Shapes
/// - `dy` `[batch, c_out, t', h', w']`, output `[c_out]`
pub(super) fn bias_grad(dy: &FlexTensor) -> FlexTensor {
    let co = dy.layout().shape()[1];
    wrap::<5>(dy.clone()).sum_dims(&[0, 2, 3, 4]).reshape([co]).into_primitive().tensor()
}

/// `∂loss/∂x`: for every input frame and chunk of input channels, the sum over the output
/// frames and taps that read it of `dy · weight`, added into the window the tap read; then the
/// planes' gradients back to pixels.
///
/// # Shapes
/// - `weight` `[c_out, c_in, kt, kh, kw]`; the output gradient as its rows ([`Geometry::out_rows`])
/// - output `[batch, c_in, t, h, w]`
fn input_grad(g: &Geometry, weight: &[f32], (grads, grad_frames): (&[f32], Frames)) -> Vec<f32> {
    let (taps, channel, [kt, kh, kw]) = (g.taps(), g.channel_len(), g.kernel);
    let chunk = channel_chunk(g.ci, g.batch * g.t);
    let mut planes = vec![0.0f32; g.batch * g.t * g.ci * channel]; // [batch, t, c_in, planes]
    planes.par_chunks_mut(g.ci * channel).enumerate().for_each(|(frame, out)| {
        let (n, it) = (frame / g.t, frame % g.t);
        out.par_chunks_mut(chunk * channel).enumerate().for_each(|(part, out)| {
            let (c0, cols) = (part * chunk, out.len() / channel);
            for ot in 0..g.to {
                for (p0, len) in g.tiles() {
                    for a in (0..kt).filter(|&a| g.input_frame(ot, a) == Some(it)) {
                        for b in 0..kh {
                            for e in 0..kw {
                                gemm::matmul(
                                    out,
                                    View::new(g.window(b, e) + p0, [len, cols], [1, channel]),
                                    grads,
                                    View::new(grad_frames.at(n, ot) + p0, [len, g.co], [1, grad_frames.channel]),
                                    weight,
                                    View::new(c0 * taps + g.tap(a, b, e), [g.co, cols], [g.ci * taps, taps]),
                                    true,
                                    1,
                                );
                            }
                        }
                    }
                }
            }
        });
    });
    g.input_from_planes(&planes)
}

/// The forward on burn-flex.
///
/// # Shapes
/// - `x` `[batch, c_in, t, h, w]`, `weight` `[c_out, c_in, kt, kh, kw]`, `bias` `[c_out]`
/// - output `[batch, c_out, t', h', w']`
fn conv3d_cpu(x: FlexTensor, weight: FlexTensor, bias: Option<FlexTensor>, options: &ConvOptions<3>) -> FlexTensor {
    let (x, weight, bias) = (contiguous(x), contiguous(weight), bias.map(contiguous));
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), options);
    let y = forward(&g, values(&x), values(&weight), bias.as_ref().map(values));
    flex_tensor(y, &[g.batch, g.co, g.to, g.ho, g.wo])
}

#[derive(Debug)]
struct ConvBackward;

#[derive(Clone, Debug)]
struct ConvSaved {
    x: FlexTensor,
    weight: FlexTensor,
    options: ConvOptions<3>,
}

impl Backward<Cpu, 3> for ConvBackward {
    type State = ConvSaved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let ConvSaved { x, weight, options } = ops.state;
        let dy = contiguous(grads.consume::<Cpu>(&ops.node));
        let g = Geometry::new(x.layout().shape(), weight.layout().shape(), &options);
        // The output gradient at the products' row width, shared by both gradients.
        let (dy_rows, dy_frames) = g.out_rows(values(&dy));
        let [node_x, node_w, node_b] = ops.parents;
        if let Some(node) = node_w {
            let dw = weight_grad(&g, values(&x), (&dy_rows, dy_frames));
            grads.register::<Cpu>(node.id, flex_tensor(dw, weight.layout().shape()));
        }
        if let Some(node) = node_b {
            grads.register::<Cpu>(node.id, bias_grad(&dy));
        }
        if let Some(node) = node_x {
            let dx = input_grad(&g, values(&weight), (&dy_rows, dy_frames));
            grads.register::<Cpu>(node.id, flex_tensor(dx, x.layout().shape()));
        }
    }
}

fn conv3d_autodiff(
    x: Tensor<CpuAutodiff, 5>,
    weight: Tensor<CpuAutodiff, 5>,
    bias: Tensor<CpuAutodiff, 1>,
    options: ConvOptions<3>,
) -> Tensor<CpuAutodiff, 5> {
    let [x, weight] = [x, weight].map(|t| t.into_primitive().tensor());
    let bias = bias.into_primitive().tensor();
    let xc = contiguous(x.primitive.clone());
    let wc = contiguous(weight.primitive.clone());
    let y = conv3d_cpu(xc.clone(), wc.clone(), Some(bias.primitive.clone()), &options);
    record(ConvBackward, [&x, &weight, &bias], || ConvSaved { x: xc, weight: wc, options }, y)
}
