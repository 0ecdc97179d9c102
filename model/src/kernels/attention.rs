//! Scaled dot-product attention with a fused backward. The forward is two multi-threaded
//! matmuls around one pass that scales, masks and softmaxes each row with vectorised `exp`
//! (burn-flex's own fused attention runs its heads one after another with scalar `exp`). Under
//! autodiff burn falls back to the unfused form (a matmul, a mask, a softmax of five tracked
//! ops, a matmul), every step a graph node; here the forward keeps the attention probabilities
//! and the backward is four matmuls and one pass of the softmax gradient.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::prelude::*;
use burn::tensor::Bool;
use burn::tensor::module;
use burn::tensor::ops::AttentionModuleOptions;
use burn_flex::FlexTensor;

use super::node::record;
use super::route::{Kind, cast, kind_of};
use super::storage::{contiguous, flex, flex_tensor, values, wrap};
use super::vector;
use crate::{Cpu, CpuAutodiff};

/// `softmax(q kᵀ / √head_dim, masked) v`.
///
/// # Shapes
/// - `q` `[rows, heads, n, head_dim]`, `k` and `v` `[rows, heads, m, head_dim]`,
///   `mask` `[rows, heads, n, m]` or broadcastable to it (`true` = blocked; a row blocked
///   entirely attends to nothing and gives 0)
/// - output `[rows, heads, n, head_dim]`
pub fn attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    mask: Option<Tensor<B, 4, Bool>>,
) -> Tensor<B, 4> {
    match kind_of(&q) {
        Kind::Cpu => {
            let mask = mask.map(cast::<_, Tensor<Cpu, 4, Bool>>);
            cast(forward(cast(q), cast(k), cast(v), mask).1)
        }
        Kind::CpuAutodiff => {
            let mask = mask.map(|m| Tensor::<Cpu, 4, Bool>::from_primitive(cast(m.into_primitive())));
            cast(attention_autodiff(cast(q), cast(k), cast(v), mask))
        }
        _ => module::attention(q, k, v, mask, None, AttentionModuleOptions::default()),
    }
}

/// The factor on the scores, `1 / √head_dim`.
fn score_scale(head_dim: usize) -> f32 {
    1.0 / (head_dim as f32).sqrt()
}

/// The attention probabilities `softmax(q kᵀ · scale, masked)` and the output `p v`.
///
/// # Shapes
/// - as [`attention`]; probabilities `[rows, heads, n, m]` (contiguous)
fn forward(
    q: Tensor<Cpu, 4>,
    k: Tensor<Cpu, 4>,
    v: Tensor<Cpu, 4>,
    mask: Option<Tensor<Cpu, 4, Bool>>,
) -> (FlexTensor, Tensor<Cpu, 4>) {
    let scale = score_scale(q.dims()[3]);
    let scores = flex(q.matmul(k.swap_dims(2, 3))); // [b, h, n, m]
    let shape = scores.layout().shape().clone();
    let m = shape[3];
    let mut scores = if scores.is_unique() { scores } else { scores.to_contiguous() };
    let dims: [usize; 4] = std::array::from_fn(|i| shape[i]);
    // A mask that broadcasts (e.g. one for all heads) is expanded to the scores' shape.
    let blocked = mask.map(|mask| contiguous(mask.expand(dims).into_primitive()));
    let blocked = blocked.as_ref().map(FlexTensor::bytes);
    let n = shape.num_elements();
    vector::rows(&mut scores.storage_mut::<f32>()[..n], m, |r, row| {
        for (j, s) in row.iter_mut().enumerate() {
            *s = if blocked.is_some_and(|b| b[r * m + j] != 0) { f32::NEG_INFINITY } else { *s * scale };
        }
        vector::softmax_row(row);
    });
    let out = wrap::<4>(scores.clone()).matmul(v); // [b, h, n, hd]
    (scores, out)
}

/// `ds = p ⊙ (dp − Σ_row p ⊙ dp)` row by row.
///
/// # Shapes
/// - `p`, `dp` and output `[rows, heads, n, m]`
fn softmax_backward(p: &FlexTensor, dp: FlexTensor, scale: f32) -> FlexTensor {
    let dp = contiguous(dp);
    let shape = p.layout().shape().clone();
    let m = shape[3];
    let (p, dp) = (values(p), values(&dp));
    let mut out = vec![0.0; p.len()];
    vector::rows(&mut out, m, |r, o| {
        let (pr, dr) = (&p[r * m..(r + 1) * m], &dp[r * m..(r + 1) * m]);
        let dot: f32 = pr.iter().zip(dr).map(|(a, b)| a * b).sum();
        for ((o, &p), &d) in o.iter_mut().zip(pr).zip(dr) {
            *o = scale * p * (d - dot);
        }
    });
    flex_tensor(out, &shape)
}

#[derive(Debug)]
struct AttentionBackward;

/// What the backward needs: the inputs and the probabilities.
#[derive(Clone, Debug)]
struct Saved {
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    /// `[rows, heads, n, m]`, contiguous.
    p: FlexTensor,
}

impl Backward<Cpu, 3> for AttentionBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let Saved { q, k, v, p } = ops.state;
        let scale = score_scale(q.layout().shape()[3]);
        let g = wrap::<4>(grads.consume::<Cpu>(&ops.node)); // [b, h, n, hd]
        let [node_q, node_k, node_v] = ops.parents;
        if let Some(node) = node_v {
            let dv = wrap::<4>(p.clone()).swap_dims(2, 3).matmul(g.clone()); // [b, h, m, hd]
            grads.register::<Cpu>(node.id, dv.into_primitive().tensor());
        }
        if node_q.is_none() && node_k.is_none() {
            return;
        }
        let dp = g.matmul(wrap::<4>(v).swap_dims(2, 3)); // [b, h, n, m]
        let ds = wrap::<4>(softmax_backward(&p, dp.into_primitive().tensor(), scale));
        if let Some(node) = node_q {
            let dq = ds.clone().matmul(wrap::<4>(k)); // [b, h, n, hd]
            grads.register::<Cpu>(node.id, dq.into_primitive().tensor());
        }
        if let Some(node) = node_k {
            let dk = ds.swap_dims(2, 3).matmul(wrap::<4>(q)); // [b, h, m, hd]
            grads.register::<Cpu>(node.id, dk.into_primitive().tensor());
        }
    }
}

fn attention_autodiff(
    q: Tensor<CpuAutodiff, 4>,
    k: Tensor<CpuAutodiff, 4>,
    v: Tensor<CpuAutodiff, 4>,
    mask: Option<Tensor<Cpu, 4, Bool>>,
) -> Tensor<CpuAutodiff, 4> {
    let [q, k, v] = [q, k, v].map(|t| t.into_primitive().tensor());
    let (qi, ki, vi) = (wrap::<4>(q.primitive.clone()), wrap::<4>(k.primitive.clone()), wrap::<4>(v.primitive.clone()));
    let (p, out) = forward(qi, ki, vi, mask);
    let out = out.into_primitive().tensor(); // [b, h, n, hd]
    let saved = || Saved { q: q.primitive.clone(), k: k.primitive.clone(), v: v.primitive.clone(), p };
    record(AttentionBackward, [&q, &k, &v], saved, out)
}
