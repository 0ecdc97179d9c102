//! Growing trained layers: exact copies of slices of a trained tensor into a bigger (or the same)
//! one, so a grown network starts exactly where the trained one was, and part of a layer can be
//! held fixed while the rest trains.

use burn::module::Param;
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

/// `param` with its value replaced by `f` of it, trainable exactly when `param` was: the new
/// value is a leaf of its own (no history of how it was made). burn's `Param::map` alone would
/// take trainability from the computed tensor, which is never a leaf, and so freeze the layer.
pub fn remap<B: Backend, const D: usize>(
    param: Param<Tensor<B, D>>,
    f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
) -> Param<Tensor<B, D>> {
    let trainable = param.val().is_require_grad();
    param.map(|t| {
        let t = f(t).detach();
        if trainable { t.require_grad() } else { t }
    })
}
