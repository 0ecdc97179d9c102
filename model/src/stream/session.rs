//! A live stream of one world (DESIGN §1, last row): each step generates the next latent frame
//! with frame-causal attention against a key/value cache of the frames before it, under the
//! prompt and action caption of that moment, then decodes it with the streaming VAE decoder.
//! Committed frames enter the cache slightly noised (against drift in long rollouts); the cache
//! keeps a rolling window of frames, so memory is bounded however long the stream runs.

use std::collections::HashMap;
use std::time::Instant;

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use worldsim_scenes::Frame;
use worldsim_scenes::rng::Rng;

use crate::diffusion::flow::{NoiseLevels, normal, schedule, shift_for_tokens};
use crate::diffusion::sampler::guided;
use crate::diffusion::{Sampler, SamplerKind};
use crate::dit::patch::{patchify, unpatchify};
use crate::dit::weights::LoadedDenoiser;
use crate::dit::{DitCache, DitInput};
use crate::error::ModelError;
use crate::prompting::pipeline::caption;
use crate::stream::guidance_focus::{GUIDANCE_FOCUS, GuidanceFocus, push};
use crate::vae::blocks::ChunkCache;
use crate::vae::weights::LoadedVae;
use crate::video::{VideoSample, frames_from_tensor};

/// Classifier-free guidance a stream samples with unless told otherwise (the CLI's `stream`,
/// `eval stream` and `bench stream`, the plugin's `WorldSimSettings`); the scale only weighs the
/// two branches, so it costs nothing. 9 rather than the prompting tasks' 3: `eval stream
/// --streams 12 --rollout-frames 0` with the stage-8 pair followed right / left / jump in 19 of
/// 72 windows at 3, 25 at 6, 28 at 9 and 27 at 12 and read the player's colour in 40, 43, 48
/// and 44, while the terrain stayed the prompt's in 72, 70, 65 and 49 of 72; at the end of a
/// 1,000-frame rollout it obeyed 0, 1 and 4 of 6 windows at 3, 6 and 9.
pub const STREAM_GUIDANCE: f32 = 9.0;

/// How a stream keeps its past.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamConfig {
    /// Latent frames of context kept in the key/value cache (each is 4 video frames): memory and
    /// per-frame cost are bounded by this, however long the stream runs.
    pub window: usize,
    /// Noise level at which a generated frame enters the cache (0: clean). A little noise keeps
    /// small errors of the past from compounding over long rollouts.
    pub context_noise: f32,
    /// Frames of the clip the prompt is expanded for (the expander simulates a clip to caption).
    pub caption_frames: usize,
    /// Expand the prompt to the caption that leaves the player's motion to the action captions
    /// ([`worldsim_scenes::captions::steered_caption`]) instead of the one that describes it
    /// (a motion the expander made up, held for the stream's whole life against the actions).
    #[serde(default = "steered_by_default")]
    pub steered_caption: bool,
    /// Sampler steps of the first latent frame when the stream generates it: a picture made
    /// from nothing needs more than a frame continuing its context, so it takes at least this
    /// many, however few `StreamControls::steps` asks for the frames after it
    /// ([`FIRST_FRAME_STEPS`] by default).
    #[serde(default = "first_frame_steps_by_default")]
    pub first_frame_steps: usize,
    /// Start every latent frame after the first from the frame before it, noised to this
    /// level, and sample only the schedule's steps below it (SDEdit from the past: what does
    /// not change starts where it was); `None` (the default) starts from pure noise.
    #[serde(default)]
    pub warm_start: Option<f32>,
    /// Guide at the full scale only where the previous frame's guidance push was largest
    /// ([`GuidanceFocus`]; [`GUIDANCE_FOCUS`] by default); `None` guides every token alike.
    /// The first frame a stream generates is guided everywhere.
    #[serde(default = "focus_by_default")]
    pub guidance_focus: Option<GuidanceFocus>,
}

fn steered_by_default() -> bool {
    StreamConfig::default().steered_caption
}

fn focus_by_default() -> Option<GuidanceFocus> {
    StreamConfig::default().guidance_focus
}

fn first_frame_steps_by_default() -> usize {
    FIRST_FRAME_STEPS
}

/// Sampler steps of a generated first latent frame: `generate`'s default for a picture. At 6
/// steps (a stream's default per frame) the first picture of a prompted stream was a field of
/// blobs with no layout; with 30, `eval stream --streams 12 --rollout-frames 0` (stage-10 pair)
/// read the player's colour in 68 of 72 windows against 61 (terrain and sky 72 either way).
/// The extra steps run once, before the first frame is shown.
pub const FIRST_FRAME_STEPS: usize = 30;

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            window: 2,
            context_noise: 0.05,
            caption_frames: 9,
            steered_caption: true,
            first_frame_steps: FIRST_FRAME_STEPS,
            warm_start: None,
            guidance_focus: Some(GUIDANCE_FOCUS),
        }
    }
}

/// What a stream is: its size and seed, fixed for its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSpec {
    /// Width in pixels (a multiple of the VAE's spatial factor × the DiT's patch).
    pub width: usize,
    /// Height in pixels (same rule).
    pub height: usize,
    /// Seed of every frame's noise (and of what the prompt leaves open).
    pub seed: u64,
}

/// What steers the next frame; may change at every step.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamControls {
    /// A short prompt ("red ball bouncing on snow") or a caption.
    pub prompt: String,
    /// The action caption in force ("the player jumps"), if any.
    pub action: Option<String>,
    /// Sampler steps per latent frame.
    pub steps: usize,
    /// Classifier-free guidance scale (1: none; the unconditional branch drops prompt and action).
    pub guidance: f32,
    /// A separate guidance scale for the action caption (`None`: the action is guided with
    /// `guidance`, like the prompt). `Some(a)` adds a third branch, the prompt without action,
    /// and steers with `v_null + guidance·(v_prompt − v_null) + a·(v_prompt+action − v_prompt)`:
    /// the action's pull is weighed on its own, for one more row in every network call.
    pub action_guidance: Option<f32>,
    /// ODE solver.
    pub sampler: SamplerKind,
}

/// Where one step's time went, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepTimings {
    /// Encoding a changed prompt or a new action caption.
    pub text_ms: f64,
    /// Denoising the new latent frame.
    pub denoise_ms: f64,
    /// Entering it into the key/value cache.
    pub commit_ms: f64,
    /// Decoding it into video frames.
    pub decode_ms: f64,
}

impl StepTimings {
    /// The whole step.
    pub fn total_ms(&self) -> f64 {
        self.text_ms + self.denoise_ms + self.commit_ms + self.decode_ms
    }
}

/// What one step made.
#[derive(Clone, Debug)]
pub struct StreamStep {
    /// The new video frames: 1 for the first latent frame, then the VAE's temporal factor (4).
    pub frames: Vec<Frame>,
    /// Index of the first of them in the stream.
    pub first_frame: usize,
    /// Index of the latent frame just made.
    pub latent: usize,
    /// The caption the prompt expanded to.
    pub caption: String,
    /// Words of the prompt and action the model does not know.
    pub unknown: Vec<String>,
    /// Where the time went.
    pub timings: StepTimings,
}

/// The shipped model's parts a stream needs.
#[derive(Debug)]
pub struct StreamModel<B: Backend> {
    /// The VAE (decoder used).
    pub vae: LoadedVae<B>,
    /// DiT + text encoder.
    pub dit: LoadedDenoiser<B>,
    /// Where tensors live.
    pub device: B::Device,
}

impl<B: Backend> StreamModel<B> {
    /// Loads a model folder (`vae.json`, `dit.json` and their weights).
    pub fn load(dir: &std::path::Path, device: B::Device) -> Result<Self, ModelError> {
        let vae = crate::vae::weights::load_vae(dir, &device)?;
        let dit = crate::dit::weights::load_denoiser(dir, &device)?;
        Ok(StreamModel { vae, dit, device })
    }

    /// Checks a stream's size against the VAE and the DiT; errors name the field and the fix.
    pub fn check(&self, spec: &StreamSpec) -> Result<(), ModelError> {
        let sf = self.vae.meta.config.spatial_factor();
        let multiple = sf * self.dit.meta.model.patch;
        for (field, v) in [("height", spec.height), ("width", spec.width)] {
            ModelError::check_multiple(
                field,
                v,
                multiple,
                format!("stream frames need a multiple of {multiple} pixels"),
            )?;
        }
        self.vae.meta.config.check_video(1, spec.height, spec.width)?;
        let m = &self.dit.meta.model;
        // The VAE's latent must be the one the DiT denoises.
        m.check_latent(self.vae.meta.config.latent_channels, 1, spec.height / sf, spec.width / sf)
    }
}

/// An encoded prompt: `[1, L, text_dim]` tokens and `[1, text_dim]` pooled.
#[derive(Clone, Debug)]
struct PromptText<B: Backend> {
    tokens: Tensor<B, 3>,
    pooled: Tensor<B, 2>,
}

/// The encoded prompt of the moment.
#[derive(Clone, Debug)]
struct CurrentPrompt<B: Backend> {
    prompt: String,
    caption: String,
    unknown: Vec<String>,
    text: PromptText<B>,
}

/// One live stream.
#[derive(Debug)]
pub struct StreamSession<B: Backend> {
    spec: StreamSpec,
    config: StreamConfig,
    grid: (usize, usize),
    /// Keys/values of committed frames, one row per branch of `rows`.
    cache: DitCache<B>,
    /// The branches the cache's rows were made under.
    rows: Vec<Branch>,
    decoder: ChunkCache<B>,
    prompt: Option<CurrentPrompt<B>>,
    null: PromptText<B>,
    /// Pooled action captions seen so far (a game has a handful), with their unknown words.
    actions: HashMap<String, (Tensor<B, 2>, Vec<String>)>,
    /// `[tokens_per_frame, token_dim]` the last latent frame made (clean), where a warm start
    /// begins.
    last: Option<Tensor<B, 2>>,
    /// The tokens in guidance's focus for the next frame (one value per token, 0 or 1), from
    /// the last frame's guidance push; `None` guides every token alike.
    focus_mask: Option<Vec<f32>>,
    latents: usize,
    frames: usize,
}

impl<B: Backend> StreamSession<B> {
    /// Starts a stream (nothing generated yet).
    pub fn new(model: &StreamModel<B>, spec: StreamSpec, config: StreamConfig) -> Result<Self, ModelError> {
        model.check(&spec)?;
        if config.window == 0 {
            return Err(ModelError::Config {
                field: "window",
                message: "must be at least 1 latent frame (try 2)".into(),
            });
        }
        if !(0.0..1.0).contains(&config.context_noise) {
            return Err(ModelError::Config {
                field: "context_noise",
                message: format!("{} is outside 0..1 (try 0.05)", config.context_noise),
            });
        }
        if let Some(level) = config.warm_start
            && !(level > 0.0 && level <= 1.0)
        {
            return Err(ModelError::Config {
                field: "warm_start",
                message: format!("{level} is outside 0 (exclusive) ..= 1 (1: from noise; try 0.8, or none)"),
            });
        }
        if let Some(focus) = &config.guidance_focus {
            focus.check()?;
        }
        let sf = model.vae.meta.config.spatial_factor();
        let p = model.dit.meta.model.patch;
        let null = encode(model, &model.dit.meta.tokenizer.null());
        Ok(StreamSession {
            grid: (spec.height / sf / p, spec.width / sf / p),
            spec,
            config,
            cache: DitCache::default(),
            rows: vec![Branch::Full],
            decoder: ChunkCache::default(),
            prompt: None,
            null,
            actions: HashMap::new(),
            last: None,
            focus_mask: None,
            latents: 0,
            frames: 0,
        })
    }

    /// The stream's size and seed.
    pub fn spec(&self) -> &StreamSpec {
        &self.spec
    }

    /// Latent frames generated so far.
    pub fn latents(&self) -> usize {
        self.latents
    }

    /// Video frames generated so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Latent frames held in the key/value cache (at most the window).
    pub fn cached_frames(&self) -> usize {
        self.cache.tokens() / self.per_frame()
    }

    fn per_frame(&self) -> usize {
        self.grid.0 * self.grid.1
    }

    /// The noise the latent frame `latent` starts from (and, second, the noise it enters the
    /// cache with): a function of the seed and the index only, so a stream is reproducible
    /// and an offline run can draw the same.
    ///
    /// # Shapes
    /// - outputs `[tokens_per_frame, token_dim]` each
    pub fn frame_noise(&self, model: &StreamModel<B>, latent: usize) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let td = model.dit.meta.model.token_dim();
        let n = self.per_frame();
        let mut rng = Rng::new(self.spec.seed ^ (latent as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut draw = || {
            let v: Vec<f32> = (0..n * td).map(|_| normal(&mut rng)).collect();
            Tensor::<B, 1>::from_floats(v.as_slice(), &model.device).reshape([n, td])
        };
        let start = draw();
        (start, draw())
    }

    /// The sampling schedule of a step: the shift of a clip of `window + 1` latent frames, the
    /// attention span of every generated frame.
    pub fn levels(&self, steps: usize) -> Vec<f32> {
        let tokens = (self.config.window + 1) * self.per_frame();
        schedule(steps, shift_for_tokens(tokens, NoiseLevels::default().base_tokens))
    }

    /// The sampling schedule of latent frame `latent` when a step asks for `steps`: the first
    /// frame takes at least [`StreamConfig::first_frame_steps`]; with a warm start, a later
    /// frame starts at its level and keeps the levels below it.
    pub fn frame_levels(&self, latent: usize, steps: usize) -> Vec<f32> {
        if latent == 0 {
            return self.levels(steps.max(self.config.first_frame_steps));
        }
        let levels = self.levels(steps);
        match self.config.warm_start {
            Some(start) if start < 1.0 => {
                std::iter::once(start).chain(levels.into_iter().filter(|&l| l < start)).collect()
            }
            _ => levels,
        }
    }

    /// Generates the next latent frame under `controls` and decodes its video frames.
    pub fn step(&mut self, model: &StreamModel<B>, controls: &StreamControls) -> Result<StreamStep, ModelError> {
        self.advance(model, controls, None)
    }

    /// Starts the stream from a known picture instead of generating its first frame (Sora's
    /// "animate an image"; a game's own first screen, or a scene's first frame): the picture's
    /// latent becomes the first latent frame and the context of what follows. Returns the
    /// picture as the VAE reconstructs it. Only before the first frame.
    pub fn start_from(
        &mut self,
        model: &StreamModel<B>,
        image: &Frame,
        controls: &StreamControls,
    ) -> Result<StreamStep, ModelError> {
        if self.latents > 0 {
            return Err(ModelError::Config {
                field: "image",
                message: "a stream starts from a picture only before its first frame; open a new stream".into(),
            });
        }
        if (image.width as usize, image.height as usize) != (self.spec.width, self.spec.height) {
            return Err(ModelError::Config {
                field: "image",
                message: format!(
                    "the picture is {}×{} but the stream is {}×{}; resize it first (prompting::fit)",
                    image.width, image.height, self.spec.width, self.spec.height
                ),
            });
        }
        self.advance(model, controls, Some(image))
    }

    /// One step: the next latent frame (denoised, or encoded from `known`), committed to the
    /// cache and decoded.
    fn advance(
        &mut self,
        model: &StreamModel<B>,
        controls: &StreamControls,
        known: Option<&Frame>,
    ) -> Result<StreamStep, ModelError> {
        if controls.steps == 0 {
            return Err(ModelError::Config { field: "steps", message: "must be at least 1 (try 8)".into() });
        }
        if !controls.guidance.is_finite() || controls.guidance < 0.0 {
            return Err(ModelError::Config {
                field: "guidance",
                message: format!("{} is not a scale ≥ 0 (1: none; try {STREAM_GUIDANCE})", controls.guidance),
            });
        }
        if let Some(a) = controls.action_guidance
            && !(a.is_finite() && a >= 0.0)
        {
            return Err(ModelError::Config {
                field: "action_guidance",
                message: format!("{a} is not a scale ≥ 0 (none: guided like the prompt)"),
            });
        }
        let mut timings = StepTimings::default();
        let clock = Instant::now();
        let prompt = self.prompt_text(model, &controls.prompt)?;
        let action = self.action_text(model, controls.action.as_deref())?;
        let mut unknown = prompt.unknown.clone();
        unknown.extend(action.1.iter().filter(|w| !prompt.unknown.contains(w)).cloned());
        timings.text_ms = ms(clock);

        let clock = Instant::now();
        let td = model.dit.meta.model.token_dim();
        let n = self.per_frame();
        let kinds = Branch::of(controls);
        let branches = Branches::new(model, &prompt.text, &action.0, &self.null, &kinds);
        self.match_cache_rows(&kinds);
        let (noise, commit_noise) = self.frame_noise(model, self.latents);
        let levels = self.frame_levels(self.latents, controls.steps);
        // A warm start begins on the line from the last frame to this frame's noise.
        let start = match (&self.last, self.config.warm_start) {
            (Some(last), Some(level)) if self.latents > 0 => last.clone() * (1.0 - level) + noise * level,
            _ => noise,
        };
        let dit = &model.dit.model.dit;
        // The text is the same in every call of the step: its keys and values are made once.
        let text_keys = dit.text_keys(branches.text.clone());
        let cache = &self.cache;
        // So is the frame's action displacement.
        let displacement = dit.frame_displacement(branches.action.clone(), self.grid, cache);
        // Guidance's focus: per-token scales from the last frame's push, and this frame's push.
        let focus = self.config.guidance_focus;
        let scales = match (&focus, &self.focus_mask) {
            (Some(f), Some(mask)) => Some(f.scales::<B>(mask, controls.guidance, &model.device)),
            _ => None,
        };
        let mut pushed = vec![0.0f32; n];
        let x0 = match known {
            Some(image) => {
                let x = VideoSample::from_frames(std::slice::from_ref(image)).tensor::<B>(&model.device);
                let z = model.vae.model.encode(&model.vae.meta.config, x)?.mean; // [1, C, 1, h, w]
                patchify(model.vae.meta.latent_stats.normalize(z), model.dit.meta.model.patch) // [n, td]
            }
            None => {
                let velocity = |x: Tensor<B, 2>, t: &f32| -> Tensor<B, 2> {
                    let input = branches.input(x, *t, &model.device);
                    let (v, _) = dit.forward_frames(
                        input,
                        self.grid,
                        &branches.text_lens,
                        cache,
                        Some(&text_keys),
                        displacement.as_ref(),
                    );
                    let row = |r: usize| v.clone().narrow(0, r, 1).reshape([n, td]);
                    let branch = |b: Branch| kinds.iter().position(|k| *k == b).map(row);
                    let full = row(0); // the full condition is always the first row
                    let no_action = branch(Branch::NoAction);
                    let reference = no_action.clone().unwrap_or_else(|| full.clone());
                    let prompted = match branch(Branch::Null) {
                        Some(null) => {
                            if focus.is_some() {
                                let p = push(reference.clone(), null.clone());
                                pushed.iter_mut().zip(p).for_each(|(a, b)| *a += b);
                            }
                            match &scales {
                                Some(s) => null.clone() + (reference - null) * s.clone(),
                                None => guided(reference, null, controls.guidance),
                            }
                        }
                        None => reference,
                    };
                    match (no_action, controls.action_guidance) {
                        (Some(prompt), Some(a)) => prompted + (full - prompt) * a,
                        _ => prompted,
                    }
                };
                controls.sampler.integrate(start, &levels, velocity) // [n, td]
            }
        };
        timings.denoise_ms = ms(clock);

        // The frame enters the cache as the network sees a slightly noised past.
        let clock = Instant::now();
        let sigma = self.config.context_noise;
        let context = x0.clone() * (1.0 - sigma) + commit_noise * sigma;
        let (_, kv) = dit.forward_frames(
            branches.input(context, sigma, &model.device),
            self.grid,
            &branches.text_lens,
            cache,
            Some(&text_keys),
            displacement.as_ref(),
        );
        self.cache.push(kv);
        self.cache.keep_last(self.config.window, n);
        self.last = Some(x0.clone());
        self.focus_mask = match (&focus, known) {
            (Some(f), None) if pushed.iter().any(|&p| p > 0.0) => Some(f.mask(&pushed, self.grid)),
            _ => None,
        };
        timings.commit_ms = ms(clock);

        let clock = Instant::now();
        let frames = self.decode(model, x0)?;
        timings.decode_ms = ms(clock);

        let step = StreamStep {
            first_frame: self.frames,
            latent: self.latents,
            caption: prompt.caption.clone(),
            unknown,
            timings,
            frames,
        };
        self.latents += 1;
        self.frames += step.frames.len();
        Ok(step)
    }

    /// Gives the cache the rows of the branches a step runs. A branch kept keeps its row; one
    /// turned on (guidance switched on, a separate action scale set) starts as a copy of the
    /// full condition's row, so its context is approximate for `window` frames.
    fn match_cache_rows(&mut self, kinds: &[Branch]) {
        if self.rows == kinds {
            return;
        }
        let from: Vec<usize> = kinds.iter().map(|k| self.rows.iter().position(|h| h == k).unwrap_or(0)).collect();
        if !self.cache.layers.is_empty() {
            let device = self.cache.layers[0].k.device();
            let index =
                Tensor::<B, 1, Int>::from_ints(from.iter().map(|&r| r as i64).collect::<Vec<_>>().as_slice(), &device);
            self.cache.select_rows(index);
        }
        self.rows = kinds.to_vec();
    }

    /// Decodes one latent frame with the stream's decoder cache.
    ///
    /// # Shapes
    /// - `tokens` `[tokens_per_frame, token_dim]` (normalised latent)
    fn decode(&mut self, model: &StreamModel<B>, tokens: Tensor<B, 2>) -> Result<Vec<Frame>, ModelError> {
        let c = model.dit.meta.model.latent_channels;
        let z = unpatchify(tokens, c, 1, self.grid, model.dit.meta.model.patch); // [1, C, 1, h, w]
        let z = model.vae.meta.latent_stats.denormalize(z);
        let video = model.vae.model.decode_chunk(&model.vae.meta.config, z, &mut self.decoder)?;
        Ok(frames_from_tensor(video))
    }

    /// The encoded prompt, re-encoded only when it changed.
    fn prompt_text(&mut self, model: &StreamModel<B>, prompt: &str) -> Result<CurrentPrompt<B>, ModelError> {
        if let Some(p) = &self.prompt
            && p.prompt == prompt
        {
            return Ok(p.clone());
        }
        let size = (self.spec.width, self.spec.height);
        let (tokens, caption, unknown) =
            caption(&model.dit, prompt, self.spec.seed, size, self.config.caption_frames, self.config.steered_caption)?;
        let current = CurrentPrompt { prompt: prompt.to_string(), caption, unknown, text: encode(model, &tokens) };
        self.prompt = Some(current.clone());
        Ok(current)
    }

    /// The pooled action caption `[1, text_dim]` (zeros for none) and its unknown words.
    fn action_text(
        &mut self,
        model: &StreamModel<B>,
        action: Option<&str>,
    ) -> Result<(Tensor<B, 2>, Vec<String>), ModelError> {
        let Some(action) = action.map(str::trim).filter(|a| !a.is_empty()) else {
            return Ok((Tensor::zeros([1, model.dit.meta.text.dim], &model.device), Vec::new()));
        };
        if let Some(found) = self.actions.get(action) {
            return Ok(found.clone());
        }
        let tokens = model.dit.meta.tokenizer.encode(action)?;
        let entry = (encode(model, &tokens).pooled, tokens.unknown.clone());
        self.actions.insert(action.to_string(), entry.clone());
        Ok(entry)
    }
}

/// One condition a step's network call runs under (a row of the batch and of the cache).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Branch {
    /// The prompt and the action caption.
    Full,
    /// Neither (guidance's unconditional branch).
    Null,
    /// The prompt without the action (a separate action guidance scale's reference).
    NoAction,
}

impl Branch {
    /// The branches `controls` need, the full condition first (no action: nothing to weigh
    /// against the prompt alone).
    fn of(controls: &StreamControls) -> Vec<Branch> {
        let has_action = controls.action.as_deref().is_some_and(|a| !a.trim().is_empty());
        let mut kinds = vec![Branch::Full];
        if controls.guidance != 1.0 {
            kinds.push(Branch::Null);
        }
        if has_action && controls.action_guidance.is_some_and(|a| a != controls.guidance) {
            kinds.push(Branch::NoAction);
        }
        kinds
    }
}

/// The conditioning of the rows a step runs, one per [`Branch`].
struct Branches<B: Backend> {
    /// `[rows, text_dim]` each.
    pooled: Tensor<B, 2>,
    action: Tensor<B, 2>,
    /// `[rows, max text_len, text_dim]`, padded.
    text: Tensor<B, 3>,
    text_lens: Vec<usize>,
}

impl<B: Backend> Branches<B> {
    fn new(
        model: &StreamModel<B>,
        prompt: &PromptText<B>,
        action: &Tensor<B, 2>,
        null: &PromptText<B>,
        kinds: &[Branch],
    ) -> Self {
        if kinds == [Branch::Full] {
            return Branches {
                pooled: prompt.pooled.clone(),
                action: action.clone(),
                text: prompt.tokens.clone(),
                text_lens: vec![prompt.tokens.dims()[1]],
            };
        }
        let rows: Vec<(&PromptText<B>, Tensor<B, 2>)> = kinds
            .iter()
            .map(|k| match k {
                Branch::Full => (prompt, action.clone()),
                Branch::Null => (null, action.zeros_like()),
                Branch::NoAction => (prompt, action.zeros_like()),
            })
            .collect();
        let d = prompt.tokens.dims()[2];
        let len = rows.iter().map(|(t, _)| t.tokens.dims()[1]).max().unwrap_or(0);
        let pad = |t: &Tensor<B, 3>| {
            let l = t.dims()[1];
            if l == len {
                t.clone()
            } else {
                Tensor::cat(vec![t.clone(), Tensor::zeros([1, len - l, d], &model.device)], 1)
            }
        };
        Branches {
            pooled: Tensor::cat(rows.iter().map(|(t, _)| t.pooled.clone()).collect(), 0),
            action: Tensor::cat(rows.iter().map(|(_, a)| a.clone()).collect(), 0),
            text: Tensor::cat(rows.iter().map(|(t, _)| pad(&t.tokens)).collect(), 0),
            text_lens: rows.iter().map(|(t, _)| t.tokens.dims()[1]).collect(),
        }
    }

    fn rows(&self) -> usize {
        self.text_lens.len()
    }

    /// The DiT input of one latent frame at level `t`, the same tokens in every row.
    ///
    /// # Shapes
    /// - `tokens` `[tokens_per_frame, token_dim]`
    fn input(&self, tokens: Tensor<B, 2>, t: f32, device: &B::Device) -> DitInput<B> {
        let [n, td] = tokens.dims();
        let rows = self.rows();
        DitInput {
            tokens: tokens.reshape([1, n, td]).repeat_dim(0, rows),
            noise: Tensor::from_floats(vec![t; rows].as_slice(), device),
            pooled_text: self.pooled.clone(),
            action: self.action.clone(),
            text: self.text.clone(),
        }
    }
}

/// Runs the text encoder on one text: `[1, L, text_dim]` tokens and `[1, text_dim]` pooled.
fn encode<B: Backend>(model: &StreamModel<B>, tokens: &crate::text::Tokens) -> PromptText<B> {
    let encoded = model.dit.model.text.forward(std::slice::from_ref(tokens), &model.device);
    let len = encoded.lens[0];
    let d = encoded.tokens.dims()[2];
    PromptText { tokens: encoded.tokens.narrow(1, 0, len).reshape([1, len, d]), pooled: encoded.pooled }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
