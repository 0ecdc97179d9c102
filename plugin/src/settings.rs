//! Settings in three tiers (DESIGN §5): [`WorldSimPlugin`](crate::WorldSimPlugin) fields fixed
//! at build time, the [`WorldSimSettings`] resource changed at run time for every stream, and
//! per-stream components.

use bevy::prelude::*;
use worldsim_model::diffusion::SamplerKind;
use worldsim_model::stream::STREAM_GUIDANCE;

/// Run-time settings shared by every stream; changing them reaches the worker at once.
#[derive(Resource, Clone, Debug, PartialEq)]
pub struct WorldSimSettings {
    /// Sampler steps per latent frame (fewer: faster, rougher).
    pub steps: usize,
    /// Classifier-free guidance scale (1: none, half the network calls).
    pub guidance: f32,
    /// ODE solver.
    pub sampler: SamplerKind,
    /// Pauses generation and playback of every stream.
    pub paused: bool,
}

impl Default for WorldSimSettings {
    fn default() -> Self {
        WorldSimSettings { steps: 6, guidance: STREAM_GUIDANCE, sampler: SamplerKind::Euler, paused: false }
    }
}
