//! Which implementation a tensor op takes. The model is generic over `B: Backend`, and a fused
//! kernel exists only for burn-flex ([`Cpu`]) and burn-flex under autodiff ([`CpuAutodiff`]).
//! [`kind`] names the concrete backend at run time and [`cast`] retypes a value between a
//! generic backend and the concrete one it is (a checked downcast, no `unsafe`). Every other
//! backend (wgpu, cuda) takes the plain burn ops, so GPU code is unchanged.

use std::any::{Any, TypeId};

use burn::prelude::*;

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

/// The kind of backend `B` is.
pub fn kind<B: Backend>() -> Kind {
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
