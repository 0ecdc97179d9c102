//! Rotary position embedding as one pass: each pair of channels `(2i, 2i+1)` of a head is
//! rotated by its token's angle `i`. The backward is the rotation by the opposite angle. The
//! plain form (used on other backends) splits pairs with 5-D views and joins them with `cat`,
//! which on burn-flex walks strided memory element by element.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, unary};
use burn::prelude::*;
use burn_flex::FlexTensor;

use super::node::record;
use super::route::{Kind, cast, kind_of};
use super::storage::{contiguous, flex, flex_tensor, values, wrap};
use super::vector;
use crate::{Cpu, CpuAutodiff};

/// Rotates the channel pairs of `x` by the angles whose cosines and sines are given.
///
/// # Shapes
/// - `x` `[rows, heads, tokens, head_dim]`; `cos`, `sin` `[rows, tokens, head_dim / 2]`
/// - output `[rows, heads, tokens, head_dim]`
pub fn rope<B: Backend>(x: Tensor<B, 4>, cos: Tensor<B, 3>, sin: Tensor<B, 3>) -> Tensor<B, 4> {
    match kind_of(&x) {
        Kind::Cpu => cast(rope_cpu(cast(x), cast(cos), cast(sin))),
        Kind::CpuAutodiff => cast(rope_autodiff(cast(x), cast(cos), cast(sin))),
        Kind::Other => rope_plain(x, cos, sin),
    }
}

/// The same rotation in plain burn ops.
///
/// # Shapes
/// - as [`rope`]
pub fn rope_plain<B: Backend>(x: Tensor<B, 4>, cos: Tensor<B, 3>, sin: Tensor<B, 3>) -> Tensor<B, 4> {
    let [b, h, n, d] = x.dims();
    let (cos, sin) = (cos.reshape([b, 1, n, d / 2, 1]), sin.reshape([b, 1, n, d / 2, 1]));
    let pairs = x.reshape([b, h, n, d / 2, 2]); // [b, h, n, d/2, 2]
    let even = pairs.clone().narrow(4, 0, 1);
    let odd = pairs.narrow(4, 1, 1);
    let re = even.clone() * cos.clone() - odd.clone() * sin.clone();
    let im = even * sin + odd * cos;
    Tensor::cat(vec![re, im], 4).reshape([b, h, n, d])
}

/// Rotates contiguous `x` `[rows, heads, tokens, head_dim]` by `sign ·` the angles.
fn rotate(x: &FlexTensor, cos: &FlexTensor, sin: &FlexTensor, sign: f32) -> FlexTensor {
    let shape = x.layout().shape().clone();
    let (heads, tokens, d) = (shape[1], shape[2], shape[3]);
    let half = d / 2;
    let (x, cos, sin) = (values(x), values(cos), values(sin));
    let mut out = vec![0.0; x.len()];
    // One row of `d` values per (row, head, token).
    vector::rows(&mut out, d, |r, o| {
        let token = r % tokens;
        let row = r / (tokens * heads);
        let table = (row * tokens + token) * half;
        let (c, s) = (&cos[table..table + half], &sin[table..table + half]);
        let xi = &x[r * d..(r + 1) * d];
        for i in 0..half {
            let (a, b) = (xi[2 * i], xi[2 * i + 1]);
            let (c, s) = (c[i], sign * s[i]);
            o[2 * i] = a * c - b * s;
            o[2 * i + 1] = a * s + b * c;
        }
    });
    flex_tensor(out, &shape)
}

fn rope_cpu(x: Tensor<Cpu, 4>, cos: Tensor<Cpu, 3>, sin: Tensor<Cpu, 3>) -> Tensor<Cpu, 4> {
    wrap(rotate(&flex(x), &flex(cos), &flex(sin), 1.0))
}

#[derive(Debug)]
struct RopeBackward;

impl Backward<Cpu, 1> for RopeBackward {
    /// The cosines and sines.
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (cos, sin) = ops.state;
        unary::<Cpu, _>(ops.parents, ops.node, grads, |grad| rotate(&contiguous(grad), &cos, &sin, -1.0));
    }
}

/// The rotation under autodiff; the tables are constants (no gradient).
fn rope_autodiff(
    x: Tensor<CpuAutodiff, 4>,
    cos: Tensor<CpuAutodiff, 3>,
    sin: Tensor<CpuAutodiff, 3>,
) -> Tensor<CpuAutodiff, 4> {
    let (cos, sin) = (flex(cos.inner()), flex(sin.inner()));
    let x = x.into_primitive().tensor();
    let input = contiguous(x.primitive.clone());
    let y = rotate(&input, &cos, &sin, 1.0);
    record(RopeBackward, [&x], || (cos, sin), y)
}
