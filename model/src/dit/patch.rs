//! Spacetime patches: a latent `[C, t, h, w]` ⇄ tokens `[t·(h/p)·(w/p), C·p·p]` in frame-major,
//! row-major order, with each token's `(t, y, x)` position in patches.

use burn::prelude::*;

/// Cuts one latent into tokens.
///
/// # Shapes
/// - input `[1, channels, frames, height, width]` (sides multiples of `patch`)
/// - output `[frames · height/patch · width/patch, channels · patch²]`
pub fn patchify<B: Backend>(z: Tensor<B, 5>, patch: usize) -> Tensor<B, 2> {
    let [_, c, t, h, w] = z.dims();
    let (gh, gw) = (h / patch, w / patch);
    z.reshape([c, t, gh, patch, gw, patch]) // [c, t, gh, p, gw, p]
        .permute([1, 2, 4, 0, 3, 5]) // [t, gh, gw, c, p, p]
        .reshape([t * gh * gw, c * patch * patch])
}

/// Puts tokens back into a latent: the inverse of [`patchify`].
///
/// # Shapes
/// - input `[frames · gh · gw, channels · patch²]`
/// - output `[1, channels, frames, gh · patch, gw · patch]`
pub fn unpatchify<B: Backend>(
    tokens: Tensor<B, 2>,
    channels: usize,
    frames: usize,
    grid: (usize, usize),
    patch: usize,
) -> Tensor<B, 5> {
    let (gh, gw) = grid;
    tokens
        .reshape([frames, gh, gw, channels, patch, patch]) // [t, gh, gw, c, p, p]
        .permute([3, 0, 1, 4, 2, 5]) // [c, t, gh, p, gw, p]
        .reshape([1, channels, frames, gh * patch, gw * patch])
}

/// The `(t, y, x)` position of every token of a `frames × gh × gw` grid, in token order;
/// `first_frame` offsets `t` (a frame generated later in a stream keeps its place in time).
pub fn positions(frames: usize, grid: (usize, usize), first_frame: usize) -> Vec<[f32; 3]> {
    let (gh, gw) = grid;
    let mut out = Vec::with_capacity(frames * gh * gw);
    for t in 0..frames {
        for y in 0..gh {
            for x in 0..gw {
                out.push([(first_frame + t) as f32, y as f32, x as f32]);
            }
        }
    }
    out
}
