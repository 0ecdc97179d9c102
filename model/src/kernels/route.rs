//! Which implementation a tensor op takes. The model is generic over `B: Backend`, and a fused
//! kernel exists only for `f32` tensors of burn-flex ([`Cpu`]) and burn-flex under autodiff
//! ([`CpuAutodiff`]). [`kind_of`] names the route of a tensor at run time and [`cast`] retypes a
//! value between a generic backend and the concrete one it is (a checked downcast, no `unsafe`).
//! Every other backend (wgpu, cuda) and every other float type takes the plain burn ops, so the
//! kernels only ever see `f32` and GPU code is unchanged.

use std::any::{Any, TypeId};

use burn::prelude::*;
use burn::tensor::DType;

use crate::{Cpu, CpuAutodiff};

/// The backends with fused kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// burn-flex.
    Cpu,
    /// burn-flex under autodiff.
    CpuAutodiff,
    /// Any other backend: plain burn ops.
    Other,
}

/// The route of `x`: its backend's kind when it holds `f32` values, else [`Kind::Other`].
pub fn kind_of<B: Backend, const D: usize>(x: &Tensor<B, D>) -> Kind {
    if x.dtype() == DType::F32 { kind::<B>() } else { Kind::Other }
}

/// The kind of backend `B` is.
fn kind<B: Backend>() -> Kind {
    let id = TypeId::of::<B>();
    if id == TypeId::of::<Cpu>() {
        Kind::Cpu
    } else if id == TypeId::of::<CpuAutodiff>() {
        Kind::CpuAutodiff
    } else {
        Kind::Other
    }
}

/// Retypes `x` as `U`, which must be its own type spelled differently (e.g. `Tensor<B, 3>` as
/// `Tensor<Cpu, 3>` once [`kind`] said `B` is `Cpu`).
///
/// # Panics
/// If `T` and `U` are different types (a bug in the caller's routing).
pub fn cast<T: Any, U: Any>(x: T) -> U {
    match (Box::new(x) as Box<dyn Any>).downcast::<U>() {
        Ok(u) => *u,
        Err(_) => panic!("kernel routing: {} is not {}", std::any::type_name::<T>(), std::any::type_name::<U>()),
    }
}
