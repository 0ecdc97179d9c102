//! Diffusion by rectified flow: noising, noise-level sampling and the resolution-aware time
//! shift ([`flow`]); ODE samplers and classifier-free guidance ([`sampler`]).

pub mod flow;
pub mod sampler;

pub use sampler::{Euler, Heun, Sampler, SamplerKind};
