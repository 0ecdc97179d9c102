//! burn-flex tensors as plain f32 slices and back, for the fused kernels.

use burn::prelude::*;
use burn::tensor::{DType, TensorData, TensorPrimitive};
use burn_flex::FlexTensor;

use crate::Cpu;

/// The flex tensor behind `x`, contiguous from offset 0 (copied only when it is a strided view).
pub fn flex<const D: usize>(x: Tensor<Cpu, D>) -> FlexTensor {
    contiguous(x.into_primitive().tensor())
}

/// `t`, contiguous from offset 0.
pub fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.layout().is_contiguous() && t.layout().start_offset() == 0 { t } else { t.to_contiguous() }
}

/// The values of a contiguous f32 flex tensor.
pub fn values(t: &FlexTensor) -> &[f32] {
    let n = t.layout().num_elements();
    &t.storage::<f32>()[..n]
}

/// The flex tensor over `data` (no copy).
pub fn flex_tensor(data: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape.to_vec()))
}

/// Wraps a flex tensor.
pub fn wrap<const D: usize>(t: FlexTensor) -> Tensor<Cpu, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// Whether `t` holds f32 values (the fused kernels' only type; others take the plain ops).
pub fn is_f32(t: &FlexTensor) -> bool {
    t.dtype() == DType::F32
}
