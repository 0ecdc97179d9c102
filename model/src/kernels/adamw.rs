//! One AdamW step of one parameter tensor as one pass: gradient-norm clipping, both moment
//! updates, bias correction, decoupled weight decay and the update. burn's `AdamW` (with its
//! adaptor's clipping) is about a dozen element-wise ops per parameter, each a new tensor; on
//! burn-flex the parameter and both moments are updated in place when nothing else holds them.

use burn::optim::grad_clipping::GradientClipping;
use burn::prelude::*;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::route::{Kind, cast, kind_of};
use super::storage::{contiguous, flex_of, flex_tensor, values, wrap};
use super::vector::{self, CHUNK};

/// The scalars of one AdamW step of one tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWStep {
    /// Decay of the first moment.
    pub beta_1: f32,
    /// Decay of the second moment.
    pub beta_2: f32,
    /// Added to the root of the second moment.
    pub epsilon: f32,
    /// Decoupled weight decay (multiplied by the learning rate).
    pub weight_decay: f32,
    /// The gradient is scaled down to this L2 norm (over the tensor) when it is longer.
    pub max_grad_norm: Option<f32>,
    /// Learning rate of this step.
    pub lr: f64,
    /// The step's number for this tensor, from 1.
    pub time: usize,
}

/// The per-element factors of a step, computed once.
#[derive(Clone, Copy)]
struct Factors {
    beta_1: f32,
    beta_2: f32,
    keep_1: f32,
    keep_2: f32,
    /// `1 − β₁ᵗ`, `1 − β₂ᵗ`.
    correction_1: f32,
    correction_2: f32,
    epsilon: f32,
    /// `1 − lr · weight_decay`.
    decay: f32,
    lr: f32,
    /// The clipping factor on the gradient.
    clip: f32,
}

impl AdamWStep {
    fn factors(&self, clip: f32) -> Factors {
        let time = self.time as i32;
        Factors {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            keep_1: 1.0 - self.beta_1,
            keep_2: 1.0 - self.beta_2,
            correction_1: 1.0 - self.beta_1.powi(time),
            correction_2: 1.0 - self.beta_2.powi(time),
            epsilon: self.epsilon,
            decay: (1.0 - self.lr * f64::from(self.weight_decay)) as f32,
            lr: self.lr as f32,
            clip,
        }
    }
}

/// The parameter after one step and its new first and second moments (`moments` are `None` at
/// a tensor's first step, as if they were zero).
///
/// # Shapes
/// - `param`, `grad`, each moment and every output: the parameter's shape
pub fn adamw_update<B: Backend, const D: usize>(
    param: Tensor<B, D>,
    grad: Tensor<B, D>,
    moments: Option<(Tensor<B, D>, Tensor<B, D>)>,
    step: &AdamWStep,
) -> (Tensor<B, D>, Tensor<B, D>, Tensor<B, D>) {
    match kind_of(&param) {
        Kind::Cpu => {
            let moments = moments.map(|(m, v)| (flex_of(m), flex_of(v)));
            let [p, m, v] = update(flex_of(param), &contiguous(flex_of(grad)), moments, step);
            (cast(wrap::<D>(p)), cast(wrap::<D>(m)), cast(wrap::<D>(v)))
        }
        _ => adamw_update_plain(param, grad, moments, step),
    }
}

/// [`adamw_update`] as burn ops (any backend), in burn's own order of operations.
pub fn adamw_update_plain<B: Backend, const D: usize>(
    param: Tensor<B, D>,
    grad: Tensor<B, D>,
    moments: Option<(Tensor<B, D>, Tensor<B, D>)>,
    step: &AdamWStep,
) -> (Tensor<B, D>, Tensor<B, D>, Tensor<B, D>) {
    let grad = match step.max_grad_norm {
        Some(max) => GradientClipping::Norm(max).clip_gradient(grad),
        None => grad,
    };
    let f = step.factors(1.0);
    let new_1 = grad.clone().mul_scalar(f.keep_1);
    let new_2 = grad.square().mul_scalar(f.keep_2);
    let (m, v) = match moments {
        Some((m, v)) => (m.mul_scalar(f.beta_1).add(new_1), v.mul_scalar(f.beta_2).add(new_2)),
        None => (new_1, new_2),
    };
    let delta =
        m.clone().div_scalar(f.correction_1).div(v.clone().div_scalar(f.correction_2).sqrt().add_scalar(f.epsilon));
    (param.mul_scalar(f.decay) - delta.mul_scalar(f.lr), m, v)
}

/// `t` as a contiguous tensor this step may write: itself when nothing else holds its values,
/// else a copy.
fn owned(t: FlexTensor) -> FlexTensor {
    let t = contiguous(t);
    if t.is_unique() { t } else { flex_tensor(values(&t).to_vec(), t.layout().shape()) }
}

/// A zero tensor shaped like `t`.
fn zeros_like(t: &FlexTensor) -> FlexTensor {
    flex_tensor(vec![0.0; t.layout().num_elements()], t.layout().shape())
}

/// The L2 norm of `g`, summed in f64 over chunks. The chunks' sums are added in order, not by
/// rayon's `sum` (whose tree follows work stealing): the same gradient gives the same norm bit
/// for bit however the threads ran, so a resumed run follows the straight one exactly.
fn l2_norm(g: &[f32]) -> f32 {
    let chunk = |c: &[f32]| f64::from(vector::sum_of_squares(c));
    let sum: f64 = if g.len() <= CHUNK {
        chunk(g)
    } else {
        g.par_chunks(CHUNK).map(chunk).collect::<Vec<f64>>().into_iter().sum()
    };
    sum.sqrt() as f32
}

/// The step on burn-flex: `[param, first moment, second moment]`.
fn update(
    param: FlexTensor,
    grad: &FlexTensor,
    moments: Option<(FlexTensor, FlexTensor)>,
    step: &AdamWStep,
) -> [FlexTensor; 3] {
    let g = values(grad);
    let clip = step.max_grad_norm.map_or(1.0, |max| (max / (l2_norm(g) + f32::MIN_POSITIVE)).min(1.0));
    let f = step.factors(clip);
    let mut p = owned(param);
    let (mut m, mut v) = match moments {
        Some((m, v)) => (owned(m), owned(v)),
        None => (zeros_like(&p), zeros_like(&p)),
    };
    let n = g.len();
    {
        let (ps, ms, vs) =
            (&mut p.storage_mut::<f32>()[..n], &mut m.storage_mut::<f32>()[..n], &mut v.storage_mut::<f32>()[..n]);
        if n <= CHUNK {
            update_chunk(ps, ms, vs, g, &f);
        } else {
            ps.par_chunks_mut(CHUNK)
                .zip(ms.par_chunks_mut(CHUNK))
                .zip(vs.par_chunks_mut(CHUNK))
                .zip(g.par_chunks(CHUNK))
                .for_each(|(((p, m), v), g)| update_chunk(p, m, v, g, &f));
        }
    }
    [p, m, v]
}

/// The step on one chunk, with the widest vector instructions the CPU has.
fn update_chunk(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], f: &Factors) {
    vector::widest_call!(update_body(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], f: &Factors))
}

/// The per-element step (the order of operations of burn's `AdamW`, so both agree to rounding).
#[inline(always)]
fn update_body(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], f: &Factors) {
    for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
        let g = g * f.clip;
        *m = *m * f.beta_1 + g * f.keep_1;
        *v = *v * f.beta_2 + g * g * f.keep_2;
        let delta = (*m / f.correction_1) / ((*v / f.correction_2).sqrt() + f.epsilon);
        *p = *p * f.decay - delta * f.lr;
    }
}
