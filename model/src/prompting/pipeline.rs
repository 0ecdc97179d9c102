//! The one sampling pipeline behind text-to-video and every image/video prompt: a pixel
//! timeline (some frames known, the rest to make) and one role per latent frame go in; known
//! frames are encoded by the VAE, each latent frame starts at its role's noise level, the DiT
//! denoises every frame at its own level (given frames stay clean), and the VAE decodes the
//! result.

use burn::prelude::*;
use worldsim_scenes::Frame;
use worldsim_scenes::rng::Rng;

use super::roles::{FrameRole, frame_schedule, pixel_span};
use crate::diffusion::flow::{NoiseLevels, noised, normal, schedule, shift_for_tokens};
use crate::diffusion::sampler::{FrameTokens, guided, per_token};
use crate::diffusion::{Sampler, SamplerKind};
use crate::dit::NoisySample;
use crate::dit::layout::AttentionMode;
use crate::dit::patch::{patchify, unpatchify};
use crate::dit::weights::LoadedDenoiser;
use crate::error::ModelError;
use crate::text::Tokens;
use crate::vae::weights::LoadedVae;
use crate::video::{VideoSample, frames_from_tensor};

/// The classifier-free guidance scale of the tasks that continue given frames (animate, extend,
/// loop, connect) unless told otherwise. `worldsim eval prompting --scenes 6` on the held-out
/// sets 4242 / 4343, mean seam ratios at 3 → 2: forward 1.97 / 1.70 → 1.78 / 1.57, backward
/// 2.89 / 2.49 → 2.61 / 2.26, loop of a video 1.50 / 1.29 → 1.44 / 1.24, connect 1.64 / 2.00 →
/// 1.63 / 1.78 (5 is worse everywhere, 1.5 about as 2). Text-to-video has its own
/// (`generate::TEXT_TO_VIDEO_GUIDANCE`), and so has editing ([`EDIT_GUIDANCE`]).
pub const PROMPTING_GUIDANCE: f32 = 2.0;

/// The guidance scale of SDEdit (`edit`) unless told otherwise: the prompt has to change what
/// the video shows, and a weaker pull leaves it (`eval prompting`, edit 0.5 with another
/// terrain: the terrain changed in 3 of 6 clips at 3, 1 of 6 at 1.5, seed 4242).
pub const EDIT_GUIDANCE: f32 = 3.0;

/// How to sample: the settings every generation and prompting task shares.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingSettings {
    /// A short prompt ("red ball bouncing on snow") or a caption.
    pub prompt: String,
    /// Seed of the noise (and of what the prompt leaves open).
    pub seed: u64,
    /// Sampler steps from pure noise (a frame starting part-way takes the steps below its level).
    pub steps: usize,
    /// Classifier-free guidance scale (1: none).
    pub guidance: f32,
    /// ODE solver.
    pub sampler: SamplerKind,
}

/// A video to make, some of whose frames are known.
#[derive(Clone, Debug)]
pub struct PromptRequest {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The pixel timeline, `1 + 4k` frames; `Some` frames are known.
    pub frames: Vec<Option<Frame>>,
    /// One role per latent frame.
    pub roles: Vec<FrameRole>,
    /// Prompt, seed, steps, guidance, sampler.
    pub settings: SamplingSettings,
    /// Tokens pinned to the input (empty: none), one per token in [`patchify`]'s order: each
    /// follows the straight line from its frame's noised input latent down to the input's clean
    /// latent instead of the DiT's velocity, so the DiT denoises the rest around what the input
    /// shows there (replacement inpainting). Only tokens of latent frames with a known frame.
    pub pinned: Vec<bool>,
}

impl PromptRequest {
    /// Text-to-video: `frames` frames (`1 + temporal·k`), every latent frame generated. A frame
    /// count the VAE rejects still reaches [`run_request`]'s check, which names the fix.
    pub fn generated(width: usize, height: usize, frames: usize, temporal: usize, settings: SamplingSettings) -> Self {
        let latents = 1 + frames.saturating_sub(1) / temporal.max(1);
        PromptRequest {
            width,
            height,
            frames: vec![None; frames],
            roles: vec![FrameRole::Generated; latents],
            settings,
            pinned: Vec::new(),
        }
    }
}

/// What came out.
#[derive(Clone, Debug)]
pub struct Prompted {
    /// The whole video, given frames included (as the VAE reconstructs them).
    pub frames: Vec<Frame>,
    /// The caption the model was conditioned on.
    pub caption: String,
    /// Words of the prompt the model does not know.
    pub unknown: Vec<String>,
    /// DiT evaluations per guidance branch (steps that move at least one frame).
    pub network_calls: usize,
}

/// Most tokens packed in one row while sampling (the conditional and unconditional branches).
const MAX_ROW_TOKENS: usize = 1 << 16;

/// Checks a request against the VAE and the DiT; errors name the field and the fix.
fn check<B: Backend>(vae: &LoadedVae<B>, dit: &LoadedDenoiser<B>, req: &PromptRequest) -> Result<(), ModelError> {
    vae.meta.config.check_video(req.frames.len(), req.height, req.width)?;
    let multiple = vae.meta.config.spatial_factor() * dit.meta.model.patch;
    for (field, v) in [("height", req.height), ("width", req.width)] {
        ModelError::check_multiple(
            field,
            v,
            multiple,
            format!("the DiT's patches need a multiple of {multiple} pixels"),
        )?;
    }
    let sf = vae.meta.config.spatial_factor();
    let latents = vae.meta.config.latent_frames(req.frames.len());
    // The VAE's latent must be the one the DiT denoises (a VAE widened without its DiT is not).
    dit.meta.model.check_latent(vae.meta.config.latent_channels, latents, req.height / sf, req.width / sf)?;
    if req.settings.steps == 0 {
        return Err(ModelError::Config { field: "steps", message: "must be at least 1 (try 30)".into() });
    }
    for (i, f) in req.frames.iter().enumerate() {
        if let Some(f) = f
            && (f.width as usize, f.height as usize) != (req.width, req.height)
        {
            return Err(ModelError::Config {
                field: "frames",
                message: format!(
                    "frame {i} is {}×{} but the request is {}×{}; resize it first (prompting::fit)",
                    f.width, f.height, req.width, req.height
                ),
            });
        }
    }
    if req.roles.len() != latents {
        return Err(ModelError::Config {
            field: "roles",
            message: format!("{} roles for {latents} latent frames; give one per latent frame", req.roles.len()),
        });
    }
    let ft = vae.meta.config.temporal_factor();
    for (l, role) in req.roles.iter().enumerate() {
        if let FrameRole::Noised { strength } = role
            && !(0.0..=1.0).contains(strength)
        {
            return Err(ModelError::Config {
                field: "roles",
                message: format!("latent frame {l}: strength {strength} is outside 0..=1"),
            });
        }
        if let FrameRole::Held { level } = role
            && !(0.0..1.0).contains(level)
        {
            return Err(ModelError::Config {
                field: "roles",
                message: format!("latent frame {l}: held level {level} is outside 0..1 (try 0.05)"),
            });
        }
        if let FrameRole::Warm { level } = role {
            if !(*level > 0.0 && *level <= 1.0) {
                return Err(ModelError::Config {
                    field: "roles",
                    message: format!(
                        "latent frame {l}: warm start level {level} is outside 0 (exclusive) ..= 1 (try 0.8)"
                    ),
                });
            }
            if req.frames.iter().all(Option::is_none) {
                return Err(ModelError::Config {
                    field: "roles",
                    message: format!(
                        "latent frame {l} starts warm but no frame is known to start from; mark it Generated"
                    ),
                });
            }
        }
        let span = pixel_span(l, ft);
        if role.needs_own_frames() && req.frames[span.clone()].iter().all(Option::is_none) {
            return Err(ModelError::Config {
                field: "roles",
                message: format!(
                    "latent frame {l} is {role:?} but none of its pixel frames {}..={} is known; \
                     give a frame there or mark it Generated",
                    span.start,
                    span.end - 1
                ),
            });
        }
    }
    let per_frame = (req.height / sf / dit.meta.model.patch) * (req.width / sf / dit.meta.model.patch);
    let tokens = latents * per_frame;
    if !req.pinned.is_empty() && req.pinned.len() != tokens {
        return Err(ModelError::Config {
            field: "pinned",
            message: format!("{} pinned flags for {tokens} tokens; give one per token or none", req.pinned.len()),
        });
    }
    for (l, p) in req.pinned.chunks(per_frame.max(1)).enumerate() {
        let span = pixel_span(l, ft);
        if p.contains(&true) && req.frames[span.clone()].iter().all(Option::is_none) {
            return Err(ModelError::Config {
                field: "pinned",
                message: format!(
                    "latent frame {l} has tokens pinned to the input but none of its pixel frames {}..={} is known",
                    span.start,
                    span.end - 1
                ),
            });
        }
    }
    Ok(())
}

/// The timeline with every unknown frame replaced by the next known one (or, after the last,
/// the last): the causal encoder then sees a known frame's own past as a still picture of it,
/// never another video's frames. `None` when no frame is known.
fn filled(frames: &[Option<Frame>]) -> Option<Vec<Frame>> {
    let last = frames.iter().rev().flatten().next()?;
    let mut next = last;
    let mut out: Vec<Frame> = frames
        .iter()
        .rev()
        .map(|f| {
            if let Some(f) = f {
                next = f;
            }
            f.as_ref().unwrap_or(next).clone()
        })
        .collect();
    out.reverse();
    Some(out)
}

/// The timeline warm frames start from ([`FrameRole::Warm`]): every unknown frame between two
/// known ones is their cross-fade, weighted by distance; after the last known frame it is that
/// frame held still, before the first the first. `None` when no frame is known.
fn bridged(frames: &[Option<Frame>]) -> Option<Vec<Frame>> {
    let known: Vec<(usize, &Frame)> = frames.iter().enumerate().filter_map(|(i, f)| Some((i, f.as_ref()?))).collect();
    let (&first, &last) = (known.first()?, known.last()?);
    let out = (0..frames.len())
        .map(|i| {
            let before = known.iter().rev().find(|(k, _)| *k <= i).copied().unwrap_or(first);
            let after = known.iter().find(|(k, _)| *k >= i).copied().unwrap_or(last);
            if before.0 >= after.0 {
                return before.1.clone();
            }
            let mut frame = before.1.clone();
            frame.mix(after.1, (i - before.0) as f32 / (after.0 - before.0) as f32);
            frame
        })
        .collect();
    Some(out)
}

/// The tokens of a prompt's expanded caption (falling back to the prompt itself), the caption and
/// the prompt's unknown words. `steered`: the caption leaves the player's motion to action
/// captions ([`worldsim_scenes::captions::steered_caption`]), as a stream's does.
pub fn caption<B: Backend>(
    dit: &LoadedDenoiser<B>,
    prompt: &str,
    seed: u64,
    (width, height): (usize, usize),
    frames: usize,
    steered: bool,
) -> Result<(Tokens, String, Vec<String>), ModelError> {
    let tokenizer = &dit.meta.tokenizer;
    // The prompt itself must be readable: not empty, not longer than the model reads.
    let prompt_tokens = tokenizer.encode(prompt)?;
    let expansion = worldsim_scenes::prompt::expand(prompt, width as u32, height as u32, frames as u32, seed);
    let caption = if steered { expansion.steered } else { expansion.caption };
    let tokens = tokenizer.encode(&caption).unwrap_or(prompt_tokens);
    Ok((tokens, caption, expansion.unknown))
}

/// A request's sampled latent, before decoding.
#[derive(Clone, Debug)]
pub struct SampledLatent<B: Backend> {
    /// `[1, C, latent frames, h, w]` in the VAE's own (denormalised) units; given frames are the
    /// encoder's latent bit for bit.
    pub latent: Tensor<B, 5>,
    /// The caption the model was conditioned on.
    pub caption: String,
    /// Words of the prompt the model does not know.
    pub unknown: Vec<String>,
    /// DiT evaluations per guidance branch (steps that move at least one frame).
    pub network_calls: usize,
}

/// Runs a request: encodes what is known, samples every latent frame from its role's level,
/// decodes.
pub fn run_request<B: Backend>(
    vae: &LoadedVae<B>,
    dit: &LoadedDenoiser<B>,
    req: &PromptRequest,
    device: &B::Device,
) -> Result<Prompted, ModelError> {
    let s = sample_latent(vae, dit, req, device)?;
    let video = vae.model.decode(&vae.meta.config, s.latent)?;
    Ok(Prompted {
        frames: frames_from_tensor(video),
        caption: s.caption,
        unknown: s.unknown,
        network_calls: s.network_calls,
    })
}

/// Runs a request up to its latent: encodes what is known and samples every latent frame from
/// its role's level (the caller decodes, alone or after other latent frames).
pub fn sample_latent<B: Backend>(
    vae: &LoadedVae<B>,
    dit: &LoadedDenoiser<B>,
    req: &PromptRequest,
    device: &B::Device,
) -> Result<SampledLatent<B>, ModelError> {
    check(vae, dit, req)?;
    let settings = &req.settings;
    let (caption_tokens, caption, unknown) =
        caption(dit, &settings.prompt, settings.seed, (req.width, req.height), req.frames.len(), false)?;

    let sf = vae.meta.config.spatial_factor();
    let p = dit.meta.model.patch;
    let (frames, gh, gw) = (req.roles.len(), req.height / sf / p, req.width / sf / p);
    let td = dit.meta.model.token_dim();
    let per_frame = gh * gw;
    let n = frames * per_frame;
    // The encoder's latent of the known frames `[1, C, frames, h, w]` (none when nothing is used).
    let filled = filled(&req.frames);
    let encoded = match &filled {
        Some(video) if req.roles.iter().any(FrameRole::uses_input) || req.pinned.contains(&true) => {
            let x = VideoSample::from_frames(video).tensor::<B>(device);
            Some(vae.model.encode(&vae.meta.config, x)?.mean)
        }
        _ => None,
    };
    // [n, token_dim] normalised latent tokens (zeros when nothing is known).
    let mut clean = match &encoded {
        Some(z) => patchify(vae.meta.latent_stats.normalize(z.clone()), p),
        None => Tensor::zeros([n, td], device),
    };
    // Warm frames start from the bridged timeline's latent, which is the filled one's unless a
    // gap lies between two known frames.
    let warm: Vec<usize> = (0..frames).filter(|&f| matches!(req.roles[f], FrameRole::Warm { .. })).collect();
    if !warm.is_empty()
        && let Some(video) = bridged(&req.frames)
        && Some(&video) != filled.as_ref()
    {
        let x = VideoSample::from_frames(&video).tensor::<B>(device);
        let z = vae.model.encode(&vae.meta.config, x)?.mean; // [1, C, frames, h, w]
        let bridge = patchify(vae.meta.latent_stats.normalize(z), p); // [n, token_dim]
        for f in warm {
            let rows = f * per_frame..(f + 1) * per_frame;
            clean = clean.slice_assign([rows.clone(), 0..td], bridge.clone().slice([rows, 0..td]));
        }
    }
    let mut rng = Rng::new(settings.seed);
    let noise: Vec<f32> = (0..n * td).map(|_| normal(&mut rng)).collect();
    let noise = Tensor::<B, 1>::from_floats(noise.as_slice(), device).reshape([n, td]);

    let steps =
        frame_schedule(&schedule(settings.steps, shift_for_tokens(n, NoiseLevels::default().base_tokens)), &req.roles);
    // Each frame starts on the straight line from its clean latent to its noise, at its level.
    // Pinned tokens `[n, 1]` (1: pinned) and the velocity of their straight line `[n, token_dim]`.
    let pinned = (!req.pinned.is_empty()).then(|| {
        let mask: Vec<f32> = req.pinned.iter().map(|p| f32::from(u8::from(*p))).collect();
        let mask = Tensor::<B, 1>::from_floats(mask.as_slice(), device).reshape([n, 1]);
        (mask, noise.clone() - clean.clone())
    });
    let (start, _) = noised(clean, noise, per_token(&steps[0], per_frame, device));
    let start = FrameTokens { tokens: start, per_frame };

    let sample = |tokens: Tensor<B, 2>, levels: &[f32], caption: &Tokens| NoisySample {
        frames,
        grid: (gh, gw),
        tokens,
        noise: levels.to_vec(),
        caption: caption.clone(),
        actions: vec![None; frames],
    };
    let null = dit.meta.tokenizer.null();
    let mut network_calls = 0;
    let velocity = |x: FrameTokens<B>, levels: &Vec<f32>| -> FrameTokens<B> {
        network_calls += 1;
        let v = if settings.guidance == 1.0 {
            dit.model
                .predict(
                    &[sample(x.tokens, levels, &caption_tokens)],
                    AttentionMode::Bidirectional,
                    MAX_ROW_TOKENS,
                    device,
                )
                .remove(0)
        } else {
            let mut v = dit.model.predict(
                &[sample(x.tokens.clone(), levels, &caption_tokens), sample(x.tokens, levels, &null)],
                AttentionMode::Bidirectional,
                MAX_ROW_TOKENS,
                device,
            );
            let uncond = v.remove(1);
            guided(v.remove(0), uncond, settings.guidance)
        };
        let v = match &pinned {
            Some((mask, line)) => v.clone() + (line.clone() - v) * mask.clone(),
            None => v,
        };
        FrameTokens { tokens: v, per_frame }
    };
    let x0 = settings.sampler.integrate(start, &steps, velocity).tokens;
    let z = unpatchify(x0, dit.meta.model.latent_channels, frames, (gh, gw), p);
    let mut z = vae.meta.latent_stats.denormalize(z);
    // Given and held frames decode from the encoder's own latent, bit for bit (normalising and
    // back is not exact in floating point).
    if let Some(encoded) = encoded {
        for (f, _) in req.roles.iter().enumerate().filter(|(_, r)| r.is_kept()) {
            z = z.slice_assign(s![.., .., f..f + 1, .., ..], encoded.clone().slice(s![.., .., f..f + 1, .., ..]));
        }
    }
    Ok(SampledLatent { latent: z, caption, unknown, network_calls })
}
