//! Scaled dot-product attention with a fused backward. The forward works in blocks of query
//! rows, one task each: the block's scores are one gemm call on the heads as they lie in
//! memory (split heads are strided views), are scaled, masked and softmaxed with vectorised
//! `exp` while in cache, and are multiplied by the values in a second call; the full score
//! matrix is only written out when the backward needs it. (burn-flex's own fused attention runs
//! its heads one after another with scalar `exp`.) Under autodiff burn falls back to the
//! unfused form (a matmul, a mask, a softmax of five tracked ops, a matmul), every step a graph
//! node; here the forward keeps the attention probabilities and the backward is four matmuls
//! and one pass of the softmax gradient.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::prelude::*;
use burn::tensor::Bool;
use burn::tensor::module;
use burn::tensor::ops::AttentionModuleOptions;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::gemm::{self, View};
use super::node::record;
use super::route::{Kind, cast, kind_of};
use super::storage::{contiguous, flex_tensor, values, wrap};
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
            cast(wrap::<4>(forward(cast(q), cast(k), cast(v), mask, false).1))
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

/// Query rows per task: small enough that a block's scores (`rows × m`) stay in cache and
/// that there are a few tasks per thread, large enough that each product amortises packing
/// its right-hand side.
fn query_block(pairs: usize, n: usize) -> usize {
    const MIN_ROWS: usize = 16;
    const MAX_ROWS: usize = 64;
    let wanted_tasks = 4 * rayon::current_num_threads().max(1);
    (pairs * n).div_ceil(wanted_tasks).next_multiple_of(8).clamp(MIN_ROWS, MAX_ROWS)
}

/// A 4-D f32 tensor read in place: its `[head_rows, head_dim]` matrix of each (row, head) pair
/// as a gemm view, whatever its strides (split heads are a permuted view).
struct Heads {
    tensor: FlexTensor,
    start: usize,
    /// Strides of `[rows, heads, tokens, head_dim]`.
    strides: [usize; 4],
}

impl Heads {
    /// `t` broadcast to `dims` (a view; copied only when a stride is negative).
    fn new(t: FlexTensor, dims: [usize; 4]) -> Self {
        let t = if t.layout().strides().iter().any(|&s| s < 0) { contiguous(t) } else { t };
        let t = burn_flex::ops::expand::expand(t, dims.into());
        let strides = std::array::from_fn(|i| t.layout().strides()[i] as usize);
        Heads { start: t.layout().start_offset(), strides, tensor: t }
    }

    /// Offset of the matrix of pair `(row, head)`.
    fn base(&self, pair: [usize; 2]) -> usize {
        self.start + pair[0] * self.strides[0] + pair[1] * self.strides[1]
    }

    /// Tokens `from .. from + len` of pair `(row, head)` as a `[len, head_dim]` view.
    fn tokens(&self, pair: [usize; 2], from: usize, len: usize, head_dim: usize) -> View {
        View::new(self.base(pair) + from * self.strides[2], [len, head_dim], [self.strides[2], self.strides[3]])
    }

    /// All `m` tokens of pair `(row, head)`, transposed: a `[head_dim, m]` view.
    fn transposed(&self, pair: [usize; 2], m: usize, head_dim: usize) -> View {
        View::new(self.base(pair), [head_dim, m], [self.strides[3], self.strides[2]])
    }

    fn values(&self) -> &[f32] {
        self.tensor.storage::<f32>()
    }

    fn bytes(&self) -> &[u8] {
        self.tensor.bytes()
    }
}

/// One task: query rows `from .. from + rows` of pair `(row, head)`. `scores` `[rows, m]`
/// receives the probabilities and `out` `[rows, head_dim]` the output.
struct Block<'a> {
    pair: [usize; 2],
    from: usize,
    out: &'a mut [f32],
    scores: Option<&'a mut [f32]>,
}

/// The output `p v` and, when `keep_probabilities`, the attention probabilities
/// `softmax(q kᵀ · scale, masked)`. Each task multiplies one block of query rows by all keys,
/// softmaxes the block's scores while they are in cache and multiplies them by the values, so
/// the `n × m` score matrix is never written to memory unless it is kept.
///
/// # Shapes
/// - as [`attention`]; probabilities `[rows, heads, n, m]` (contiguous)
fn forward(
    q: Tensor<Cpu, 4>,
    k: Tensor<Cpu, 4>,
    v: Tensor<Cpu, 4>,
    mask: Option<Tensor<Cpu, 4, Bool>>,
    keep_probabilities: bool,
) -> (Option<FlexTensor>, FlexTensor) {
    let [b, h, n, hd] = q.dims();
    let m = k.dims()[2];
    let scale = score_scale(hd);
    let heads = |t: Tensor<Cpu, 4>, len: usize| Heads::new(t.into_primitive().tensor(), [b, h, len, hd]);
    let (q, k, v) = (heads(q, n), heads(k, m), heads(v, m));
    let blocked = mask.map(|mask| Heads::new(mask.into_primitive(), [b, h, n, m]));
    let mut out = vec![0.0; b * h * n * hd];
    let mut probabilities = keep_probabilities.then(|| vec![0.0; b * h * n * m]);
    if out.is_empty() || m == 0 {
        // No queries, or no keys to attend to (the output is 0).
        return (probabilities.map(|p| flex_tensor(p, &[b, h, n, m])), flex_tensor(out, &[b, h, n, hd]));
    }
    let rows = query_block(b * h, n);
    let pair_scores: Vec<Option<&mut [f32]>> = match probabilities.as_deref_mut() {
        Some(p) => p.chunks_mut(n * m).map(Some).collect(),
        None => (0..b * h).map(|_| None).collect(),
    };
    let mut blocks = Vec::new();
    for (pair, (o, scores)) in out.chunks_mut(n * hd).zip(pair_scores).enumerate() {
        let mut scores = scores.map(|s| s.chunks_mut(rows * m));
        for (i, out) in o.chunks_mut(rows * hd).enumerate() {
            let scores = scores.as_mut().and_then(Iterator::next);
            blocks.push(Block { pair: [pair / h, pair % h], from: i * rows, out, scores });
        }
    }
    blocks.into_par_iter().for_each_init(Vec::new, |buffer, block| {
        let len = block.out.len() / hd;
        let s = match block.scores {
            Some(s) => s,
            None => {
                buffer.resize(len * m, 0.0);
                &mut buffer[..len * m]
            }
        };
        let (pair, from) = (block.pair, block.from);
        let dense = |rows, cols| View::new(0, [rows, cols], [cols, 1]);
        gemm::matmul(
            s,
            dense(len, m),
            q.values(),
            q.tokens(pair, from, len, hd),
            k.values(),
            k.transposed(pair, m, hd),
            false,
            1,
        );
        for (r, row) in s.chunks_mut(m).enumerate() {
            match &blocked {
                Some(mask) => {
                    let base = mask.base(pair) + (from + r) * mask.strides[2];
                    let bytes = mask.bytes();
                    for (j, x) in row.iter_mut().enumerate() {
                        *x = if bytes[base + j * mask.strides[3]] != 0 { f32::NEG_INFINITY } else { *x * scale };
                    }
                }
                None => row.iter_mut().for_each(|x| *x *= scale),
            }
            vector::softmax_row(row);
        }
        gemm::matmul(block.out, dense(len, hd), s, dense(len, m), v.values(), v.tokens(pair, 0, m, hd), false, 1);
    });
    let probabilities = probabilities.map(|p| flex_tensor(p, &[b, h, n, m]));
    (probabilities, flex_tensor(out, &[b, h, n, hd]))
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
    let (p, out) = forward(qi, ki, vi, mask, true); // out [b, h, n, hd]
    let p = p.expect("probabilities are kept for the backward");
    let saved = || Saved { q: q.primitive.clone(), k: k.primitive.clone(), v: v.primitive.clone(), p };
    record(AttentionBackward, [&q, &k, &v], saved, out)
}
