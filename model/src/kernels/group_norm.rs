//! The VAE's per-frame group norm followed by SiLU, `silu(norm(x) · γ + β)`, as a few row
//! passes forward and backward. The plain form is a dozen burn ops over 5-D tensors (reductions
//! over two axes, broadcasts) and as many autodiff nodes.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::prelude::*;
use burn::tensor::activation::silu;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::node::record;
use super::route::{Kind, cast, kind_of};
use super::storage::{contiguous, flex_tensor, values, wrap};
use super::vector::{self, sigmoid};
use crate::{Cpu, CpuAutodiff};

/// `silu(group_norm(x) · gamma + beta)`, the statistics taken per frame over each group's
/// channels and pixels.
///
/// # Shapes
/// - `x` `[batch, channels, t, h, w]`, `gamma`, `beta` `[channels]`; output like `x`
pub fn group_norm_silu<B: Backend>(
    x: Tensor<B, 5>,
    gamma: Tensor<B, 1>,
    beta: Tensor<B, 1>,
    groups: usize,
    eps: f64,
) -> Tensor<B, 5> {
    match kind_of(&x) {
        Kind::Cpu => {
            let [x, gamma, beta] =
                [x.into_primitive().tensor(), gamma.into_primitive().tensor(), beta.into_primitive().tensor()]
                    .map(|t| contiguous(cast::<_, FlexTensor>(t)));
            let stats = Stats::new(&x, groups, eps as f32);
            cast(wrap::<5>(stats.forward(&x, values(&gamma), values(&beta)).0))
        }
        Kind::CpuAutodiff => cast(autodiff(cast(x), cast(gamma), cast(beta), groups, eps)),
        Kind::Other => group_norm_silu_plain(x, gamma, beta, groups, eps),
    }
}

/// [`group_norm_silu`] in plain burn ops.
pub fn group_norm_silu_plain<B: Backend>(
    x: Tensor<B, 5>,
    gamma: Tensor<B, 1>,
    beta: Tensor<B, 1>,
    groups: usize,
    eps: f64,
) -> Tensor<B, 5> {
    let [b, c, t, h, w] = x.dims();
    let g = groups;
    let x = x.reshape([b, g, c / g, t, h * w]); // [b, g, c/g, t, hw]
    let mean = x.clone().mean_dims(&[2, 4]); // [b, g, 1, t, 1]
    let centred = x - mean;
    let var = centred.clone().powi_scalar(2).mean_dims(&[2, 4]);
    let normed = (centred / (var + eps).sqrt()).reshape([b, c, t, h, w]);
    silu(normed * gamma.reshape([1, c, 1, 1, 1]) + beta.reshape([1, c, 1, 1, 1]))
}

/// The shape seen as rows of one channel-frame (`[batch · channels · t, h · w]`) and the mean
/// and `1/σ` of each group-frame.
#[derive(Clone, Debug)]
struct Stats {
    channels: usize,
    groups: usize,
    frames: usize,
    plane: usize,
    mean: Vec<f32>,
    inv: Vec<f32>,
}

impl Stats {
    fn new(x: &FlexTensor, groups: usize, eps: f32) -> Self {
        let s = x.layout().shape();
        let (batch, channels, frames, plane) = (s[0], s[1], s[2], s[3] * s[4]);
        let mut stats = Stats { channels, groups, frames, plane, mean: Vec::new(), inv: Vec::new() };
        let xv = values(x);
        let sums: Vec<(f32, f32)> = (0..batch * groups * frames)
            .into_par_iter()
            .map(|unit| {
                let (mut sum, mut sq) = (0.0f64, 0.0f64);
                for row in stats.unit_rows(unit) {
                    for &v in &xv[row * plane..(row + 1) * plane] {
                        sum += f64::from(v);
                        sq += f64::from(v) * f64::from(v);
                    }
                }
                let n = (channels / groups * plane) as f64;
                let mean = sum / n;
                let var = (sq / n - mean * mean).max(0.0);
                (mean as f32, 1.0 / (var as f32 + eps).sqrt())
            })
            .collect();
        (stats.mean, stats.inv) = sums.into_iter().unzip();
        stats
    }

    /// The rows (channel-frames) of group-frame `unit` = `(batch, group, frame)`.
    fn unit_rows(&self, unit: usize) -> impl Iterator<Item = usize> + use<> {
        let (frames, channels, cg) = (self.frames, self.channels, self.channels / self.groups);
        let (bg, f) = (unit / frames, unit % frames);
        let (b, g) = (bg / self.groups, bg % self.groups);
        (0..cg).map(move |k| row_of(b, g * cg + k, f, frames, channels))
    }

    /// The channel and the group-frame of row `row`.
    fn of_row(&self, row: usize) -> (usize, usize) {
        let f = row % self.frames;
        let bc = row / self.frames;
        let (b, c) = (bc / self.channels, bc % self.channels);
        (c, (b * self.groups + c / (self.channels / self.groups)) * self.frames + f)
    }

    /// `x̂` and the output `silu(x̂ γ + β)`.
    fn forward(&self, x: &FlexTensor, gamma: &[f32], beta: &[f32]) -> (FlexTensor, Vec<f32>) {
        let shape = x.layout().shape().clone();
        let (xv, p) = (values(x), self.plane);
        let mut xhat = vec![0.0; xv.len()];
        vector::rows(&mut xhat, p, |r, o| {
            let (_, u) = self.of_row(r);
            for (o, &v) in o.iter_mut().zip(&xv[r * p..(r + 1) * p]) {
                *o = (v - self.mean[u]) * self.inv[u];
            }
        });
        let mut out = vec![0.0; xv.len()];
        vector::rows(&mut out, p, |r, o| {
            let (c, _) = self.of_row(r);
            for (o, &xh) in o.iter_mut().zip(&xhat[r * p..(r + 1) * p]) {
                let z = xh * gamma[c] + beta[c];
                *o = z * sigmoid(z);
            }
        });
        (flex_tensor(out, &shape), xhat)
    }
}

/// Row index of channel-frame `(b, c, f)` in `[batch · channels · t]`.
fn row_of(b: usize, c: usize, f: usize, frames: usize, channels: usize) -> usize {
    (b * channels + c) * frames + f
}

#[derive(Debug)]
struct GroupNormSiluBackward;

#[derive(Clone, Debug)]
struct Saved {
    stats: Stats,
    xhat: Vec<f32>,
    gamma: FlexTensor,
    beta: FlexTensor,
    shape: burn::tensor::Shape,
}

impl Backward<Cpu, 3> for GroupNormSiluBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let Saved { stats, xhat, gamma, beta, shape } = ops.state;
        let dy = contiguous(grads.consume::<Cpu>(&ops.node));
        let (dyv, gv, bv, p) = (values(&dy), values(&gamma), values(&beta), stats.plane);
        // dz = dy · silu'(z), z = x̂ γ + β
        let mut dz = vec![0.0; xhat.len()];
        vector::rows(&mut dz, p, |r, o| {
            let (c, _) = stats.of_row(r);
            for ((o, &xh), &d) in o.iter_mut().zip(&xhat[r * p..(r + 1) * p]).zip(&dyv[r * p..(r + 1) * p]) {
                let z = xh * gv[c] + bv[c];
                let s = sigmoid(z);
                *o = d * (s + z * s * (1.0 - s));
            }
        });
        // Per row: Σ dz and Σ dz · x̂ (for γ, β and the group-frame means).
        let row_sums: Vec<(f32, f32)> = (0..xhat.len() / p)
            .into_par_iter()
            .map(|r| {
                let (d, xh) = (&dz[r * p..(r + 1) * p], &xhat[r * p..(r + 1) * p]);
                (d.iter().sum(), d.iter().zip(xh).map(|(a, b)| a * b).sum())
            })
            .collect();
        let [node_x, node_gamma, node_beta] = ops.parents;
        let channels = stats.channels;
        if node_gamma.is_some() || node_beta.is_some() {
            let (mut dg, mut db) = (vec![0.0f32; channels], vec![0.0f32; channels]);
            for (r, (sum, sum_x)) in row_sums.iter().enumerate() {
                let (c, _) = stats.of_row(r);
                db[c] += sum;
                dg[c] += sum_x;
            }
            if let Some(node) = node_gamma {
                grads.register::<Cpu>(node.id, flex_tensor(dg, &[channels]));
            }
            if let Some(node) = node_beta {
                grads.register::<Cpu>(node.id, flex_tensor(db, &[channels]));
            }
        }
        if let Some(node) = node_x {
            // dx̂ = dz γ; per group-frame means of dx̂ and dx̂ · x̂.
            let units = stats.mean.len();
            let n = (channels / stats.groups * p) as f32;
            let (mut mean_d, mut mean_dx) = (vec![0.0f32; units], vec![0.0f32; units]);
            for (r, (sum, sum_x)) in row_sums.iter().enumerate() {
                let (c, u) = stats.of_row(r);
                mean_d[u] += sum * gv[c] / n;
                mean_dx[u] += sum_x * gv[c] / n;
            }
            let mut dx = vec![0.0; xhat.len()];
            vector::rows(&mut dx, p, |r, o| {
                let (c, u) = stats.of_row(r);
                let (d, xh) = (&dz[r * p..(r + 1) * p], &xhat[r * p..(r + 1) * p]);
                for ((o, &d), &xh) in o.iter_mut().zip(d).zip(xh) {
                    *o = stats.inv[u] * (d * gv[c] - mean_d[u] - xh * mean_dx[u]);
                }
            });
            grads.register::<Cpu>(node.id, flex_tensor(dx, &shape));
        }
    }
}

fn autodiff(
    x: Tensor<CpuAutodiff, 5>,
    gamma: Tensor<CpuAutodiff, 1>,
    beta: Tensor<CpuAutodiff, 1>,
    groups: usize,
    eps: f64,
) -> Tensor<CpuAutodiff, 5> {
    let x = x.into_primitive().tensor();
    let (gamma, beta) = (gamma.into_primitive().tensor(), beta.into_primitive().tensor());
    let xc = contiguous(x.primitive.clone());
    let (gc, bc) = (contiguous(gamma.primitive.clone()), contiguous(beta.primitive.clone()));
    let stats = Stats::new(&xc, groups, eps as f32);
    let (y, xhat) = stats.forward(&xc, values(&gc), values(&bc));
    let shape = xc.layout().shape().clone();
    let saved = || Saved { stats, xhat, gamma: gc, beta: bc, shape };
    record(GroupNormSiluBackward, [&x, &gamma, &beta], saved, y)
}
