//! Growing trained layers: exact copies of slices of a trained tensor into a bigger (or the same)
//! one, so a grown network starts exactly where the trained one was, and part of a layer can be
//! held fixed while the rest trains.

use burn::prelude::*;

/// `dst` with the pieces `(from, to, len)` of `src` along `dim` written over it (sorted by `to`,
/// not overlapping); exact copies, no arithmetic.
///
/// # Shapes
/// - `dst` and output: any; `src`: the same but along `dim`
pub fn splice<B: Backend, const D: usize>(
    dst: Tensor<B, D>,
    src: Tensor<B, D>,
    dim: usize,
    pieces: &[(usize, usize, usize)],
) -> Tensor<B, D> {
    let size = dst.dims()[dim];
    let mut parts = Vec::new();
    let mut at = 0;
    for &(from, to, len) in pieces {
        debug_assert!(to >= at && to + len <= size, "pieces are sorted, disjoint and inside the layer");
        if to > at {
            parts.push(dst.clone().narrow(dim, at, to - at));
        }
        if len > 0 {
            parts.push(src.clone().narrow(dim, from, len));
        }
        at = to + len;
    }
    if at < size {
        parts.push(dst.narrow(dim, at, size - at));
    }
    Tensor::cat(parts, dim)
}

/// A computed tensor as a parameter's value: a leaf of its own (no history of how it was made),
/// trainable when its inputs were.
pub fn as_param_value<B: Backend, const D: usize>(t: Tensor<B, D>) -> Tensor<B, D> {
    let trainable = t.is_require_grad();
    let t = t.detach();
    if trainable { t.require_grad() } else { t }
}
