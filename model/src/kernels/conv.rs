//! 3D convolution (groups 1, dilation 1) with fast gradients, one output frame at a time: unfold
//! the input patches the frame read (`[c_in · k, h_out · w_out]`, rows copied whole where the
//! stride allows), then `dy · patchesᵀ` for the weight gradient, and `wᵀ · dy` added back where
//! each patch was read for the input gradient. burn computes the weight gradient as a
//! convolution whose *kernel* is the whole output gradient (on burn-flex that unfolds the input
//! into a matrix hundreds of MB large) and the input gradient as a transposed convolution. The
//! forward stays burn-flex's own (measured faster than a whole-frame unfold and matmul).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::prelude::*;
use burn::tensor::module;
use burn::tensor::ops::ConvOptions;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::node::record;
use super::route::{Kind, cast, kind_of};
use super::storage::{contiguous, flex, flex_tensor, values, wrap};
use super::vector;
use crate::{Cpu, CpuAutodiff};

/// burn's `conv3d` (with a bias, groups 1 and dilation 1 — the VAE's convolutions — it takes the
/// fast gradients under autodiff).
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
    let fast = options.groups == 1 && options.dilation == [1, 1, 1];
    match (kind_of(&x), bias) {
        (Kind::CpuAutodiff, Some(bias)) if fast => cast(conv3d_autodiff(cast(x), cast(weight), cast(bias), options)),
        (_, bias) => module::conv3d(x, weight, bias, options),
    }
}

/// The sizes of one convolution (groups 1, dilation 1).
#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    /// Input channels, frames, height, width.
    ci: usize,
    t: usize,
    h: usize,
    w: usize,
    /// Output channels, frames, height, width.
    co: usize,
    to: usize,
    ho: usize,
    wo: usize,
    kernel: [usize; 3],
    stride: [usize; 3],
    padding: [usize; 3],
}

impl Geometry {
    fn new(x: &burn::tensor::Shape, weight: &burn::tensor::Shape, options: &ConvOptions<3>) -> Self {
        let out = |i: usize, k: usize, len: usize| (len + 2 * options.padding[i] - k) / options.stride[i] + 1;
        let kernel = [weight[2], weight[3], weight[4]];
        Geometry {
            batch: x[0],
            ci: x[1],
            t: x[2],
            h: x[3],
            w: x[4],
            co: weight[0],
            to: out(0, kernel[0], x[2]),
            ho: out(1, kernel[1], x[3]),
            wo: out(2, kernel[2], x[4]),
            kernel,
            stride: options.stride,
            padding: options.padding,
        }
    }

    /// Taps of one output value: `c_in · kt · kh · kw`.
    fn taps(&self) -> usize {
        self.ci * self.kernel.iter().product::<usize>()
    }

    /// Output pixels of one frame.
    fn plane(&self) -> usize {
        self.ho * self.wo
    }

    /// The input patches read by output frame `ot` of sample `n`: row `(c, a, b, e)` holds the
    /// input value under tap `(a, b, e)` of channel `c` for every output pixel (0 in padding).
    ///
    /// # Shapes
    /// - `x` `[batch, c_in, t, h, w]` (values); output `[taps, plane]`
    fn unfold(&self, x: &[f32], n: usize, ot: usize) -> Vec<f32> {
        let Geometry { ci, t, h, w, ho, wo, kernel: [kt, kh, kw], stride: [st, sh, sw], padding: [pt, ph, pw], .. } =
            *self;
        let mut patches = vec![0.0f32; self.taps() * self.plane()];
        vector::rows(&mut patches, self.plane(), |row, out| {
            let (c, a, b, e) = (row / (kt * kh * kw), row / (kh * kw) % kt, row / kw % kh, row % kw);
            let it = (ot * st + a) as isize - pt as isize;
            if it < 0 || it >= t as isize {
                return;
            }
            let base = ((n * ci + c) * t + it as usize) * h * w;
            let (lo, hi) = inside(wo, w, sw, e, pw);
            for oy in 0..ho {
                let iy = (oy * sh + b) as isize - ph as isize;
                if iy < 0 || iy >= h as isize {
                    continue;
                }
                let src = &x[base + iy as usize * w..base + (iy as usize + 1) * w];
                let dst = &mut out[oy * wo..(oy + 1) * wo];
                if sw == 1 {
                    dst[lo..hi].copy_from_slice(&src[lo + e - pw..hi + e - pw]);
                } else {
                    for (ox, d) in dst.iter_mut().enumerate().take(hi).skip(lo) {
                        *d = src[ox * sw + e - pw];
                    }
                }
            }
        });
        patches
    }

    /// Frame `ot` of sample `n` of a `[batch, c_out, t', h', w']` tensor, as `[c_out, plane]`.
    fn out_frame(&self, y: &[f32], n: usize, ot: usize) -> Vec<f32> {
        let (co, to, plane) = (self.co, self.to, self.plane());
        let mut frame = Vec::with_capacity(co * plane);
        for o in 0..co {
            let start = ((n * co + o) * to + ot) * plane;
            frame.extend_from_slice(&y[start..start + plane]);
        }
        frame
    }
}

/// `∂loss/∂weight` of a convolution (groups 1, dilation 1): for each output frame, `dy ·
/// patchesᵀ`, summed.
///
/// # Shapes
/// - `x` `[batch, c_in, t, h, w]`, `dy` `[batch, c_out, t', h', w']`
/// - output `[c_out, c_in, kt, kh, kw]`
fn weight_grad(x: &FlexTensor, weight: &FlexTensor, dy: &FlexTensor, options: &ConvOptions<3>) -> FlexTensor {
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), options);
    let (plane, xv, dyv) = (g.plane(), values(x), values(dy));
    let mut total: Option<Tensor<Cpu, 2>> = None;
    for n in 0..g.batch {
        for ot in 0..g.to {
            let patches = wrap::<2>(flex_tensor(g.unfold(xv, n, ot), &[g.taps(), plane]));
            let dy_frame = wrap::<2>(flex_tensor(g.out_frame(dyv, n, ot), &[g.co, plane]));
            let part = dy_frame.matmul(patches.transpose()); // [co, taps]
            total = Some(match total {
                Some(sum) => sum + part,
                None => part,
            });
        }
    }
    let total = total.unwrap_or_else(|| Tensor::zeros([g.co, g.taps()], &Default::default()));
    let [kt, kh, kw] = g.kernel;
    contiguous(total.reshape([g.co, g.ci, kt, kh, kw]).into_primitive().tensor())
}

/// `∂loss/∂x` of a convolution (groups 1, dilation 1): for each output frame, `wᵀ · dy` gives
/// the gradient of every patch it read, added back where the patch came from.
///
/// # Shapes
/// - `x_shape` `[batch, c_in, t, h, w]`, `weight` `[c_out, c_in, kt, kh, kw]`, `dy` `[batch, c_out, t', h', w']`
/// - output `x_shape`
fn input_grad(
    x_shape: &burn::tensor::Shape,
    weight: &FlexTensor,
    dy: &FlexTensor,
    options: &ConvOptions<3>,
) -> FlexTensor {
    let g = Geometry::new(x_shape, weight.layout().shape(), options);
    let Geometry {
        batch,
        ci,
        t,
        h,
        w,
        co,
        to,
        ho,
        wo,
        kernel: [kt, kh, kw],
        stride: [st, sh, sw],
        padding: [pt, ph, pw],
    } = g;
    let (taps, plane) = (g.taps(), g.plane());
    let wt = wrap::<2>(weight.clone()).reshape([co, taps]).transpose(); // [taps, co]
    let dyv = values(dy);
    let mut dx = vec![0.0f32; x_shape.num_elements()];
    for n in 0..batch {
        for ot in 0..to {
            let frame = g.out_frame(dyv, n, ot);
            let cols = flex(wt.clone().matmul(wrap::<2>(flex_tensor(frame, &[co, plane])))); // [taps, plane]
            let cols = values(&cols);
            // Channel c's taps write only into channel c of dx: one task per channel.
            let channel = t * h * w;
            dx[n * ci * channel..(n + 1) * ci * channel].par_chunks_mut(channel).enumerate().for_each(|(c, dxc)| {
                for a in 0..kt {
                    let it = (ot * st + a) as isize - pt as isize;
                    if it < 0 || it >= t as isize {
                        continue;
                    }
                    let dframe = &mut dxc[it as usize * h * w..(it as usize + 1) * h * w];
                    for b in 0..kh {
                        for e in 0..kw {
                            let row = &cols[(((c * kt + a) * kh + b) * kw + e) * plane..][..plane];
                            for oy in 0..ho {
                                let iy = (oy * sh + b) as isize - ph as isize;
                                if iy < 0 || iy >= h as isize {
                                    continue;
                                }
                                let drow = &mut dframe[iy as usize * w..(iy as usize + 1) * w];
                                let grads = &row[oy * wo..(oy + 1) * wo];
                                let (lo, hi) = inside(wo, w, sw, e, pw);
                                if sw == 1 {
                                    for (d, &g) in drow[lo + e - pw..hi + e - pw].iter_mut().zip(&grads[lo..hi]) {
                                        *d += g;
                                    }
                                } else {
                                    for (ox, &g) in grads.iter().enumerate().take(hi).skip(lo) {
                                        drow[ox * sw + e - pw] += g;
                                    }
                                }
                            }
                        }
                    }
                }
            });
        }
    }
    flex_tensor(dx, x_shape)
}

/// The output columns `lo..hi` whose input column `ox · stride + tap − pad` lies inside
/// `0..w` (`hi ≥ lo`; none when the tap reads only padding).
fn inside(wo: usize, w: usize, stride: usize, tap: usize, pad: usize) -> (usize, usize) {
    // ox · stride + tap ≥ pad  and  ox · stride + tap − pad ≤ w − 1
    let lo = pad.saturating_sub(tap).div_ceil(stride);
    let hi = if w + pad > tap { ((w + pad - tap - 1) / stride + 1).min(wo) } else { 0 };
    (lo.min(hi), hi)
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
        let [node_x, node_w, node_b] = ops.parents;
        if let Some(node) = node_w {
            grads.register::<Cpu>(node.id, weight_grad(&x, &weight, &dy, &options));
        }
        if let Some(node) = node_b {
            let co = weight.layout().shape()[0];
            let db = wrap::<5>(dy.clone()).sum_dims(&[0, 2, 3, 4]).reshape([co]); // Σ over batch, time, space
            grads.register::<Cpu>(node.id, db.into_primitive().tensor());
        }
        if let Some(node) = node_x {
            grads.register::<Cpu>(node.id, input_grad(x.layout().shape(), &weight, &dy, &options));
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
    // The forward is burn-flex's own (its tiled unfold beats a whole-frame one).
    let y = module::conv3d(
        wrap::<5>(xc.clone()),
        wrap::<5>(wc.clone()),
        Some(wrap::<1>(bias.primitive.clone())),
        options.clone(),
    )
    .into_primitive()
    .tensor();
    record(ConvBackward, [&x, &weight, &bias], || ConvSaved { x: xc, weight: wc, options }, y)
}
