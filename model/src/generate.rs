//! Text-to-video and text-to-image: a short prompt is expanded into a descriptive caption, a
//! noise grid of the requested size and duration is denoised by the DiT along the flow ODE (with
//! classifier-free guidance), and the VAE decodes the latent into frames. It is the prompting
//! pipeline with every latent frame generated.

use burn::prelude::*;
use worldsim_scenes::Frame;

use crate::diffusion::SamplerKind;
use crate::dit::weights::LoadedDenoiser;
use crate::error::ModelError;
use crate::prompting::{PromptRequest, SamplingSettings, run_request};
use crate::vae::weights::LoadedVae;

/// The classifier-free guidance scale of text-to-video unless told otherwise, measured with
/// `worldsim eval dit` on the shipped tiny DiT (50 held-out prompts × 2 seeds, 30 Euler steps):
/// every named object colour present in 25 / 14 / 20 % of clips of three prompt sets at 9
/// against 12 / 12 / 17 % at 3, terrain right in 97 % against 99 %.
pub const TEXT_TO_VIDEO_GUIDANCE: f32 = 9.0;

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateRequest {
    /// A short prompt ("red ball bouncing on snow") or a caption.
    pub prompt: String,
    /// Frames: `1 + 4k` (1 is an image).
    pub frames: usize,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Seed of the noise (and of what the prompt leaves open).
    pub seed: u64,
    /// Sampler steps.
    pub steps: usize,
    /// Classifier-free guidance scale (1: none).
    pub guidance: f32,
    /// ODE solver.
    pub sampler: SamplerKind,
}

/// What came out.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The video (one frame for an image).
    pub frames: Vec<Frame>,
    /// The caption the model was conditioned on.
    pub caption: String,
    /// Words of the prompt the model does not know.
    pub unknown: Vec<String>,
}

/// Generates a video (or image) for `req`.
pub fn generate<B: Backend>(
    vae: &LoadedVae<B>,
    dit: &LoadedDenoiser<B>,
    req: &GenerateRequest,
    device: &B::Device,
) -> Result<Generated, ModelError> {
    let settings = SamplingSettings {
        prompt: req.prompt.clone(),
        seed: req.seed,
        steps: req.steps,
        guidance: req.guidance,
        sampler: req.sampler,
    };
    let temporal = vae.meta.config.temporal_factor();
    let request = PromptRequest::generated(req.width, req.height, req.frames, temporal, settings);
    let out = run_request(vae, dit, &request, device)?;
    Ok(Generated { frames: out.frames, caption: out.caption, unknown: out.unknown })
}
