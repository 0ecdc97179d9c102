//! 3D rotary position embedding: a head's channels are split between time, height and width
//! (¼, ⅜, ⅜), and each consecutive pair is rotated by its position times a frequency. Any
//! duration and size works: positions are computed, not looked up.

use burn::prelude::*;

use crate::kernels;

/// Rotation angles' cosines and sines for a set of tokens.
#[derive(Clone, Debug)]
pub struct Rope<B: Backend> {
    /// `[rows, tokens, head_dim/2]`
    pub cos: Tensor<B, 3>,
    /// `[rows, tokens, head_dim/2]`
    pub sin: Tensor<B, 3>,
}

/// How many channel pairs of a head go to time, height and width.
pub fn axis_pairs(head_dim: usize) -> [usize; 3] {
    let t = head_dim / 8;
    let y = (head_dim / 2 - t) / 2;
    [t, y, head_dim / 2 - t - y]
}

/// The rotary frequency of pair `k` of an axis that has `pairs` pairs.
pub fn frequency(k: usize, pairs: usize, theta: f64) -> f64 {
    theta.powf(-(k as f64) / pairs as f64)
}

/// The angles of one position: `head_dim / 2` values.
pub fn angles(pos: [f32; 3], head_dim: usize, theta: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(head_dim / 2);
    for (axis, pairs) in axis_pairs(head_dim).into_iter().enumerate() {
        for k in 0..pairs {
            out.push((f64::from(pos[axis]) * frequency(k, pairs, theta)) as f32);
        }
    }
    out
}

impl<B: Backend> Rope<B> {
    /// Tables for `rows` rows of positions (all rows the same length; padding positions may be
    /// anything).
    pub fn new(rows: &[Vec<[f32; 3]>], head_dim: usize, theta: f64, device: &B::Device) -> Self {
        let n = rows.first().map_or(0, Vec::len);
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(rows.len() * n * half);
        let mut sin = Vec::with_capacity(rows.len() * n * half);
        for row in rows {
            for pos in row {
                for a in angles(*pos, head_dim, theta) {
                    cos.push(a.cos());
                    sin.push(a.sin());
                }
            }
        }
        let shape = [rows.len(), n, half];
        Rope {
            cos: Tensor::<B, 1>::from_floats(cos.as_slice(), device).reshape(shape),
            sin: Tensor::<B, 1>::from_floats(sin.as_slice(), device).reshape(shape),
        }
    }

    /// Rotates queries or keys (one fused pass on the CPU backend).
    ///
    /// # Shapes
    /// - input and output `[rows, heads, tokens, head_dim]`
    pub fn apply(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        kernels::rope(x, self.cos.clone(), self.sin.clone())
    }
}
