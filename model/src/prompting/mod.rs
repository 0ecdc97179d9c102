//! Prompting with images and videos (DESIGN §1: each capability is "which latent frames are
//! given"). [`roles`] says what happens to each latent frame, [`pipeline`] samples any request
//! (text-to-video included), [`tasks`] builds the requests of animate, extend, loop, edit and
//! connect and assembles their output, [`fit`] brings inputs of any size to a valid one,
//! [`motion`] finds what moves in a video (an edit can keep it), and [`seams`] measures what the
//! tasks promise (continuity at seams and loop points).

pub mod fit;
pub mod motion;
pub mod pipeline;
pub mod roles;
pub mod seams;
pub mod tasks;

pub use pipeline::{
    EDIT_GUIDANCE, PROMPTING_GUIDANCE, PromptRequest, Prompted, SampledLatent, SamplingSettings, run_request,
    sample_latent,
};
pub use roles::FrameRole;
