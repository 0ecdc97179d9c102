//! The diffusion transformer over spacetime latent patches (DESIGN §3): patches and positions
//! ([`patch`]), 3D rotary positions ([`rope`]), Patch n' Pack layouts with their attention masks
//! ([`layout`]), attention ([`attention`]), the adaLN-Zero block ([`block`]) and the model with
//! its per-latent-frame conditioning and key/value cache ([`model`]), the action displacements
//! ([`action_shift`]) and the previous-frame input ([`previous`]); training ([`train`]) with
//! its object-weighted loss ([`focus`]); the teacher-forced action probe ([`action_probe`]).

pub mod action_probe;
pub mod action_shift;
pub mod attention;
pub mod block;
pub mod config;
pub mod denoiser;
pub mod layout;
pub mod model;
pub mod motion;
pub mod patch;
pub mod previous;
pub mod rope;
pub mod train;
pub mod weights;

pub use config::DitConfig;
pub use denoiser::{Denoiser, NoisySample};
pub use layout::{AttentionMode, Layout, SampleShape};
pub use model::{Dit, DitCache, DitInput, FrameDisplacement, FrameKeys};
