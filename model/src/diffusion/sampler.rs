//! Samplers of the flow ODE `dx/dt = v(x, t)` from `t = 1` (noise) to `t = 0` (data), behind a
//! small trait so they can be tested on flows with a known answer, and classifier-free
//! guidance.

use std::str::FromStr;

use burn::prelude::*;

/// One step of an ODE solver.
pub trait Sampler {
    /// Moves `x` from level `t` to `t_next` using `velocity(x, t)`.
    fn step<B: Backend, const D: usize>(
        &self,
        x: Tensor<B, D>,
        t: f32,
        t_next: f32,
        velocity: &mut impl FnMut(Tensor<B, D>, f32) -> Tensor<B, D>,
    ) -> Tensor<B, D>;

    /// Integrates through a whole schedule (levels from 1 down to 0).
    fn integrate<B: Backend, const D: usize>(
        &self,
        mut x: Tensor<B, D>,
        schedule: &[f32],
        mut velocity: impl FnMut(Tensor<B, D>, f32) -> Tensor<B, D>,
    ) -> Tensor<B, D> {
        for w in schedule.windows(2) {
            x = self.step(x, w[0], w[1], &mut velocity);
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
    fn step<B: Backend, const D: usize>(
        &self,
        x: Tensor<B, D>,
        t: f32,
        t_next: f32,
        velocity: &mut impl FnMut(Tensor<B, D>, f32) -> Tensor<B, D>,
    ) -> Tensor<B, D> {
        let v = velocity(x.clone(), t);
        x + v * (t_next - t)
    }
}

impl Sampler for Heun {
    fn step<B: Backend, const D: usize>(
        &self,
        x: Tensor<B, D>,
        t: f32,
        t_next: f32,
        velocity: &mut impl FnMut(Tensor<B, D>, f32) -> Tensor<B, D>,
    ) -> Tensor<B, D> {
        let v = velocity(x.clone(), t);
        let predicted = x.clone() + v.clone() * (t_next - t);
        if t_next <= 0.0 {
            return predicted;
        }
        let v_next = velocity(predicted, t_next);
        x + (v + v_next) * ((t_next - t) / 2.0)
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
    fn step<B: Backend, const D: usize>(
        &self,
        x: Tensor<B, D>,
        t: f32,
        t_next: f32,
        velocity: &mut impl FnMut(Tensor<B, D>, f32) -> Tensor<B, D>,
    ) -> Tensor<B, D> {
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
