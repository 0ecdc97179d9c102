//! Recording a fused op in burn's autodiff graph: one node whose backward is the kernel's own.

use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::ops::{Backward, OpsKind};
use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use burn::tensor::ops::FloatTensor;
use burn_flex::FlexTensor;

use crate::{Cpu, CpuAutodiff};

/// `output`, computed from `parents` by `op`, as a tracked tensor: when a gradient is needed the
/// graph keeps `state()` for `op`'s backward (otherwise the state is never built).
pub fn record<O, const N: usize, const D: usize>(
    op: O,
    parents: [&FloatTensor<CpuAutodiff>; N],
    state: impl FnOnce() -> O::State,
    output: FlexTensor,
) -> Tensor<CpuAutodiff, D>
where
    O: Backward<Cpu, N>,
{
    let nodes = parents.map(|p| p.node.clone());
    let out = match op.prepare::<NoCheckpointing>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(state(), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}
