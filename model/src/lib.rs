//! # worldsim-model
//!
//! The learnt parts of worldsim, on burn, generic over `B: Backend` (burn-flex on the CPU by
//! default; `wgpu` and `cuda` by feature). The causal video VAE ([`vae`]) and the diffusion transformer
//! ([`dit`]).
#![warn(missing_docs)]

pub mod bench;
pub mod device;
pub mod diffusion;
pub mod dit;
pub mod error;
pub mod generate;
pub mod grow;
pub mod kernels;
pub mod prompting;
pub mod quality;
pub mod stream;
pub mod text;
pub mod threads;
pub mod train;
pub mod vae;
pub mod video;
pub mod weights;

pub use device::ComputeDevice;
pub use error::ModelError;

/// The default CPU backend.
pub type Cpu = burn::backend::Flex;
/// The default CPU backend with automatic differentiation (training).
pub type CpuAutodiff = burn::backend::Autodiff<Cpu>;
