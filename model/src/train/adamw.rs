//! The optimiser of every training run: AdamW (decoupled weight decay) with the gradient of
//! each parameter tensor clipped to a maximum L2 norm, the same algorithm and defaults as burn's
//! `AdamW` with its adaptor's norm clipping, and the same saved state (`AdamWState`), but each
//! tensor's step is one fused kernel (`kernels::adamw_update`) instead of a dozen tensor ops.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamWState, AdaptiveMomentumState, LearningRate, SimpleOptimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::kernels::{AdamWStep, adamw_update};

/// AdamW's settings.
#[derive(Config, Debug)]
pub struct FusedAdamWConfig {
    /// Decay of the first moment.
    #[config(default = 0.9)]
    pub beta_1: f32,
    /// Decay of the second moment.
    #[config(default = 0.999)]
    pub beta_2: f32,
    /// Added to the root of the second moment (burn's default).
    #[config(default = 1e-5)]
    pub epsilon: f32,
    /// Decoupled weight decay.
    #[config(default = 1e-4)]
    pub weight_decay: f32,
    /// Each parameter's gradient is scaled down to this L2 norm when longer (`None`: never).
    pub max_grad_norm: Option<f32>,
}

impl FusedAdamWConfig {
    /// The optimiser for the parameters of `M`.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(&self) -> OptimizerAdaptor<FusedAdamW, M, B> {
        OptimizerAdaptor::from(FusedAdamW { config: self.clone() })
    }
}

/// AdamW with per-tensor gradient-norm clipping, one fused pass per parameter tensor.
#[derive(Clone, Debug)]
pub struct FusedAdamW {
    config: FusedAdamWConfig,
}

impl<B: Backend> SimpleOptimizer<B> for FusedAdamW {
    type State<const D: usize> = AdamWState<B, D>;

    /// # Shapes
    /// - `tensor`, `grad` and the state's moments: the parameter's shape
    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let c = &self.config;
        let time = state.as_ref().map_or(0, |s| s.momentum.time) + 1;
        let step = AdamWStep {
            beta_1: c.beta_1,
            beta_2: c.beta_2,
            epsilon: c.epsilon,
            weight_decay: c.weight_decay,
            max_grad_norm: c.max_grad_norm,
            lr,
            time,
        };
        let moments = state.map(|s| (s.momentum.moment_1, s.momentum.moment_2));
        let (tensor, moment_1, moment_2) = adamw_update(tensor, grad, moments, &step);
        (tensor, Some(AdamWState::new(AdaptiveMomentumState::new(time, moment_1, moment_2))))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}
