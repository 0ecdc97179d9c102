//! World-simulator streaming (DESIGN §1, last row): a [`session::StreamSession`] extends a live
//! video one latent frame at a time under a prompt and per-frame action captions, with
//! frame-causal attention against a rolling key/value cache and the streaming VAE decoder;
//! [`simulator::Simulator`] hides the backend so a game engine can run many streams on the
//! device a user chooses.

pub mod guidance_focus;
pub mod session;
pub mod simulator;

pub use crate::device::ComputeDevice;
pub use guidance_focus::{GUIDANCE_FOCUS, GuidanceFocus};
pub use session::{
    FIRST_FRAME_STEPS, STREAM_GUIDANCE, StepTimings, StreamConfig, StreamControls, StreamModel, StreamSession,
    StreamSpec, StreamStep,
};
pub use simulator::{Simulator, StreamId};
