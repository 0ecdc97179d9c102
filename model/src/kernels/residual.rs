//! The adaLN-Zero gated residual `x + gate ⊙ y` as one pass, forward and backward. The gate is
//! a view into the per-token modulation (a slice of its last dimension); the plain form makes
//! burn-flex walk that view element by element, once forward and again backward.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::prelude::*;
use burn_flex::FlexTensor;

use super::node::record;
use super::route::{Kind, cast, kind_of};
use super::storage::{Rows, contiguous, flex_tensor, values, wrap};
use super::vector;
use crate::{Cpu, CpuAutodiff};

/// `x + gate ⊙ y`.
///
/// # Shapes
/// - all `[rows, n, d]` (the gate may be a view)
pub fn gated_residual<B: Backend>(x: Tensor<B, 3>, gate: Tensor<B, 3>, y: Tensor<B, 3>) -> Tensor<B, 3> {
    match kind_of(&x) {
        Kind::Cpu => {
            let [x, gate, y] = [x, gate, y].map(|t| cast::<_, Tensor<Cpu, 3>>(t).into_primitive().tensor());
            cast(wrap::<3>(forward(&contiguous(x), &Rows::new(gate), &contiguous(y))))
        }
        Kind::CpuAutodiff => cast(gated_autodiff(cast(x), cast(gate), cast(y))),
        Kind::Other => x + gate * y,
    }
}

fn forward(x: &FlexTensor, gate: &Rows, y: &FlexTensor) -> FlexTensor {
    let shape = x.layout().shape().clone();
    let d = shape[2];
    let (xv, yv) = (values(x), values(y));
    let mut out = vec![0.0; xv.len()];
    vector::rows(&mut out, d, |r, o| {
        let (xr, yr, g) = (&xv[r * d..(r + 1) * d], &yv[r * d..(r + 1) * d], gate.row(r));
        for (((o, &x), &y), &g) in o.iter_mut().zip(xr).zip(yr).zip(g) {
            *o = g * y + x;
        }
    });
    flex_tensor(out, &shape)
}

#[derive(Debug)]
struct GatedBackward;

impl Backward<Cpu, 3> for GatedBackward {
    /// The gate and `y`, contiguous.
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (gate, y) = ops.state;
        let dy = contiguous(grads.consume::<Cpu>(&ops.node));
        let shape = dy.layout().shape().clone();
        let [node_x, node_gate, node_y] = ops.parents;
        let times = |other: &FlexTensor| {
            let mut out = values(&dy).to_vec();
            vector::zip_in_place(&mut out, values(other), |a, b| a * b);
            flex_tensor(out, &shape)
        };
        if let Some(node) = node_gate {
            grads.register::<Cpu>(node.id, times(&y));
        }
        if let Some(node) = node_y {
            grads.register::<Cpu>(node.id, times(&gate));
        }
        if let Some(node) = node_x {
            grads.register::<Cpu>(node.id, dy);
        }
    }
}

fn gated_autodiff(
    x: Tensor<CpuAutodiff, 3>,
    gate: Tensor<CpuAutodiff, 3>,
    y: Tensor<CpuAutodiff, 3>,
) -> Tensor<CpuAutodiff, 3> {
    let [x, gate, y] = [x, gate, y].map(|t| t.into_primitive().tensor());
    let (xc, yc) = (contiguous(x.primitive.clone()), contiguous(y.primitive.clone()));
    let out = forward(&xc, &Rows::new(gate.primitive.clone()), &yc);
    record(GatedBackward, [&x, &gate, &y], || (contiguous(gate.primitive.clone()), yc), out)
}
