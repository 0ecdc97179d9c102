//! Rectified flow: a clean latent `x0` and noise `ε` are joined by the straight line
//! `x_t = (1 − t)·x0 + t·ε`; the network predicts its velocity `v = ε − x0`. Noise levels for
//! training are logit-normal; more tokens need more noise to destroy the same information, so
//! levels are shifted by `s = √(tokens / base_tokens)`: `t ↦ s·t / (1 + (s − 1)·t)`.

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use worldsim_scenes::rng::Rng;

/// How training draws noise levels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoiseLevels {
    /// Mean of the normal before the logistic.
    pub mean: f64,
    /// Standard deviation of the normal before the logistic.
    pub std: f64,
    /// Token count at which the shift is 1.
    pub base_tokens: usize,
    /// Share of samples whose latent frames get independent levels (so that frames can later
    /// be given as conditions or generated one by one).
    pub per_frame_share: f32,
    /// Share of videos where some latent frames are given clean (level 0) — a prefix, a
    /// suffix or both ends — and the rest are denoised: the conditioning of animate, extend,
    /// loop and connect. Given frames carry no loss.
    #[serde(default)]
    pub given_share: f32,
    /// Given frames are a prefix only (the streaming case: the past is known).
    #[serde(default)]
    pub given_prefix_only: bool,
    /// Given frames get a level drawn uniformly in `0..=given_level` (0: clean), as a stream's
    /// slightly noised context does.
    #[serde(default)]
    pub given_level: f32,
}

impl Default for NoiseLevels {
    fn default() -> Self {
        NoiseLevels {
            mean: 0.0,
            std: 1.0,
            base_tokens: 256,
            per_frame_share: 0.3,
            given_share: 0.4,
            given_prefix_only: false,
            given_level: 0.0,
        }
    }
}

/// Standard normal draw (Box–Muller).
pub fn normal(rng: &mut Rng) -> f32 {
    let (u1, u2) = (rng.unit().max(1e-7), rng.unit());
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// The time shift for a sample of `tokens` tokens.
pub fn shift_for_tokens(tokens: usize, base_tokens: usize) -> f32 {
    (tokens as f32 / base_tokens.max(1) as f32).sqrt()
}

/// Applies the time shift `s` to a noise level.
pub fn time_shift(t: f32, s: f32) -> f32 {
    s * t / (1.0 + (s - 1.0) * t)
}

impl NoiseLevels {
    /// One draw: logistic of a normal, then shifted.
    pub fn draw(&self, rng: &mut Rng, shift: f32) -> f32 {
        let u = self.mean as f32 + self.std as f32 * normal(rng);
        time_shift(1.0 / (1.0 + (-u).exp()), shift).clamp(0.0, 1.0)
    }

    /// Levels of a sample's `frames` latent frames: one shared level, or (for
    /// `per_frame_share` of samples) one each.
    pub fn draw_frames(&self, rng: &mut Rng, frames: usize, tokens: usize) -> Vec<f32> {
        let s = shift_for_tokens(tokens, self.base_tokens);
        if frames > 1 && rng.chance(self.per_frame_share) {
            (0..frames).map(|_| self.draw(rng, s)).collect()
        } else {
            vec![self.draw(rng, s); frames]
        }
    }

    /// Which of a sample's `frames` latent frames are given clean: none, or (for `given_share`
    /// of videos) a prefix, a suffix, or both ends, always leaving at least one frame to
    /// denoise.
    pub fn draw_given(&self, rng: &mut Rng, frames: usize) -> Vec<bool> {
        let mut given = vec![false; frames];
        if frames < 2 || !rng.chance(self.given_share) {
            return given;
        }
        let max = frames as u32 - 1;
        if self.given_prefix_only {
            given[..rng.int(1, max) as usize].fill(true);
            return given;
        }
        match rng.int(0, if frames >= 3 { 2 } else { 1 }) {
            0 => given[..rng.int(1, max) as usize].fill(true),
            1 => given[frames - rng.int(1, max) as usize..].fill(true),
            _ => {
                let head = rng.int(1, max - 1) as usize;
                let tail = rng.int(1, (max as usize - head) as u32) as usize;
                given[..head].fill(true);
                given[frames - tail..].fill(true);
            }
        }
        given
    }
}

/// The sampling schedule: `steps + 1` noise levels from 1 down to 0, uniform then shifted.
pub fn schedule(steps: usize, shift: f32) -> Vec<f32> {
    let steps = steps.max(1);
    (0..=steps).map(|i| time_shift(1.0 - i as f32 / steps as f32, shift)).collect()
}

/// Noised tokens and the velocity target.
///
/// # Shapes
/// - `x0`, `noise` `[n, d]`; `t` `[n, 1]` (each token's level)
/// - outputs `[n, d]` each: `x_t`, `v`
pub fn noised<B: Backend>(x0: Tensor<B, 2>, noise: Tensor<B, 2>, t: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let xt = x0.clone() * (t.clone().neg() + 1.0) + noise.clone() * t;
    (xt, noise - x0)
}
