//! Action-displaced positions: each latent frame's action caption moves that frame's rotary
//! positions, per block and head, by a learnt displacement in patches (height and width), added
//! up over the sample's frames. A head whose displacement follows the player sees the player at
//! the same position in every frame, so "the player moves left" turns into *where* that head
//! reads the past, not only into the per-frame modulation (which tells walking from standing but
//! carries no direction a spatial attention can use). Displacements start at zero: a network grown
//! to have them predicts exactly as before until trained.
//!
//! The displacement is one more rotation of the height and width channel pairs of queries and
//! keys, by angles `offset · frequency` with the rotary frequencies of [`super::rope`]; rotations
//! of a pair add up, so a query of frame `f` and a key of frame `g` meet at distance
//! `(pos_f + offset_f) − (pos_g + offset_g)`. Keys enter a stream's cache displaced, so a stream
//! needs only the running offset of its last frame ([`super::DitCache::shift`]).

use burn::prelude::*;
use burn::tensor::TensorData;

use super::rope::{axis_pairs, frequency};

/// Values per block in a displacement row: height and width per head.
pub const AXES: usize = 2;

/// The rotation of one block's queries and keys by their frames' displacements.
#[derive(Clone, Debug)]
pub struct ShiftRotation<B: Backend> {
    /// `[rows, heads, n, head_dim]` cosine of each channel's angle (both channels of a pair).
    cos: Tensor<B, 4>,
    /// `[rows, heads, n, head_dim]` sine likewise.
    sin: Tensor<B, 4>,
    /// `[head_dim, head_dim]`: `x · swap` maps each pair `(a, b)` to `(−b, a)`.
    swap: Tensor<B, 2>,
}

/// The rotary frequency of every channel on `axis` (1 height, 2 width; 0 elsewhere), each pair's
/// frequency on both of its channels.
fn channel_frequencies(head_dim: usize, theta: f64, axis: usize) -> Vec<f32> {
    let pairs = axis_pairs(head_dim);
    let start: usize = pairs[..axis].iter().sum();
    let mut out = vec![0.0; head_dim];
    for k in 0..pairs[axis] {
        let freq = frequency(k, pairs[axis], theta) as f32;
        out[2 * (start + k)] = freq;
        out[2 * (start + k) + 1] = freq;
    }
    out
}

impl<B: Backend> ShiftRotation<B> {
    /// The rotation for tokens displaced by `offsets`, one (height, width) pair per head.
    ///
    /// # Shapes
    /// - `offsets` `[rows, n, heads · 2]`
    pub fn new(offsets: Tensor<B, 3>, heads: usize, head_dim: usize, theta: f64) -> Self {
        let [rows, n, _] = offsets.dims();
        let device = offsets.device();
        let per_head = offsets.reshape([rows, n, heads, AXES]).swap_dims(1, 2); // [rows, heads, n, 2]
        let freqs = |axis: usize| {
            Tensor::<B, 1>::from_floats(channel_frequencies(head_dim, theta, axis).as_slice(), &device)
                .reshape([1, 1, 1, head_dim])
        };
        let angles = per_head.clone().narrow(3, 0, 1) * freqs(1) + per_head.narrow(3, 1, 1) * freqs(2); // [rows, heads, n, hd]
        let mut swap = vec![0.0f32; head_dim * head_dim];
        for p in 0..head_dim / 2 {
            let (a, b) = (2 * p, 2 * p + 1);
            swap[b * head_dim + a] = -1.0; // out[a] = −x[b]
            swap[a * head_dim + b] = 1.0; // out[b] = x[a]
        }
        ShiftRotation {
            cos: angles.clone().cos(),
            sin: angles.sin(),
            swap: Tensor::from_data(TensorData::new(swap, [head_dim, head_dim]), &device),
        }
    }

    /// Rotates queries or keys (already at their rotary positions).
    ///
    /// # Shapes
    /// - input and output `[rows, heads, n, head_dim]`
    pub fn apply(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [rows, heads, n, hd] = x.dims();
        let swapped = x.clone().reshape([rows * heads * n, hd]).matmul(self.swap.clone()).reshape([rows, heads, n, hd]);
        x * self.cos.clone() + swapped * self.sin.clone()
    }
}

/// `[frames, frames]`: row `f` sums the frames of `f`'s sample up to `f` (block lower-triangular
/// ones), for samples of `frames[i]` latent frames one after another.
pub fn running_sum(frames: &[usize]) -> Vec<f32> {
    let total: usize = frames.iter().sum();
    let mut out = vec![0.0; total * total];
    let mut base = 0;
    for &f in frames {
        for i in 0..f {
            for j in 0..=i {
                out[(base + i) * total + base + j] = 1.0;
            }
        }
        base += f;
    }
    out
}
