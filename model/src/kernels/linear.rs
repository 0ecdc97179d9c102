//! A linear layer `x · w + b` as one gemm call with the bias as the product's starting value,
//! forward and backward (one autodiff node: `dx = dy · wᵀ`, `dw = xᵀ · dy`, `db = Σ dy`). Inputs
//! are read as they lie (the attention's column blocks of a fused weight are strided views).
//! burn-flex's matmul allocates each output zeroed and then copies it once more to align it,
//! and under autodiff the bias is a separate node.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::prelude::*;
use burn::tensor::module;
use burn_flex::FlexTensor;

use super::gemm::{self, View};
use super::node::record;
use super::route::{Kind, cast, kind_of};
use super::storage::{contiguous, flex_of, flex_tensor, values, wrap};
use crate::{Cpu, CpuAutodiff};

/// `x · weight + bias`.
///
/// # Shapes
/// - `x` `[rows, in]`, `weight` `[in, out]`, `bias` `[out]`
/// - output `[rows, out]`
pub fn linear<B: Backend>(x: Tensor<B, 2>, weight: Tensor<B, 2>, bias: Option<Tensor<B, 1>>) -> Tensor<B, 2> {
    match (kind_of(&x), bias) {
        (Kind::Cpu, bias) => {
            let bias = bias.map(|b| contiguous(flex_of(b)));
            cast(wrap::<2>(forward(&Matrix::new(flex_of(x)), &Matrix::new(flex_of(weight)), bias.as_ref())))
        }
        (Kind::CpuAutodiff, Some(bias)) => cast(linear_autodiff(cast(x), cast(weight), cast(bias))),
        (_, bias) => module::linear(x, weight, bias),
    }
}

/// A 2-D f32 tensor read in place as a gemm view (copied only when a stride is negative).
#[derive(Clone, Debug)]
struct Matrix {
    tensor: FlexTensor,
    view: View,
}

impl Matrix {
    fn new(t: FlexTensor) -> Self {
        let t = if t.layout().strides().iter().any(|&s| s < 0) { contiguous(t) } else { t };
        let (shape, strides) = (t.layout().shape(), t.layout().strides());
        let view =
            View::new(t.layout().start_offset(), [shape[0], shape[1]], [strides[0] as usize, strides[1] as usize]);
        Matrix { tensor: t, view }
    }

    /// `[rows, cols]`.
    fn dims(&self) -> [usize; 2] {
        [self.view.rows, self.view.cols]
    }

    fn values(&self) -> &[f32] {
        self.tensor.storage::<f32>()
    }

    /// The transpose, as a view of the same values.
    fn t(&self) -> View {
        let v = self.view;
        View::new(v.offset, [v.cols, v.rows], [v.col_stride, v.row_stride])
    }
}

/// A dense `[rows, cols]` view from offset 0.
fn dense(rows: usize, cols: usize) -> View {
    View::new(0, [rows, cols], [cols, 1])
}

/// `x · w + b` on burn-flex, all threads.
///
/// # Shapes
/// - `x` `[rows, in]`, `w` `[in, out]`, `b` `[out]`; output `[rows, out]`
fn forward(x: &Matrix, w: &Matrix, bias: Option<&FlexTensor>) -> FlexTensor {
    let ([rows, _], [_, out]) = (x.dims(), w.dims());
    let mut y = match bias {
        Some(b) => values(b).repeat(rows),
        None => vec![0.0; rows * out],
    };
    gemm::matmul(&mut y, dense(rows, out), x.values(), x.view, w.values(), w.view, bias.is_some(), 0);
    flex_tensor(y, &[rows, out])
}

#[derive(Debug)]
struct LinearBackward;

impl Backward<Cpu, 3> for LinearBackward {
    /// The input and the weight.
    type State = (Matrix, Matrix);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, w) = ops.state;
        let dy = contiguous(grads.consume::<Cpu>(&ops.node)); // [rows, out]
        let ([rows, inputs], [_, out]) = (x.dims(), w.dims());
        let [node_x, node_w, node_b] = ops.parents;
        if let Some(node) = node_x {
            let mut dx = vec![0.0; rows * inputs];
            gemm::matmul(&mut dx, dense(rows, inputs), values(&dy), dense(rows, out), w.values(), w.t(), false, 0);
            grads.register::<Cpu>(node.id, flex_tensor(dx, &[rows, inputs]));
        }
        if let Some(node) = node_w {
            let mut dw = vec![0.0; inputs * out];
            gemm::matmul(&mut dw, dense(inputs, out), x.values(), x.t(), values(&dy), dense(rows, out), false, 0);
            grads.register::<Cpu>(node.id, flex_tensor(dw, &[inputs, out]));
        }
        if let Some(node) = node_b {
            let mut db = vec![0.0; out];
            for row in values(&dy).chunks_exact(out.max(1)) {
                db.iter_mut().zip(row).for_each(|(d, &g)| *d += g);
            }
            grads.register::<Cpu>(node.id, flex_tensor(db, &[out]));
        }
    }
}

fn linear_autodiff(
    x: Tensor<CpuAutodiff, 2>,
    weight: Tensor<CpuAutodiff, 2>,
    bias: Tensor<CpuAutodiff, 1>,
) -> Tensor<CpuAutodiff, 2> {
    let [x, weight] = [x, weight].map(|t| t.into_primitive().tensor());
    let bias = bias.into_primitive().tensor();
    let (xm, wm) = (Matrix::new(x.primitive.clone()), Matrix::new(weight.primitive.clone()));
    let y = forward(&xm, &wm, Some(&contiguous(bias.primitive.clone())));
    record(LinearBackward, [&x, &weight, &bias], || (xm, wm), y)
}
