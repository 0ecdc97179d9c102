//! Rectified flow and samplers: the samplers carry a Gaussian to the right Gaussian along its
//! exact flow, Heun beats Euler at equal steps, guidance 1 is the conditional prediction,
//! noise levels and schedules have their shape.

use burn::prelude::*;
use burn::tensor::Distribution;
use worldsim_model::Cpu;
use worldsim_model::diffusion::flow::{NoiseLevels, noised, normal, schedule, shift_for_tokens, time_shift};
use worldsim_model::diffusion::sampler::guided;
use worldsim_model::diffusion::{Euler, Heun, Sampler, SamplerKind};
use worldsim_scenes::rng::Rng;

type B = Cpu;
const MU: f32 = 2.0;
const SIGMA: f32 = 0.5;

/// The exact velocity `E[ε − x0 | x_t]` when `x0 ~ N(MU, SIGMA²)` and `ε ~ N(0, 1)`.
fn gaussian_velocity(x: Tensor<B, 1>, t: &f32) -> Tensor<B, 1> {
    let t = *t;
    let var = (1.0 - t).powi(2) * SIGMA * SIGMA + t * t;
    let gain = (t - (1.0 - t) * SIGMA * SIGMA) / var;
    (x - (1.0 - t) * MU) * gain - MU
}

fn moments(x: Tensor<B, 1>) -> (f32, f32) {
    let mean: f32 = x.clone().mean().into_scalar();
    let var: f32 = (x - mean).powi_scalar(2).mean().into_scalar();
    (mean, var.sqrt())
}

/// The same 20,000 standard normal draws on every call (our own generator: burn's is shared by
/// the whole process, so tests running in parallel would reseed each other's draws).
fn start() -> Tensor<B, 1> {
    let mut rng = Rng::new(7);
    let draws: Vec<f32> = (0..20_000).map(|_| normal(&mut rng)).collect();
    Tensor::from_floats(draws.as_slice(), &Default::default())
}

#[test]
fn samplers_carry_noise_to_the_data_distribution() {
    let (m, s) = moments(Euler.integrate(start(), &schedule(200, 1.0), gaussian_velocity));
    assert!((m - MU).abs() < 0.03 && (s - SIGMA).abs() < 0.02, "euler: mean {m}, std {s}");
    let (m, s) = moments(Heun.integrate(start(), &schedule(20, 1.0), gaussian_velocity));
    assert!((m - MU).abs() < 0.03 && (s - SIGMA).abs() < 0.02, "heun: mean {m}, std {s}");
    // Shifted schedules (steps crowded near t = 1) reach it too, with more steps.
    let (m, s) = moments(SamplerKind::Heun.integrate(start(), &schedule(40, 3.0), gaussian_velocity));
    assert!((m - MU).abs() < 0.03 && (s - SIGMA).abs() < 0.02, "shifted heun: mean {m}, std {s}");
}

#[test]
fn heun_is_more_accurate_than_euler_at_equal_steps() {
    let reference = Heun.integrate(start(), &schedule(400, 1.0), gaussian_velocity);
    let err = |x: Tensor<B, 1>| -> f32 { (x - reference.clone()).abs().max().into_scalar() };
    let (e, h) = (
        err(Euler.integrate(start(), &schedule(8, 1.0), gaussian_velocity)),
        err(Heun.integrate(start(), &schedule(8, 1.0), gaussian_velocity)),
    );
    assert!(h < e / 4.0, "heun error {h} vs euler {e}");
}

#[test]
fn guidance_one_is_the_conditional_prediction() {
    let device = Default::default();
    let c: Tensor<B, 2> = Tensor::random([4, 3], Distribution::Normal(0.0, 1.0), &device);
    let u: Tensor<B, 2> = Tensor::random([4, 3], Distribution::Normal(0.0, 1.0), &device);
    let d: f32 = (guided(c.clone(), u.clone(), 1.0) - c.clone()).abs().max().into_scalar();
    assert_eq!(d, 0.0);
    let g: f32 = (guided(c.clone(), u.clone(), 0.0) - u.clone()).abs().max().into_scalar();
    assert_eq!(g, 0.0);
    let want = u.clone() + (c.clone() - u.clone()) * 3.0;
    assert!((guided(c, u, 3.0) - want).abs().max().into_scalar() < 1e-6);
}

#[test]
fn noise_levels_schedules_and_noising_have_their_shape() {
    let s = schedule(10, 2.0);
    assert_eq!((s.len(), s[0], s[10]), (11, 1.0, 0.0));
    assert!(s.windows(2).all(|w| w[1] < w[0]));
    assert!(time_shift(0.5, 3.0) > 0.5 && time_shift(0.5, 1.0) == 0.5);
    assert!(shift_for_tokens(1024, 256) == 2.0);

    let levels = NoiseLevels::default();
    let mut rng = Rng::new(3);
    let draws: Vec<f32> = (0..4000).map(|_| levels.draw(&mut rng, 1.0)).collect();
    let mean = draws.iter().sum::<f32>() / draws.len() as f32;
    assert!(draws.iter().all(|t| (0.0..=1.0).contains(t)) && (mean - 0.5).abs() < 0.03, "mean {mean}");
    let shifted = (0..4000).map(|_| levels.draw(&mut rng, 3.0)).sum::<f32>() / 4000.0;
    assert!(shifted > mean + 0.1, "more tokens, more noise: {shifted} vs {mean}");
    let mut independent = 0;
    for _ in 0..1000 {
        let f = levels.draw_frames(&mut rng, 3, 100);
        independent += usize::from(f.iter().any(|t| *t != f[0]));
    }
    assert!((250..350).contains(&independent), "{independent} of 1000 samples had per-frame levels");

    let device = Default::default();
    let x0: Tensor<B, 2> = Tensor::ones([2, 3], &device);
    let eps: Tensor<B, 2> = Tensor::zeros([2, 3], &device);
    let t = Tensor::<B, 1>::from_floats([0.25, 1.0], &device).reshape([2, 1]);
    let (xt, v) = noised(x0, eps, t);
    assert_eq!(xt.into_data().to_vec::<f32>().unwrap(), vec![0.75, 0.75, 0.75, 0.0, 0.0, 0.0]);
    assert_eq!(v.into_data().to_vec::<f32>().unwrap(), vec![-1.0; 6]);
}

#[test]
fn given_frames_are_a_prefix_a_suffix_or_both_ends_and_never_everything() {
    let levels = NoiseLevels::default();
    let mut rng = Rng::new(11);
    assert!((0..100).all(|_| levels.draw_given(&mut rng, 1) == vec![false]), "an image is never given");
    let (mut conditioned, mut prefix, mut suffix, mut both) = (0, 0, 0, 0);
    for _ in 0..2000 {
        let g = levels.draw_given(&mut rng, 4);
        let n = g.iter().filter(|x| **x).count();
        assert!(n < 4, "at least one frame is denoised: {g:?}");
        if n == 0 {
            continue;
        }
        conditioned += 1;
        // Given frames form at most two runs, touching the ends.
        let head = g.iter().take_while(|x| **x).count();
        let tail = g.iter().rev().take_while(|x| **x).count();
        assert_eq!(head + tail, n, "{g:?}");
        match (head > 0, tail > 0) {
            (true, false) => prefix += 1,
            (false, true) => suffix += 1,
            _ => both += 1,
        }
    }
    let share = conditioned as f32 / 2000.0;
    assert!((share - levels.given_share).abs() < 0.04, "{share}");
    assert!(prefix > 150 && suffix > 150 && both > 150, "{prefix} {suffix} {both}");
}
