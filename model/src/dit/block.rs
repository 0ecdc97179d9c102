//! The DiT block: self-attention → cross-attention to text → MLP, with adaLN-Zero modulation
//! (shift, scale, gate for the attention and for the MLP) computed once per latent frame and
//! gathered to that frame's tokens. The modulation starts at zero: a new block is the identity.

use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::{Bool, Int};

use super::action_shift::ShiftRotation;
use super::attention::{CrossAttention, KeyValue, SelfAttention, linear2, linear3};
use super::rope::Rope;
use crate::kernels::{self, gelu};

/// Layer normalisation without learnt parameters (adaLN supplies scale and shift).
///
/// # Shapes
/// - input and output `[rows, n, dim]`
pub fn plain_norm<B: Backend>(x: Tensor<B, 3>, eps: f64) -> Tensor<B, 3> {
    kernels::layer_norm(x, None, eps)
}

/// Layer normalisation modulated by adaLN: `norm(x) · (1 + scale) + shift`.
///
/// # Shapes
/// - all `[rows, n, dim]`
pub fn modulated_norm<B: Backend>(x: Tensor<B, 3>, shift: Tensor<B, 3>, scale: Tensor<B, 3>, eps: f64) -> Tensor<B, 3> {
    kernels::layer_norm(x, Some((shift, scale)), eps)
}

/// Per-token modulation vectors gathered from a per-frame table.
///
/// # Shapes
/// - `table` `[frames, k · dim]`, `frame_index` `[rows · n]`
/// - output `[rows, n, k · dim]`
pub fn per_token<B: Backend>(table: Tensor<B, 2>, frame_index: Tensor<B, 1, Int>, rows: usize) -> Tensor<B, 3> {
    let width = table.dims()[1];
    let n = frame_index.dims()[0] / rows.max(1);
    table.select(0, frame_index).reshape([rows, n, width])
}

/// Masks and positions a block needs.
pub struct BlockContext<'a, B: Backend> {
    /// Rotary tables of the tokens.
    pub rope: &'a Rope<B>,
    /// Self-attention mask (`None`: everything visible).
    pub self_mask: Option<Tensor<B, 4, Bool>>,
    /// Cross-attention mask (`None`: all text visible).
    pub cross_mask: Option<Tensor<B, 4, Bool>>,
    /// `[rows · n]` each token's row in the frame table.
    pub frame_index: Tensor<B, 1, Int>,
    /// `[rows, text_len, text_dim]`
    pub text: Tensor<B, 3>,
    /// The text's keys and values per block ([`DitBlock::text_keys`]), when the caller has
    /// them already (`None`: each block computes its own from `text`).
    pub text_keys: Option<&'a [KeyValue<B>]>,
}

/// One DiT block.
#[derive(Module, Debug)]
pub struct DitBlock<B: Backend> {
    ada: Linear<B>,
    attn: SelfAttention<B>,
    cross: CrossAttention<B>,
    mlp_in: Linear<B>,
    mlp_out: Linear<B>,
    eps: f64,
}

impl<B: Backend> DitBlock<B> {
    /// A block of width `dim`.
    pub fn new(dim: usize, heads: usize, mlp_ratio: usize, text_dim: usize, eps: f64, device: &B::Device) -> Self {
        DitBlock {
            ada: LinearConfig::new(dim, 6 * dim).with_initializer(Initializer::Zeros).init(device),
            attn: SelfAttention::new(dim, heads, eps, device),
            cross: CrossAttention::new(dim, text_dim, heads, eps, device),
            mlp_in: LinearConfig::new(dim, mlp_ratio * dim).init(device),
            mlp_out: LinearConfig::new(mlp_ratio * dim, dim).init(device),
            eps,
        }
    }

    /// Cross-attention's keys and values of `text` (see [`CrossAttention::text_keys`]).
    ///
    /// # Shapes
    /// - `text` `[rows, text_len, text_dim]`; keys and values `[rows, heads, text_len, head_dim]`
    pub fn text_keys(&self, text: Tensor<B, 3>) -> KeyValue<B> {
        self.cross.text_keys(text)
    }

    /// Runs the block; `shift` displaces the tokens' positions (`None`: not displaced); `text`
    /// is this block's [`Self::text_keys`] of `ctx.text` when the caller has them (`None`:
    /// computed here).
    ///
    /// # Shapes
    /// - `x` `[rows, n, dim]`, `cond` `[frames, dim]` (already through SiLU)
    /// - output `[rows, n, dim]` and the tokens' keys/values `[rows, heads, n, head_dim]`
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        cond: Tensor<B, 2>,
        ctx: &BlockContext<B>,
        shift: Option<&ShiftRotation<B>>,
        past: Option<&KeyValue<B>>,
        text: Option<&KeyValue<B>>,
    ) -> (Tensor<B, 3>, KeyValue<B>) {
        let [rows, _, d] = x.dims();
        // Cut the per-frame table, then gather: slicing (and its gradient) stays frame-sized.
        let table = linear2(&self.ada, cond); // [frames, 6d]
        let chunk = |i: usize| per_token(table.clone().narrow(1, i * d, d), ctx.frame_index.clone(), rows); // [rows, n, d]
        let (shift1, scale1, gate1) = (chunk(0), chunk(1), chunk(2));
        let (shift2, scale2, gate2) = (chunk(3), chunk(4), chunk(5));

        let h = modulated_norm(x.clone(), shift1, scale1, self.eps);
        let (a, kv) = self.attn.forward(h, ctx.rope, shift, ctx.self_mask.clone(), past);
        let x = kernels::gated_residual(x, gate1, a);
        let own;
        let text = match text {
            Some(kv) => kv,
            None => {
                own = self.text_keys(ctx.text.clone());
                &own
            }
        };
        let x = x.clone() + self.cross.forward(plain_norm(x, self.eps), text, ctx.cross_mask.clone());
        let h = modulated_norm(x.clone(), shift2, scale2, self.eps);
        let h = linear3(&self.mlp_out, gelu(linear3(&self.mlp_in, h)));
        (kernels::gated_residual(x, gate2, h), kv)
    }
}
