//! burn-flex tensors as plain f32 slices and back, for the fused kernels.

use burn::prelude::*;
use burn::tensor::{DType, TensorData, TensorPrimitive};
use burn_flex::FlexTensor;

use crate::Cpu;

/// The flex tensor behind `x`, contiguous from offset 0 (copied only when it is a strided view).
pub fn flex<const D: usize>(x: Tensor<Cpu, D>) -> FlexTensor {
    contiguous(x.into_primitive().tensor())
}

/// The flex tensor behind a tensor of a generic backend that [`super::route::kind_of`] said is
/// burn-flex (as it is: possibly a strided view).
pub fn flex_of<B: Backend, const D: usize>(x: Tensor<B, D>) -> FlexTensor {
    super::route::cast::<_, Tensor<Cpu, D>>(x).into_primitive().tensor()
}

/// `t`, contiguous from offset 0. An f32 view whose rows (last dimension) are contiguous, as
/// split heads and narrowed windows are, is copied a row at a time; any other through
/// burn-flex's element-wise copy.
pub fn contiguous(t: FlexTensor) -> FlexTensor {
    let layout = t.layout();
    if layout.is_contiguous() && layout.start_offset() == 0 {
        return t;
    }
    if t.dtype() != DType::F32 || !rows_in_place(&t) {
        return t.to_contiguous();
    }
    let shape = layout.shape().to_vec();
    let width = shape.last().copied().unwrap_or(1);
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    Rows::new(t).copy_to(0..n.checked_div(width).unwrap_or(0), &mut out);
    flex_tensor(out, &shape)
}

/// Whether every row of `t`'s last dimension lies contiguous in its storage.
fn rows_in_place(t: &FlexTensor) -> bool {
    let strides = t.layout().strides();
    strides.last() == Some(&1) && strides.iter().all(|&s| s >= 0)
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

/// Rows of a tensor along its last dimension, read in place when each row is contiguous (a
/// view such as the attention's split heads); otherwise from a copy.
pub struct Rows {
    tensor: FlexTensor,
    /// Offset of row `i` is `start + Σ index_j · stride_j` over the leading dimensions.
    leading: Vec<(usize, usize)>,
    start: usize,
    width: usize,
}

impl Rows {
    /// The rows of `t` (f32).
    pub fn new(t: FlexTensor) -> Self {
        let layout = t.layout();
        let dims = layout.shape().num_dims();
        let t = if rows_in_place(&t) { t } else { contiguous(t) };
        let layout = t.layout();
        let shape = layout.shape();
        let leading = (0..dims - 1).map(|i| (shape[i], layout.strides()[i] as usize)).collect();
        Rows { start: layout.start_offset(), width: shape[dims - 1], leading, tensor: t }
    }

    /// Row `i` (in row-major order of the leading dimensions).
    pub fn row(&self, mut i: usize) -> &[f32] {
        let mut offset = self.start;
        for &(size, stride) in self.leading.iter().rev() {
            offset += (i % size) * stride;
            i /= size;
        }
        &self.tensor.storage::<f32>()[offset..offset + self.width]
    }

    /// Appends rows `rows` to `out`, one copy each.
    pub fn copy_to(&self, rows: std::ops::Range<usize>, out: &mut Vec<f32>) {
        for i in rows {
            out.extend_from_slice(self.row(i));
        }
    }
}
