//! Text-to-video and text-to-image: a short prompt is expanded into a descriptive caption, a
//! noise grid of the requested size and duration is denoised by the DiT along the flow ODE (with
//! classifier-free guidance), and the VAE decodes the latent into frames.

use burn::prelude::*;
use worldsim_scenes::Frame;
use worldsim_scenes::rng::Rng;

use crate::diffusion::flow::{NoiseLevels, normal, schedule, shift_for_tokens};
use crate::diffusion::sampler::guided;
use crate::diffusion::{Sampler, SamplerKind};
use crate::dit::NoisySample;
use crate::dit::layout::AttentionMode;
use crate::dit::patch::unpatchify;
use crate::dit::weights::LoadedDenoiser;
use crate::error::ModelError;
use crate::vae::weights::LoadedVae;
use crate::video::frames_from_tensor;

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

/// Most tokens packed in one row while sampling (the conditional and unconditional branches).
const MAX_ROW_TOKENS: usize = 1 << 16;

/// Checks the request's size against the VAE and the DiT; errors name the nearest valid value.
fn check(
    vae: &LoadedVae<impl Backend>,
    dit: &LoadedDenoiser<impl Backend>,
    req: &GenerateRequest,
) -> Result<(), ModelError> {
    vae.meta.config.check_video(req.frames, req.height, req.width)?;
    let multiple = vae.meta.config.spatial_factor() * dit.meta.model.patch;
    for (field, v) in [("height", req.height), ("width", req.width)] {
        if !v.is_multiple_of(multiple) {
            let nearest = ((v as f64 / multiple as f64).round() as usize).max(1) * multiple;
            return Err(ModelError::InvalidSize {
                field,
                got: v,
                reason: format!("the DiT's patches need a multiple of {multiple} pixels"),
                nearest,
            });
        }
    }
    let sf = vae.meta.config.spatial_factor();
    dit.meta.model.check_latent(
        dit.meta.model.latent_channels,
        vae.meta.config.latent_frames(req.frames),
        req.height / sf,
        req.width / sf,
    )?;
    if req.steps == 0 {
        return Err(ModelError::Config { field: "steps", message: "must be at least 1 (try 30)".into() });
    }
    Ok(())
}

/// Generates a video (or image) for `req`.
pub fn generate<B: Backend>(
    vae: &LoadedVae<B>,
    dit: &LoadedDenoiser<B>,
    req: &GenerateRequest,
    device: &B::Device,
) -> Result<Generated, ModelError> {
    check(vae, dit, req)?;
    let tokenizer = &dit.meta.tokenizer;
    // The prompt itself must be readable: not empty, not longer than the model reads.
    let prompt_tokens = tokenizer.encode(&req.prompt)?;
    let expansion =
        worldsim_scenes::prompt::expand(&req.prompt, req.width as u32, req.height as u32, req.frames as u32, req.seed);
    let unknown = expansion.unknown.clone();
    let caption_tokens = match tokenizer.encode(&expansion.caption) {
        Ok(t) => t,
        Err(_) => prompt_tokens,
    };

    let sf = vae.meta.config.spatial_factor();
    let p = dit.meta.model.patch;
    let (frames, gh, gw) = (vae.meta.config.latent_frames(req.frames), req.height / sf / p, req.width / sf / p);
    let td = dit.meta.model.token_dim();
    let n = frames * gh * gw;
    let mut rng = Rng::new(req.seed);
    let noise: Vec<f32> = (0..n * td).map(|_| normal(&mut rng)).collect();
    let x = Tensor::<B, 1>::from_floats(noise.as_slice(), device).reshape([n, td]);

    let sample = |tokens: Tensor<B, 2>, t: f32, caption: &crate::text::Tokens| NoisySample {
        frames,
        grid: (gh, gw),
        tokens,
        noise: vec![t; frames],
        caption: caption.clone(),
        actions: vec![None; frames],
    };
    let null = tokenizer.null();
    let velocity = |x: Tensor<B, 2>, t: f32| -> Tensor<B, 2> {
        if req.guidance == 1.0 {
            return dit
                .model
                .predict(&[sample(x, t, &caption_tokens)], AttentionMode::Bidirectional, MAX_ROW_TOKENS, device)
                .remove(0);
        }
        let mut v = dit.model.predict(
            &[sample(x.clone(), t, &caption_tokens), sample(x, t, &null)],
            AttentionMode::Bidirectional,
            MAX_ROW_TOKENS,
            device,
        );
        let uncond = v.remove(1);
        guided(v.remove(0), uncond, req.guidance)
    };
    let shift = shift_for_tokens(n, NoiseLevels::default().base_tokens);
    let x0 = req.sampler.integrate(x, &schedule(req.steps, shift), velocity);
    let z = unpatchify(x0, dit.meta.model.latent_channels, frames, (gh, gw), p);
    let z = vae.meta.latent_stats.denormalize(z);
    let video = vae.model.decode(&vae.meta.config, z)?;
    Ok(Generated { frames: frames_from_tensor(video), caption: expansion.caption, unknown })
}
