//! Joining attention heads back into tokens (`[rows, heads, n, head_dim]` → `[rows · n,
//! heads · head_dim]`) as one blocked copy, forward and backward. The plain form (`swap_dims`
//! then `reshape`) makes burn-flex copy a 4-D permuted view element by element.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, unary};
use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use burn_flex::FlexTensor;

use super::node::record;
use super::route::{Kind, cast, kind};
use super::storage::{contiguous, flex, flex_tensor, is_f32, values, wrap};
use super::vector;
use crate::{Cpu, CpuAutodiff};

/// `[rows, heads, n, head_dim]` → `[rows · n, heads · head_dim]`.
pub fn merge_heads<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 2> {
    match kind::<B>() {
        Kind::Cpu => {
            let t = flex(cast::<_, Tensor<Cpu, 4>>(x));
            if !is_f32(&t) {
                return cast(merge_heads_plain(wrap::<4>(t)));
            }
            cast(wrap::<2>(swap_middle(&t, true)))
        }
        Kind::CpuAutodiff => cast(merge_autodiff(cast(x))),
        Kind::Other => merge_heads_plain(x),
    }
}

/// [`merge_heads`] in plain burn ops.
pub fn merge_heads_plain<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 2> {
    let [b, h, n, hd] = x.dims();
    x.swap_dims(1, 2).reshape([b * n, h * hd])
}

/// Swaps the two middle axes of a contiguous 4-D tensor `[a, p, q, c]` → `[a, q, p, c]`,
/// shaped `[a · q, p · c]` when `merged`, else `[a, p, q, c]` read as `[a, q, p, c]` ⇄ back.
fn swap_middle(t: &FlexTensor, merged: bool) -> FlexTensor {
    let shape = t.layout().shape().clone();
    let (a, p, q, c) = (shape[0], shape[1], shape[2], shape[3]);
    let x = values(t);
    let mut out = vec![0.0; x.len()];
    // Output row (i, j) over `p · c` values gathers x[i, k, j, :] for every k.
    vector::rows(&mut out, p * c, |r, o| {
        let (i, j) = (r / q, r % q);
        for (k, chunk) in o.chunks_exact_mut(c).enumerate() {
            let start = ((i * p + k) * q + j) * c;
            chunk.copy_from_slice(&x[start..start + c]);
        }
    });
    if merged { flex_tensor(out, &[a * q, p * c]) } else { flex_tensor(out, &[a, q, p, c]) }
}

#[derive(Debug)]
struct MergeBackward;

impl Backward<Cpu, 1> for MergeBackward {
    /// `[rows, heads, n, head_dim]` of the input.
    type State = [usize; 4];

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [b, h, n, hd] = ops.state;
        unary::<Cpu, _>(ops.parents, ops.node, grads, |grad| {
            // [b · n, h · hd] seen as [b, n, h, hd] → [b, h, n, hd]
            let grad = contiguous(grad);
            let grad = flex_tensor(values(&grad).to_vec(), &[b, n, h, hd]);
            swap_middle(&grad, false)
        });
    }
}

fn merge_autodiff(x: Tensor<CpuAutodiff, 4>) -> Tensor<CpuAutodiff, 2> {
    let x = x.into_primitive().tensor();
    if !is_f32(&x.primitive) {
        return merge_heads_plain(Tensor::from_primitive(TensorPrimitive::Float(x)));
    }
    let input = contiguous(x.primitive.clone());
    let dims: [usize; 4] = std::array::from_fn(|i| input.layout().shape()[i]);
    let y = swap_middle(&input, true);
    record(MergeBackward, [&x], || dims, y)
}
