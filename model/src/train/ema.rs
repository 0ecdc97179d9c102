//! Exponential moving average of a model's weights (the weights we evaluate and ship).

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;

/// EMA weights of a module: `ema ← ema + (1 − d) · (current − ema)` after every step (so a
/// weight that never moves, like a frozen encoder's, stays bit-identical), where the
/// decay warms up, `d = min(decay, (1 + n) / (10 + n))` after `n` updates, so early weights
/// (the random initialisation above all) do not linger in the average of a short run.
#[derive(Clone, Debug)]
pub struct Ema<M> {
    /// The averaged module.
    pub module: M,
    /// Weight of the past once warmed up.
    pub decay: f64,
    /// Updates so far (a resumed run sets it to its step).
    pub updates: u64,
}

struct Collect<B: Backend> {
    params: HashMap<ParamId, Tensor<B, 1>>,
}

impl<B: Backend> ModuleVisitor<B> for Collect<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.params.insert(param.id, param.val().flatten(0, D - 1));
    }
}

struct Blend<B: Backend> {
    current: HashMap<ParamId, Tensor<B, 1>>,
    decay: f64,
}

impl<B: Backend> ModuleMapper<B> for Blend<B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, ema, mapper) = param.consume();
        let blended = match self.current.remove(&id) {
            Some(cur) => ema.clone() + (cur.reshape(ema.shape()) - ema) * (1.0 - self.decay),
            None => ema,
        };
        Param::from_mapped_value(id, blended, mapper)
    }
}

impl<M> Ema<M> {
    /// Starts averaging from `module`'s weights.
    pub fn new(module: M, decay: f64) -> Self {
        Ema { module, decay, updates: 0 }
    }

    /// The decay the next update uses.
    pub fn current_decay(&self) -> f64 {
        let n = self.updates as f64;
        self.decay.min((1.0 + n) / (10.0 + n))
    }

    /// Folds `current` (the same architecture, same parameter ids) into the average.
    pub fn update<B: Backend>(&mut self, current: &M)
    where
        M: Module<B> + Clone,
    {
        let mut collect = Collect { params: HashMap::new() };
        current.visit(&mut collect);
        let mut blend = Blend { current: collect.params, decay: self.current_decay() };
        self.module = self.module.clone().map(&mut blend);
        self.updates += 1;
    }
}
