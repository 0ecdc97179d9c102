//! Samplers of the flow ODE `dx/dt = v(x, t)` from `t = 1` (noise) to `t = 0` (data), behind a
//! small trait so they can be tested on flows with a known answer, and classifier-free
//! guidance. A state may carry one level per latent frame ([`FrameTokens`]): frames given as
//! conditions stay at level 0 and never move, SDEdit frames start part-way.

use std::str::FromStr;

use burn::prelude::*;

/// What a sampler moves along the flow: a tensor with one noise level, or latent tokens whose
/// frames each have their own ([`FrameTokens`]).
pub trait FlowState: Clone {
    /// The noise level(s) of a state.
    type Level;

    /// `self + v · (to − from)`, level by level.
    fn advance(&self, v: &Self, from: &Self::Level, to: &Self::Level) -> Self;

    /// `(a + b) / 2`.
    fn average(a: Self, b: Self) -> Self;

    /// Whether `level` is clean data (every level 0), where velocities are no longer trusted.
    fn is_clean(level: &Self::Level) -> bool;
}

impl<B: Backend, const D: usize> FlowState for Tensor<B, D> {
    type Level = f32;

    fn advance(&self, v: &Self, from: &f32, to: &f32) -> Self {
        self.clone() + v.clone() * (to - from)
    }

    fn average(a: Self, b: Self) -> Self {
        (a + b) / 2.0
    }

    fn is_clean(level: &f32) -> bool {
        *level <= 0.0
    }
}

/// Latent tokens `[frames · tokens_per_frame, token_dim]`, frame after frame, each frame at its
/// own noise level (a `Vec<f32>` with one level per frame).
#[derive(Clone, Debug)]
pub struct FrameTokens<B: Backend> {
    /// `[frames · per_frame, token_dim]`.
    pub tokens: Tensor<B, 2>,
    /// Tokens of one frame.
    pub per_frame: usize,
}

impl<B: Backend> FlowState for FrameTokens<B> {
    type Level = Vec<f32>;

    fn advance(&self, v: &Self, from: &Vec<f32>, to: &Vec<f32>) -> Self {
        let dt: Vec<f32> = from.iter().zip(to).map(|(a, b)| b - a).collect();
        let dt = per_token(&dt, self.per_frame, &self.tokens.device()); // [tokens, 1]
        FrameTokens { tokens: self.tokens.clone() + v.tokens.clone() * dt, per_frame: self.per_frame }
    }

    fn average(a: Self, b: Self) -> Self {
        FrameTokens { tokens: (a.tokens + b.tokens) / 2.0, per_frame: a.per_frame }
    }

    fn is_clean(level: &Vec<f32>) -> bool {
        level.iter().all(|t| *t <= 0.0)
    }
}

/// One value per frame repeated for each of the frame's `per_frame` tokens.
///
/// # Shapes
/// - output `[frames · per_frame, 1]`
pub fn per_token<B: Backend>(per_frame_values: &[f32], per_frame: usize, device: &B::Device) -> Tensor<B, 2> {
    let frames = per_frame_values.len();
    Tensor::<B, 1>::from_floats(per_frame_values, device)
        .reshape([frames, 1])
        .repeat_dim(1, per_frame)
        .reshape([frames * per_frame, 1])
}

/// One step of an ODE solver.
pub trait Sampler {
    /// Moves `x` from level `t` to `t_next` using `velocity(x, t)`.
    fn step<S: FlowState>(
        &self,
        x: S,
        t: &S::Level,
        t_next: &S::Level,
        velocity: &mut impl FnMut(S, &S::Level) -> S,
    ) -> S;

    /// Integrates through a whole schedule (levels from noise down to 0).
    fn integrate<S: FlowState>(
        &self,
        mut x: S,
        schedule: &[S::Level],
        mut velocity: impl FnMut(S, &S::Level) -> S,
    ) -> S {
        for w in schedule.windows(2) {
            x = self.step(x, &w[0], &w[1], &mut velocity);
        }
        x
    }
}

/// First order: one network call per step.
#[derive(Clone, Copy, Debug, Default)]
pub struct Euler;

/// Second order (trapezoid with an Euler predictor): two calls per step, one on the last.
#[derive(Clone, Copy, Debug, Default)]
pub struct Heun;

impl Sampler for Euler {
    fn step<S: FlowState>(
        &self,
        x: S,
        t: &S::Level,
        t_next: &S::Level,
        velocity: &mut impl FnMut(S, &S::Level) -> S,
    ) -> S {
        let v = velocity(x.clone(), t);
        x.advance(&v, t, t_next)
    }
}

impl Sampler for Heun {
    fn step<S: FlowState>(
        &self,
        x: S,
        t: &S::Level,
        t_next: &S::Level,
        velocity: &mut impl FnMut(S, &S::Level) -> S,
    ) -> S {
        let v = velocity(x.clone(), t);
        let predicted = x.advance(&v, t, t_next);
        if S::is_clean(t_next) {
            return predicted;
        }
        let v_next = velocity(predicted, t_next);
        x.advance(&S::average(v, v_next), t, t_next)
    }
}

/// A sampler chosen by name (`euler`, `heun`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamplerKind {
    /// [`Euler`].
    Euler,
    /// [`Heun`].
    Heun,
}

impl FromStr for SamplerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "euler" => Ok(SamplerKind::Euler),
            "heun" => Ok(SamplerKind::Heun),
            other => Err(format!("unknown sampler `{other}`; use euler or heun")),
        }
    }
}

impl Sampler for SamplerKind {
    fn step<S: FlowState>(
        &self,
        x: S,
        t: &S::Level,
        t_next: &S::Level,
        velocity: &mut impl FnMut(S, &S::Level) -> S,
    ) -> S {
        match self {
            SamplerKind::Euler => Euler.step(x, t, t_next, velocity),
            SamplerKind::Heun => Heun.step(x, t, t_next, velocity),
        }
    }
}

/// Classifier-free guidance: `v_uncond + g·(v_cond − v_uncond)` (`g = 1` is the conditional
/// prediction).
pub fn guided<B: Backend, const D: usize>(v_cond: Tensor<B, D>, v_uncond: Tensor<B, D>, g: f32) -> Tensor<B, D> {
    if g == 1.0 {
        return v_cond;
    }
    v_uncond.clone() + (v_cond - v_uncond) * g
}
