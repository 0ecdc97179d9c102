//! 3D convolution with a fast weight gradient. burn computes a convolution's weight gradient as
//! another convolution whose *kernel* is the whole output gradient (`T × H × W` taps); on
//! burn-flex that unfolds the input into a matrix hundreds of MB large and dominates a VAE
//! training step. Here the weight gradient is the textbook form: for each output frame, unfold
//! the input patches it read (`[c_in · k, h_out · w_out]`) and accumulate `dy · patchesᵀ` with
//! one multi-threaded matmul. The input gradient is its mirror image (`wᵀ · dy`, then each
//! patch's gradient added back where it was read), in place of burn's transposed convolution.
//! The forward stays burn-flex's own.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use burn::tensor::module;
use burn::tensor::ops::{ConvOptions, ModuleOps};
use burn_flex::FlexTensor;

use super::node::record;
use super::route::{Kind, cast, kind};
use rayon::prelude::*;

use super::storage::{contiguous, flex, flex_tensor, is_f32, values, wrap};
use super::vector;
use crate::{Cpu, CpuAutodiff};

/// burn's `conv3d` (groups 1 and dilation 1 take the fast weight gradient under autodiff).
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
    let plain_case = options.groups != 1 || options.dilation != [1, 1, 1];
    match kind::<B>() {
        Kind::CpuAutodiff if !plain_case => cast(conv3d_autodiff(cast(x), cast(weight), bias.map(cast), options)),
        _ => module::conv3d(x, weight, bias, options),
    }
}

/// `∂loss/∂weight` of a convolution (groups 1, dilation 1).
///
/// # Shapes
/// - `x` `[batch, c_in, t, h, w]`, `dy` `[batch, c_out, t', h', w']`
/// - output `[c_out, c_in, kt, kh, kw]`
fn weight_grad(x: &FlexTensor, dy: &FlexTensor, kernel: [usize; 3], options: &ConvOptions<3>) -> FlexTensor {
    let xs = x.layout().shape().clone();
    let ys = dy.layout().shape().clone();
    let (batch, ci, t, h, w) = (xs[0], xs[1], xs[2], xs[3], xs[4]);
    let (co, to, ho, wo) = (ys[1], ys[2], ys[3], ys[4]);
    let [kt, kh, kw] = kernel;
    let [st, sh, sw] = options.stride;
    let [pt, ph, pw] = options.padding;
    let (xv, dyv) = (values(x), values(dy));
    let (taps, plane) = (ci * kt * kh * kw, ho * wo);
    let mut total: Option<Tensor<Cpu, 2>> = None;
    for n in 0..batch {
        for ot in 0..to {
            let mut patches = vec![0.0f32; taps * plane];
            // Row (c, a, b, e) of the patches: the input value under tap (a, b, e) of channel c
            // for every output pixel of frame `ot`.
            vector::rows(&mut patches, plane, |row, out| {
                let (c, a, b, e) = (row / (kt * kh * kw), row / (kh * kw) % kt, row / kw % kh, row % kw);
                let it = (ot * st + a) as isize - pt as isize;
                if it < 0 || it >= t as isize {
                    out.fill(0.0);
                    return;
                }
                let base = ((n * ci + c) * t + it as usize) * h * w;
                for oy in 0..ho {
                    let iy = (oy * sh + b) as isize - ph as isize;
                    let dst = &mut out[oy * wo..(oy + 1) * wo];
                    if iy < 0 || iy >= h as isize {
                        dst.fill(0.0);
                        continue;
                    }
                    let src = &xv[base + iy as usize * w..base + (iy as usize + 1) * w];
                    let (lo, hi) = inside(wo, w, sw, e, pw);
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    if sw == 1 {
                        dst[lo..hi].copy_from_slice(&src[lo + e - pw..hi + e - pw]);
                    } else {
                        for (ox, d) in dst.iter_mut().enumerate().take(hi).skip(lo) {
                            *d = src[ox * sw + e - pw];
                        }
                    }
                }
            });
            // dy of this frame: [co, plane] (strided over frames).
            let mut frame = Vec::with_capacity(co * plane);
            for o in 0..co {
                let start = ((n * co + o) * to + ot) * plane;
                frame.extend_from_slice(&dyv[start..start + plane]);
            }
            let dy_frame = wrap::<2>(flex_tensor(frame, &[co, plane]));
            let p = wrap::<2>(flex_tensor(patches, &[taps, plane]));
            let part = dy_frame.matmul(p.transpose()); // [co, taps]
            total = Some(match total {
                Some(sum) => sum + part,
                None => part,
            });
        }
    }
    let total = total.unwrap_or_else(|| Tensor::zeros([co, taps], &Default::default()));
    contiguous(total.reshape([co, ci, kt, kh, kw]).into_primitive().tensor())
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
    let (batch, ci, t, h, w) = (x_shape[0], x_shape[1], x_shape[2], x_shape[3], x_shape[4]);
    let ws = weight.layout().shape().clone();
    let (co, kt, kh, kw) = (ws[0], ws[2], ws[3], ws[4]);
    let ys = dy.layout().shape().clone();
    let (to, ho, wo) = (ys[2], ys[3], ys[4]);
    let [st, sh, sw] = options.stride;
    let [pt, ph, pw] = options.padding;
    let (taps, plane) = (ci * kt * kh * kw, ho * wo);
    let wt = wrap::<2>(weight.clone()).reshape([co, taps]).transpose(); // [taps, co]
    let dyv = values(dy);
    let mut dx = vec![0.0f32; x_shape.num_elements()];
    for n in 0..batch {
        for ot in 0..to {
            let mut frame = Vec::with_capacity(co * plane);
            for o in 0..co {
                let start = ((n * co + o) * to + ot) * plane;
                frame.extend_from_slice(&dyv[start..start + plane]);
            }
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
    has_bias: bool,
    options: ConvOptions<3>,
}

impl Backward<Cpu, 3> for ConvBackward {
    type State = ConvSaved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let ConvSaved { x, weight, has_bias, options } = ops.state;
        let dy = contiguous(grads.consume::<Cpu>(&ops.node));
        let [node_x, node_w, node_b] = ops.parents;
        if let Some(node) = node_w {
            let ws = weight.layout().shape();
            let kernel = [ws[2], ws[3], ws[4]];
            grads.register::<Cpu>(node.id, weight_grad(&x, &dy, kernel, &options));
        }
        if let (Some(node), true) = (node_b, has_bias) {
            let ws = weight.layout().shape();
            let bias = flex_tensor(vec![0.0; ws[0]], &[ws[0]]);
            grads.register::<Cpu>(node.id, <Cpu as ModuleOps<Cpu>>::conv3d_bias_backward(x.clone(), bias, dy.clone()));
        }
        if let Some(node) = node_x {
            grads.register::<Cpu>(node.id, input_grad(x.layout().shape(), &weight, &dy, &options));
        }
    }
}

fn conv3d_autodiff(
    x: Tensor<CpuAutodiff, 5>,
    weight: Tensor<CpuAutodiff, 5>,
    bias: Option<Tensor<CpuAutodiff, 1>>,
    options: ConvOptions<3>,
) -> Tensor<CpuAutodiff, 5> {
    let (x, weight) = (x.into_primitive().tensor(), weight.into_primitive().tensor());
    let bias = bias.map(|b| b.into_primitive().tensor());
    if !is_f32(&x.primitive) {
        let f = |t| Tensor::from_primitive(TensorPrimitive::Float(t));
        return module::conv3d(
            f(x),
            f(weight),
            bias.map(|b| Tensor::from_primitive(TensorPrimitive::Float(b))),
            options,
        );
    }
    let xc = contiguous(x.primitive.clone());
    let wc = contiguous(weight.primitive.clone());
    let y = module::conv3d(
        wrap::<5>(xc.clone()),
        wrap::<5>(wc.clone()),
        bias.as_ref().map(|b| wrap::<1>(b.primitive.clone())),
        options.clone(),
    )
    .into_primitive()
    .tensor();
    let has_bias = bias.is_some();
    // Without a bias, its slot is the weight's node again and its gradient is never registered.
    let bias_parent = bias.as_ref().unwrap_or(&weight);
    record(ConvBackward, [&x, &weight, bias_parent], || ConvSaved { x: xc, weight: wc, has_bias, options }, y)
}
