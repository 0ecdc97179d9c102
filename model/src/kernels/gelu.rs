//! GELU (the exact, erf form burn uses) as one vectorised pass, forward and backward.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, unary};
use burn::prelude::*;
use burn::tensor::activation;
use burn_flex::FlexTensor;

use super::node::record;
use super::route::{Kind, cast, kind_of};
use super::storage::{contiguous, flex_tensor, values, wrap};
use super::vector::{self, erf, exp};
use crate::{Cpu, CpuAutodiff};

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// `1 / √(2π)`.
const INV_SQRT_2PI: f32 = 0.398_942_3;

#[inline(always)]
fn gelu_value(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2))
}

#[inline(always)]
fn gelu_slope(x: f32) -> f32 {
    0.5 * (1.0 + erf(x * FRAC_1_SQRT_2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x)
}

/// `x · Φ(x)`, element-wise (burn's `activation::gelu`, fused on the CPU backend).
///
/// # Shapes
/// - input and output: any shape
pub fn gelu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    match kind_of(&x) {
        Kind::Cpu => cast(gelu_cpu(cast::<_, Tensor<Cpu, D>>(x))),
        Kind::CpuAutodiff => cast(gelu_autodiff(cast::<_, Tensor<CpuAutodiff, D>>(x))),
        Kind::Other => activation::gelu(x),
    }
}

fn gelu_cpu<const D: usize>(x: Tensor<Cpu, D>) -> Tensor<Cpu, D> {
    wrap(forward(x.into_primitive().tensor()))
}

/// GELU of a contiguous f32 flex tensor (in place when it owns its storage).
fn forward(t: FlexTensor) -> FlexTensor {
    let mut t = contiguous(t);
    let n = t.layout().num_elements();
    if t.is_unique() {
        vector::map_in_place(&mut t.storage_mut::<f32>()[..n], gelu_value);
        return t;
    }
    let mut out = vec![0.0; n];
    vector::map(values(&t), &mut out, gelu_value);
    flex_tensor(out, t.layout().shape())
}

/// `grad · gelu'(x)`.
fn backward(x: &FlexTensor, grad: FlexTensor) -> FlexTensor {
    let mut grad = contiguous(grad);
    let x = values(x);
    let n = x.len();
    if grad.is_unique() {
        let g = &mut grad.storage_mut::<f32>()[..n];
        vector::zip_in_place(g, x, |g, x| g * gelu_slope(x));
        return grad;
    }
    let mut out = values(&grad).to_vec();
    vector::zip_in_place(&mut out, x, |g, x| g * gelu_slope(x));
    flex_tensor(out, grad.layout().shape())
}

#[derive(Debug)]
struct GeluBackward;

impl Backward<Cpu, 1> for GeluBackward {
    /// The input, contiguous.
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let x = ops.state;
        unary::<Cpu, _>(ops.parents, ops.node, grads, |grad| backward(&x, grad));
    }
}

fn gelu_autodiff<const D: usize>(x: Tensor<CpuAutodiff, D>) -> Tensor<CpuAutodiff, D> {
    let x = x.into_primitive().tensor();
    let input = contiguous(x.primitive.clone());
    // The input is kept for the backward, so the forward cannot overwrite it.
    let y = forward(input.clone());
    record(GeluBackward, [&x], || input, y)
}
