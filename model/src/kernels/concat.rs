//! Concatenation of views as blocked row copies. burn-flex's `cat` first makes every input
//! contiguous element by element (its strided iterator), which is what a stream pays on every
//! call for its cached keys and values (a narrowed window, split heads) and for the decoder's
//! cached frames. Here each input is read a row of its last dimension at a time, in place when
//! that row is contiguous, and copied once into the output.

use burn::prelude::*;
use burn_flex::FlexTensor;

use super::route::{Kind, cast, kind_of};
use super::storage::{Rows, flex_tensor, wrap};
use crate::Cpu;

/// `Tensor::cat(tensors, dim)`, fused for burn-flex `f32` tensors when `dim` is not the last
/// dimension (under autodiff and on other backends it is burn's own `cat`).
///
/// # Shapes
/// - inputs `[.., n_i, ..]` (equal except at `dim`), output `[.., Σ n_i, ..]`
///
/// # Panics
/// As `Tensor::cat`: on no input or on sizes that differ outside `dim`.
pub fn cat<B: Backend, const D: usize>(tensors: Vec<Tensor<B, D>>, dim: usize) -> Tensor<B, D> {
    let fused = dim + 1 < D && !tensors.is_empty() && tensors.iter().all(|t| kind_of(t) == Kind::Cpu);
    if !fused {
        return Tensor::cat(tensors, dim);
    }
    let parts = tensors.into_iter().map(|t| cast::<_, Tensor<Cpu, D>>(t).into_primitive().tensor()).collect();
    cast(wrap::<D>(cat_rows(parts, dim)))
}

/// Concatenates f32 flex tensors along `dim` (not the last) by rows of the last dimension.
fn cat_rows(parts: Vec<FlexTensor>, dim: usize) -> FlexTensor {
    let first: Vec<usize> = parts[0].layout().shape().to_vec();
    let d = first.len();
    let mut out_shape = first.clone();
    out_shape[dim] = 0;
    for p in &parts {
        let s = p.layout().shape();
        assert_eq!(s.num_dims(), d, "cat: dimension count mismatch");
        for (i, &size) in first.iter().enumerate() {
            assert!(i == dim || s[i] == size, "cat: shape mismatch at dim {i}: expected {size}, got {}", s[i]);
        }
        out_shape[dim] += s[dim];
    }
    let outer: usize = first[..dim].iter().product();
    // Rows of the last dimension under one index of `dim`.
    let inner_rows: usize = first[dim + 1..d - 1].iter().product();
    let total: usize = out_shape.iter().product();
    let sources: Vec<(Rows, usize)> = parts
        .into_iter()
        .map(|p| {
            let span = p.layout().shape()[dim] * inner_rows;
            (Rows::new(p), span)
        })
        .collect();
    let mut out = Vec::with_capacity(total);
    if total > 0 {
        for o in 0..outer {
            for (rows, span) in &sources {
                rows.copy_to(o * span..(o + 1) * span, &mut out);
            }
        }
    }
    flex_tensor(out, &out_shape)
}
