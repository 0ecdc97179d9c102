//! Multi-head attention of the DiT: self-attention over spacetime tokens (QK-norm, 3D rotary
//! positions, a mask, and optionally cached keys and values of earlier frames) and
//! cross-attention from tokens to text tokens.

use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig, RmsNorm, RmsNormConfig};
use burn::prelude::*;
use burn::tensor::Bool;

use super::action_shift::ShiftRotation;
use super::rope::Rope;
use crate::kernels::{self, attention, merge_heads, rms_norm};

/// Keys and values of some tokens, after normalisation and rotation.
#[derive(Clone, Debug)]
pub struct KeyValue<B: Backend> {
    /// `[rows, heads, tokens, head_dim]`
    pub k: Tensor<B, 4>,
    /// `[rows, heads, tokens, head_dim]`
    pub v: Tensor<B, 4>,
}

impl<B: Backend> KeyValue<B> {
    /// These tokens followed by `later` ones.
    pub fn append(self, later: KeyValue<B>) -> KeyValue<B> {
        KeyValue { k: kernels::cat(vec![self.k, later.k], 2), v: kernels::cat(vec![self.v, later.v], 2) }
    }

    /// Tokens cached.
    pub fn tokens(&self) -> usize {
        self.k.dims()[2]
    }
}

/// `[rows, n, heads · head_dim]` → `[rows, heads, n, head_dim]`.
fn split_heads<B: Backend>(x: Tensor<B, 3>, heads: usize) -> Tensor<B, 4> {
    let [b, n, d] = x.dims();
    x.reshape([b, n, heads, d / heads]).swap_dims(1, 2)
}

/// A linear layer through the fused kernel.
///
/// # Shapes
/// - input `[rows, in]`, output `[rows, out]`
pub fn linear2<B: Backend>(layer: &Linear<B>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    kernels::linear(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))
}

/// A linear layer applied to the last dimension of a 3-D input, flattened to 2-D first.
///
/// # Shapes
/// - input `[b, n, in]`, output `[b, n, out]`
pub fn linear3<B: Backend>(layer: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [b, n, d] = x.dims();
    let y = linear2(layer, x.reshape([b * n, d]));
    let out = y.dims()[1];
    y.reshape([b, n, out])
}

/// The QK-norm of a head: burn's `RmsNorm`, fused on the CPU backend.
///
/// # Shapes
/// - input and output `[rows, heads, n, head_dim]`
fn qk_norm<B: Backend>(norm: &RmsNorm<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    rms_norm(x, norm.gamma.val(), norm.epsilon)
}

/// Columns `start .. start + len` of a linear layer's output, computed alone.
///
/// # Shapes
/// - input `[rows, in]`, output `[rows, len]`
fn linear_columns<B: Backend>(layer: &Linear<B>, x: Tensor<B, 2>, start: usize, len: usize) -> Tensor<B, 2> {
    let bias = layer.bias.as_ref().map(|b| b.val().narrow(0, start, len));
    kernels::linear(x, layer.weight.val().narrow(1, start, len), bias)
}

/// Self-attention with QK-norm and rotary positions.
#[derive(Module, Debug)]
pub struct SelfAttention<B: Backend> {
    qkv: Linear<B>,
    out: Linear<B>,
    q_norm: RmsNorm<B>,
    k_norm: RmsNorm<B>,
    heads: usize,
}

impl<B: Backend> SelfAttention<B> {
    /// `heads` heads over width `dim`.
    pub fn new(dim: usize, heads: usize, eps: f64, device: &B::Device) -> Self {
        let hd = dim / heads;
        SelfAttention {
            qkv: LinearConfig::new(dim, 3 * dim).init(device),
            out: LinearConfig::new(dim, dim).init(device),
            q_norm: RmsNormConfig::new(hd).with_epsilon(eps).init(device),
            k_norm: RmsNormConfig::new(hd).with_epsilon(eps).init(device),
            heads,
        }
    }

    /// Attends from `x` to `past` (if any) and `x`, queries and keys at their rotary positions
    /// displaced by `shift` (if any); also returns `x`'s own keys and values (for a cache).
    ///
    /// # Shapes
    /// - `x` `[rows, n, dim]`; `rope` for these `n` tokens; `mask` `[rows, heads, n, past + n]`
    /// - output `[rows, n, dim]`, keys/values `[rows, heads, n, head_dim]`
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        rope: &Rope<B>,
        shift: Option<&ShiftRotation<B>>,
        mask: Option<Tensor<B, 4, Bool>>,
        past: Option<&KeyValue<B>>,
    ) -> (Tensor<B, 3>, KeyValue<B>) {
        let [b, n, d] = x.dims();
        let x = x.reshape([b * n, d]);
        // Three products with column blocks of the fused weight: q, k and v come out contiguous,
        // and their gradients need no slicing of token-sized tensors.
        let part =
            |i: usize| split_heads(linear_columns(&self.qkv, x.clone(), i * d, d).reshape([b, n, d]), self.heads);
        let (q, k, v) = (part(0), part(1), part(2)); // [b, h, n, hd]
        let (q, k) = (rope.apply(qk_norm(&self.q_norm, q)), rope.apply(qk_norm(&self.k_norm, k)));
        let (q, k) = match shift {
            Some(s) => (s.apply(q), s.apply(k)),
            None => (q, k),
        };
        let own = KeyValue { k, v };
        let all = match past {
            Some(p) => p.clone().append(own.clone()),
            None => own.clone(),
        };
        let o = attention(q, all.k, all.v, mask); // [b, h, n, hd]
        (linear2(&self.out, merge_heads(o)).reshape([b, n, d]), own)
    }
}

/// Cross-attention from tokens to text tokens, with QK-norm; its output projection starts at
/// zero so a new block starts as the identity.
#[derive(Module, Debug)]
pub struct CrossAttention<B: Backend> {
    q: Linear<B>,
    kv: Linear<B>,
    out: Linear<B>,
    q_norm: RmsNorm<B>,
    k_norm: RmsNorm<B>,
    heads: usize,
}

impl<B: Backend> CrossAttention<B> {
    /// `heads` heads over width `dim`, reading text of width `text_dim`.
    pub fn new(dim: usize, text_dim: usize, heads: usize, eps: f64, device: &B::Device) -> Self {
        let hd = dim / heads;
        CrossAttention {
            q: LinearConfig::new(dim, dim).init(device),
            kv: LinearConfig::new(text_dim, 2 * dim).init(device),
            out: LinearConfig::new(dim, dim).with_initializer(Initializer::Zeros).init(device),
            q_norm: RmsNormConfig::new(hd).with_epsilon(eps).init(device),
            k_norm: RmsNormConfig::new(hd).with_epsilon(eps).init(device),
            heads,
        }
    }

    /// The keys and values of text tokens (normalised keys): the same for every call that reads
    /// the same text, so a stream computes them once per step.
    ///
    /// # Shapes
    /// - `text` `[rows, text_len, text_dim]`
    /// - keys and values `[rows, heads, text_len, head_dim]`
    pub fn text_keys(&self, text: Tensor<B, 3>) -> KeyValue<B> {
        let d = self.q.weight.dims()[1];
        let kv = linear3(&self.kv, text); // [b, L, 2d]
        let k = qk_norm(&self.k_norm, split_heads(kv.clone().narrow(2, 0, d), self.heads)); // [b, h, L, hd]
        KeyValue { k, v: split_heads(kv.narrow(2, d, d), self.heads) }
    }

    /// # Shapes
    /// - `x` `[rows, n, dim]`, `text` from [`Self::text_keys`], `mask` `[rows, heads, n, text_len]`
    /// - output `[rows, n, dim]`
    pub fn forward(&self, x: Tensor<B, 3>, text: &KeyValue<B>, mask: Option<Tensor<B, 4, Bool>>) -> Tensor<B, 3> {
        let [b, n, d] = x.dims();
        let q = qk_norm(&self.q_norm, split_heads(linear3(&self.q, x), self.heads)); // [b, h, n, hd]
        let o = attention(q, text.k.clone(), text.v.clone(), mask); // [b, h, n, hd]
        linear2(&self.out, merge_heads(o)).reshape([b, n, d])
    }
}
