//! Normalisations over the last dimension as one pass each, forward and backward: RMS norm
//! with a learnt gain (the DiT's QK-norm) and layer norm without parameters followed by the
//! adaLN modulation `x̂ · (1 + scale) + shift`. The plain forms are several burn ops each (and as
//! many autodiff nodes); on burn-flex their first op often reads a strided view element by
//! element.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::prelude::*;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::node::record;
use super::route::{Kind, cast, kind_of};
use super::storage::{Rows, contiguous, flex_tensor, values, wrap};
use super::vector;
use crate::{Cpu, CpuAutodiff};

/// `x / √(mean(x²) + eps) · gamma` over the last dimension.
///
/// # Shapes
/// - `x` `[..., d]`, `gamma` `[d]`; output like `x`
pub fn rms_norm<B: Backend, const D: usize>(x: Tensor<B, D>, gamma: Tensor<B, 1>, eps: f64) -> Tensor<B, D> {
    match kind_of(&x) {
        Kind::Cpu => {
            let (x, gamma) = (cast::<_, Tensor<Cpu, D>>(x), cast::<_, Tensor<Cpu, 1>>(gamma));
            let xt = x.into_primitive().tensor();
            let g = contiguous(gamma.into_primitive().tensor());
            cast(wrap::<D>(rms_forward(&Rows::new(xt.clone()), xt.layout().shape(), values(&g), eps as f32).0))
        }
        Kind::CpuAutodiff => cast(rms_norm_autodiff(cast::<_, Tensor<CpuAutodiff, D>>(x), cast(gamma), eps)),
        Kind::Other => rms_norm_plain(x, gamma, eps),
    }
}

/// [`rms_norm`] in plain burn ops (burn's `RmsNorm`).
pub fn rms_norm_plain<B: Backend, const D: usize>(x: Tensor<B, D>, gamma: Tensor<B, 1>, eps: f64) -> Tensor<B, D> {
    let rms = (x.clone().square().mean_dim(D - 1) + eps).sqrt();
    (x / rms) * gamma.unsqueeze()
}

/// Output and each row's `1/rms`.
fn rms_forward(x: &Rows, shape: &burn::tensor::Shape, gamma: &[f32], eps: f32) -> (FlexTensor, Vec<f32>) {
    let d = gamma.len();
    let n = shape.num_elements();
    let inv: Vec<f32> = (0..n / d.max(1))
        .into_par_iter()
        .map(|r| 1.0 / (x.row(r).iter().map(|v| v * v).sum::<f32>() / d as f32 + eps).sqrt())
        .collect();
    let mut out = vec![0.0; n];
    vector::rows(&mut out, d, |r, o| {
        for ((o, &v), &g) in o.iter_mut().zip(x.row(r)).zip(gamma) {
            *o = v * inv[r] * g;
        }
    });
    (flex_tensor(out, shape), inv)
}

#[derive(Debug)]
struct RmsBackward;

#[derive(Clone, Debug)]
struct RmsSaved {
    x: FlexTensor,
    gamma: FlexTensor,
    inv: Vec<f32>,
}

impl Backward<Cpu, 2> for RmsBackward {
    type State = RmsSaved;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let RmsSaved { x, gamma, inv } = ops.state;
        let dy = contiguous(grads.consume::<Cpu>(&ops.node));
        let shape = x.layout().shape().clone();
        let (xv, g, dyv) = (values(&x), values(&gamma), values(&dy));
        let d = g.len();
        let [node_x, node_g] = ops.parents;
        if let Some(node) = node_x {
            let mut dx = vec![0.0; xv.len()];
            vector::rows(&mut dx, d, |r, o| {
                let (xr, dr, ir) = (&xv[r * d..(r + 1) * d], &dyv[r * d..(r + 1) * d], inv[r]);
                let dot: f32 = xr.iter().zip(dr).zip(g).map(|((x, dy), g)| x * dy * g).sum::<f32>() / d as f32;
                for (((o, &x), &dy), &g) in o.iter_mut().zip(xr).zip(dr).zip(g) {
                    *o = ir * (dy * g - x * ir * ir * dot);
                }
            });
            grads.register::<Cpu>(node.id, flex_tensor(dx, &shape));
        }
        if let Some(node) = node_g {
            let mut xhat_dy = vec![0.0; xv.len()];
            vector::rows(&mut xhat_dy, d, |r, o| {
                for ((o, &x), &dy) in o.iter_mut().zip(&xv[r * d..(r + 1) * d]).zip(&dyv[r * d..(r + 1) * d]) {
                    *o = x * inv[r] * dy;
                }
            });
            let rows = xv.len() / d;
            let dg = wrap::<2>(flex_tensor(xhat_dy, &[rows, d])).sum_dim(0).reshape([d]);
            grads.register::<Cpu>(node.id, dg.into_primitive().tensor());
        }
    }
}

fn rms_norm_autodiff<const D: usize>(
    x: Tensor<CpuAutodiff, D>,
    gamma: Tensor<CpuAutodiff, 1>,
    eps: f64,
) -> Tensor<CpuAutodiff, D> {
    let (x, gamma) = (x.into_primitive().tensor(), gamma.into_primitive().tensor());
    let xc = contiguous(x.primitive.clone());
    let g = contiguous(gamma.primitive.clone());
    let (y, inv) = rms_forward(&Rows::new(xc.clone()), xc.layout().shape(), values(&g), eps as f32);
    record(RmsBackward, [&x, &gamma], || RmsSaved { x: xc, gamma: g, inv }, y)
}

/// Layer norm without parameters over the last dimension, then `· (1 + scale) + shift` when a
/// modulation is given (adaLN).
///
/// # Shapes
/// - `x` `[rows, n, d]`; `shift`, `scale` `[rows, n, d]` (views are fine); output `[rows, n, d]`
pub fn layer_norm<B: Backend>(
    x: Tensor<B, 3>,
    modulation: Option<(Tensor<B, 3>, Tensor<B, 3>)>,
    eps: f64,
) -> Tensor<B, 3> {
    match kind_of(&x) {
        Kind::Cpu => {
            let x = cast::<_, Tensor<Cpu, 3>>(x).into_primitive().tensor();
            let m = modulation.map(|(sh, sc)| {
                (
                    cast::<_, Tensor<Cpu, 3>>(sh).into_primitive().tensor(),
                    cast::<_, Tensor<Cpu, 3>>(sc).into_primitive().tensor(),
                )
            });
            let shape = x.layout().shape().clone();
            let m = m.map(|(sh, sc)| (Rows::new(sh), Rows::new(sc)));
            cast(wrap::<3>(ln_forward(&Rows::new(x), &shape, m.as_ref(), eps as f32).0))
        }
        Kind::CpuAutodiff => {
            let m = modulation.map(|(sh, sc)| (cast(sh), cast(sc)));
            cast(layer_norm_autodiff(cast(x), m, eps))
        }
        Kind::Other => layer_norm_plain(x, modulation, eps),
    }
}

/// [`layer_norm`] in plain burn ops.
pub fn layer_norm_plain<B: Backend>(
    x: Tensor<B, 3>,
    modulation: Option<(Tensor<B, 3>, Tensor<B, 3>)>,
    eps: f64,
) -> Tensor<B, 3> {
    let centred = x.clone() - x.mean_dim(2);
    let var = centred.clone().powi_scalar(2).mean_dim(2);
    let norm = centred / (var + eps).sqrt();
    match modulation {
        Some((shift, scale)) => norm * (scale + 1.0) + shift,
        None => norm,
    }
}

/// Output, the normalised input `x̂` (the output itself when not modulated) and each row's `1/σ`.
fn ln_forward(
    x: &Rows,
    shape: &burn::tensor::Shape,
    modulation: Option<&(Rows, Rows)>,
    eps: f32,
) -> (FlexTensor, FlexTensor, Vec<f32>) {
    let d = shape[shape.num_dims() - 1];
    let n = shape.num_elements();
    let (mean, inv): (Vec<f32>, Vec<f32>) = (0..n / d.max(1))
        .into_par_iter()
        .map(|r| {
            let xr = x.row(r);
            let mean = xr.iter().sum::<f32>() / d as f32;
            let var = xr.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
            (mean, 1.0 / (var + eps).sqrt())
        })
        .unzip();
    let mut xhat = vec![0.0; n];
    vector::rows(&mut xhat, d, |r, o| {
        for (o, &v) in o.iter_mut().zip(x.row(r)) {
            *o = (v - mean[r]) * inv[r];
        }
    });
    let out = modulation.map(|(shift, scale)| {
        let mut out = vec![0.0; n];
        vector::rows(&mut out, d, |r, o| {
            let (xh, sh, sc) = (&xhat[r * d..(r + 1) * d], shift.row(r), scale.row(r));
            for (((o, &xh), &sh), &sc) in o.iter_mut().zip(xh).zip(sh).zip(sc) {
                *o = xh * (1.0 + sc) + sh;
            }
        });
        flex_tensor(out, shape)
    });
    let xhat = flex_tensor(xhat, shape);
    (out.unwrap_or_else(|| xhat.clone()), xhat, inv)
}

/// What the layer norm's backward needs.
#[derive(Clone, Debug)]
struct LnSaved {
    /// `[rows, n, d]` normalised input (contiguous).
    xhat: FlexTensor,
    inv: Vec<f32>,
    /// The scale (contiguous), when modulated.
    scale: Option<FlexTensor>,
    shape: burn::tensor::Shape,
}

impl LnSaved {
    /// `dx` from `dy`: with `g = dy · (1 + scale)`, `dx = (g − mean g − x̂ · mean(g x̂)) / σ`.
    fn dx(&self, dy: &[f32]) -> FlexTensor {
        let d = self.shape[2];
        let (xhat, inv) = (values(&self.xhat), &self.inv);
        let sc = self.scale.as_ref().map(values);
        let mut dx = vec![0.0; xhat.len()];
        vector::rows(&mut dx, d, |r, o| {
            let (xh, dr) = (&xhat[r * d..(r + 1) * d], &dy[r * d..(r + 1) * d]);
            let g = |j: usize| sc.map_or(dr[j], |s| dr[j] * (1.0 + s[r * d + j]));
            let (mut sum_g, mut sum_gx) = (0.0f32, 0.0f32);
            for (j, &x) in xh.iter().enumerate() {
                let gj = g(j);
                sum_g += gj;
                sum_gx += gj * x;
            }
            let (mean_g, mean_gx) = (sum_g / d as f32, sum_gx / d as f32);
            for (j, (o, &x)) in o.iter_mut().zip(xh).enumerate() {
                *o = inv[r] * (g(j) - mean_g - x * mean_gx);
            }
        });
        flex_tensor(dx, &self.shape)
    }
}

/// Layer norm alone.
#[derive(Debug)]
struct LayerNormBackward;

impl Backward<Cpu, 1> for LayerNormBackward {
    type State = LnSaved;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let saved = ops.state;
        let dy = contiguous(grads.consume::<Cpu>(&ops.node));
        let [node_x] = ops.parents;
        if let Some(node) = node_x {
            grads.register::<Cpu>(node.id, saved.dx(values(&dy)));
        }
    }
}

/// Layer norm with adaLN modulation.
#[derive(Debug)]
struct ModulatedNormBackward;

impl Backward<Cpu, 3> for ModulatedNormBackward {
    type State = LnSaved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let saved = ops.state;
        let dy = contiguous(grads.consume::<Cpu>(&ops.node));
        let [node_x, node_shift, node_scale] = ops.parents;
        if let Some(node) = node_x {
            grads.register::<Cpu>(node.id, saved.dx(values(&dy)));
        }
        if let Some(node) = node_scale {
            let mut ds = values(&dy).to_vec();
            vector::zip_in_place(&mut ds, values(&saved.xhat), |dy, xh| dy * xh);
            grads.register::<Cpu>(node.id, flex_tensor(ds, &saved.shape));
        }
        if let Some(node) = node_shift {
            grads.register::<Cpu>(node.id, dy);
        }
    }
}

fn layer_norm_autodiff(
    x: Tensor<CpuAutodiff, 3>,
    modulation: Option<(Tensor<CpuAutodiff, 3>, Tensor<CpuAutodiff, 3>)>,
    eps: f64,
) -> Tensor<CpuAutodiff, 3> {
    let x = x.into_primitive().tensor();
    let m = modulation.map(|(sh, sc)| (sh.into_primitive().tensor(), sc.into_primitive().tensor()));
    let shape = x.primitive.layout().shape().clone();
    let rows = m.as_ref().map(|(sh, sc)| (Rows::new(sh.primitive.clone()), Rows::new(sc.primitive.clone())));
    let (y, xhat, inv) = ln_forward(&Rows::new(x.primitive.clone()), &shape, rows.as_ref(), eps as f32);
    match m {
        None => record(LayerNormBackward, [&x], || LnSaved { xhat, inv, scale: None, shape }, y),
        Some((sh, sc)) => {
            let saved = || LnSaved { xhat, inv, scale: Some(contiguous(sc.primitive.clone())), shape };
            record(ModulatedNormBackward, [&x, &sh, &sc], saved, y)
        }
    }
}
