//! Joining attention heads back into tokens (`[rows, heads, n, head_dim]` → `[rows · n,
//! heads · head_dim]`) as one blocked copy, forward and backward. The plain form (`swap_dims`
//! then `reshape`) makes burn-flex copy a 4-D permuted view element by element.

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

/// `[rows, heads, n, head_dim]` → `[rows · n, heads · head_dim]`.
pub fn merge_heads<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 2> {
    match kind_of(&x) {
        Kind::Cpu => {
            let t = flex(cast::<_, Tensor<Cpu, 4>>(x));
            let [a, p, q, c] = dims(&t);
            cast(wrap::<2>(swap_middle(values(&t), [a, p, q, c], &[a * q, p * c])))
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

/// The four sizes of a 4-D flex tensor.
fn dims(t: &FlexTensor) -> [usize; 4] {
    std::array::from_fn(|i| t.layout().shape()[i])
}

/// Swaps the two middle axes of contiguous values `[a, p, q, c]` → `[a, q, p, c]`, as a tensor
/// of `shape` (the same values read as `[a · q, p · c]` when merging heads).
fn swap_middle(x: &[f32], [_, p, q, c]: [usize; 4], shape: &[usize]) -> FlexTensor {
    let mut out = vec![0.0; x.len()];
    // Output row (i, j) over `p · c` values gathers x[i, k, j, :] for every k.
    vector::rows(&mut out, p * c, |r, o| {
        let (i, j) = (r / q, r % q);
        for (k, chunk) in o.chunks_exact_mut(c).enumerate() {
            let start = ((i * p + k) * q + j) * c;
            chunk.copy_from_slice(&x[start..start + c]);
        }
    });
    flex_tensor(out, shape)
}

#[derive(Debug)]
struct MergeBackward;

impl Backward<Cpu, 1> for MergeBackward {
    /// `[rows, heads, n, head_dim]` of the input.
    type State = [usize; 4];

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [b, h, n, hd] = ops.state;
        unary::<Cpu, _>(ops.parents, ops.node, grads, |grad| {
            // [b · n, h · hd] read as [b, n, h, hd] → [b, h, n, hd]
            swap_middle(values(&contiguous(grad)), [b, n, h, hd], &[b, h, n, hd])
        });
    }
}

fn merge_autodiff(x: Tensor<CpuAutodiff, 4>) -> Tensor<CpuAutodiff, 2> {
    let x = x.into_primitive().tensor();
    let input = contiguous(x.primitive.clone());
    let [a, p, q, c] = dims(&input);
    let y = swap_middle(values(&input), [a, p, q, c], &[a * q, p * c]);
    record(MergeBackward, [&x], || [a, p, q, c], y)
}
