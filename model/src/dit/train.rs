//! Training the DiT and its text encoder: random clips of the world (images and videos of
//! native sizes and durations, never cropped) are encoded by the frozen shipped VAE in
//! background threads; each step packs a batch (Patch n' Pack), draws noise levels (one per
//! sample, or one per latent frame for part of the batch), drops captions and actions for
//! classifier-free guidance, and regresses the rectified-flow velocity. Bidirectional and
//! frame-causal steps are mixed. Part of the clips may come in counterfactual pairs (the same
//! scene, the player's command changed at a latent-frame boundary), so a batch shows the DiT
//! what an action caption alone changes; with a motion weight, the action displacements are
//! also taught the player's measured move ([`super::motion`]). AdamW with warm-up + cosine, gradient clipping, EMA weights,
//! atomic resumable checkpoints, metrics and a loss plot: the machinery of the VAE issue.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use worldsim_scenes::Clip;
use worldsim_scenes::random::{RandomSceneConfig, random_scene};
use worldsim_scenes::rng::{Rng, mix64};
use worldsim_scenes::scene::{Action, Camera, Scene};

use super::config::DitConfig;
use super::denoiser::{Denoiser, NoisySample};
use super::layout::AttentionMode;
use super::motion::{motion_loss, player_motion};
use super::patch::patchify;
use super::weights::load_denoiser;
use crate::Cpu;
use crate::diffusion::flow::{NoiseLevels, normal};
use crate::error::ModelError;
use crate::prompting::roles::pixel_span;
use crate::text::{TextEncoderConfig, Tokenizer, Tokens};
use crate::train::checkpoint::RunState;
use crate::train::focus::object_focus;
use crate::train::metrics::MetricsLine;
use crate::train::run::{adamw, plot_run, progress_bar};
use crate::train::{Checkpoint, CheckpointError, Ema, LrSchedule, MetricsLog, OrderedProducer};
use crate::vae::weights::{LoadedVae, load_vae};
use crate::video::VideoSample;

/// Everything that defines a DiT training run (saved in its checkpoints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DitTrainConfig {
    /// The DiT.
    pub model: DitConfig,
    /// The text encoder.
    pub text: TextEncoderConfig,
    /// The tokenizer (its word list is part of the model).
    pub tokenizer: Tokenizer,
    /// The VAE folder whose latents the DiT learns.
    pub vae: PathBuf,
    /// Seed of data, weights and noise.
    pub seed: u64,
    /// Clips per step.
    pub batch: usize,
    /// Most tokens in one packed row.
    pub max_tokens: usize,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Gradient clipping by norm.
    pub grad_clip: f32,
    /// EMA decay per step.
    pub ema_decay: f64,
    /// Noise levels.
    pub noise: NoiseLevels,
    /// Chance that a caption (and, separately, an action caption) is dropped.
    pub cond_dropout: f32,
    /// Share of steps that use frame-causal attention (the streaming mode).
    pub causal_share: f32,
    /// Pixel areas of training clips.
    pub areas: Vec<u32>,
    /// Share of training scenes with a player (whose actions the model learns to follow).
    #[serde(default = "default_player_share")]
    pub player_share: f32,
    /// Longest clip: `1 + 4·max_k` frames.
    pub max_k: u32,
    /// Share of samples that are images.
    pub image_share: f32,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Steps between metric lines.
    pub log_every: u64,
    /// Data worker threads (each renders and VAE-encodes clips).
    pub workers: usize,
    /// Extra loss weight of the tokens that hold an object (`focus`): a token's squared error
    /// counts `1 + object_weight` times when a ball, box or the player is in it, once otherwise
    /// (0, the recipe's: every token alike; the shipped DiT's last fine-tune used 8;
    /// `--object-weight`).
    #[serde(default)]
    pub object_weight: f32,
    /// Share of clips with a player captioned without the player's motion
    /// ([`steered_caption`](worldsim_scenes::captions::steered_caption)), so the DiT learns the
    /// motion from the action captions alone, as a stream is prompted (0, the recipe's;
    /// `--steered-share`).
    #[serde(default)]
    pub steered_share: f32,
    /// Share of clip pairs made counterfactual: clip `2j + 1` is then clip `2j`'s scene with the
    /// player's command changed from a latent-frame boundary on ([`counterfactual`]), both
    /// captioned steered, so a batch holds two clips whose past is the same and whose future
    /// differs only as their action captions do (0, the recipe's; `--counterfactual-share`).
    #[serde(default)]
    pub counterfactual_share: f32,
    /// Share of scenes with a player emptied of everything else (balls, boxes, trees,
    /// pillars: [`alone`]), the world a stream or a game usually shows; the random scenes
    /// almost always hold objects, and a DiT that never saw a caption without them filled a
    /// player's world with clutter (0, the recipe's; `--alone-share`).
    #[serde(default)]
    pub alone_share: f32,
    /// Share of scenes with a player whose camera is held still where it started ([`still`]):
    /// half the random scenes pan, follow or move their camera, where "the same place one
    /// latent frame later" is wrong, while a stream's world usually keeps its view (0, the
    /// recipe's; `--still-share`).
    #[serde(default)]
    pub still_share: f32,
    /// Weight of the motion loss ([`motion_loss`]) that teaches the first head of every block
    /// to displace its frame's positions by the player's measured move, from the action caption
    /// (0, the recipe's: displacements, if any, learn from the flow loss alone;
    /// `--motion-weight`; needs [`DitConfig::action_shift`]).
    #[serde(default)]
    pub motion_weight: f32,
    /// Weight of the action-locality loss ([`action_locality_loss`]): an action caption's
    /// effect on the prediction (with the caption against without it) is penalised away from
    /// the objects and a ring of one token around them, so a command moves the player and
    /// leaves the sky alone (0, the recipe's; `--action-locality`).
    #[serde(default)]
    pub action_locality: f32,
    /// Fine-tune: start from the weights of this model folder (`dit.json` + `dit.mpk`, e.g.
    /// the shipped one) instead of a fresh initialisation.
    #[serde(default)]
    pub init_from: Option<PathBuf>,
}

impl DitTrainConfig {
    /// The recipe of the shipped `tiny` DiT for a run of `steps` steps on the VAE in `vae`.
    pub fn tiny(steps: u64, vae: PathBuf) -> Self {
        let tokenizer = Tokenizer::world(256);
        DitTrainConfig {
            model: DitConfig::tiny(),
            text: TextEncoderConfig::new(tokenizer.vocab_size(), 128).with_max_len(tokenizer.max_len()),
            tokenizer,
            vae,
            seed: 1,
            batch: 8,
            max_tokens: 256,
            schedule: LrSchedule { peak: 5e-4, warmup: 200.min(steps / 10 + 1), total: steps, floor: 0.05 },
            weight_decay: 0.01,
            grad_clip: 1.0,
            ema_decay: 0.999,
            noise: NoiseLevels::default(),
            cond_dropout: 0.1,
            causal_share: 0.25,
            areas: vec![32 * 32, 48 * 48, 64 * 64],
            player_share: default_player_share(),
            max_k: 2,
            image_share: 0.3,
            checkpoint_every: 100,
            log_every: 10,
            workers: 2,
            object_weight: 0.0,
            steered_share: 0.0,
            counterfactual_share: 0.0,
            alone_share: 0.0,
            still_share: 0.0,
            motion_weight: 0.0,
            action_locality: 0.0,
            init_from: None,
        }
    }

    /// The streaming fine-tune (`train dit --recipe stream`): every step frame-causal, a known
    /// past (a prefix of latent frames at a small noise level, as a stream's context) in most
    /// clips, longer clips, a player in most scenes, from the shipped weights at a lower rate.
    pub fn stream(steps: u64, vae: PathBuf) -> Self {
        let mut c = DitTrainConfig::tiny(steps, vae);
        c.causal_share = 1.0;
        c.noise.per_frame_share = 0.5;
        c.noise.given_share = 0.75;
        c.noise.given_prefix_only = true;
        c.noise.given_level = 0.1;
        c.max_k = 4;
        c.max_tokens = 320;
        c.image_share = 0.05;
        c.player_share = 0.9;
        c.schedule = LrSchedule { peak: 2e-4, warmup: 100.min(steps / 10 + 1), total: steps, floor: 0.1 };
        c.seed = 2;
        c
    }

    fn scenes(&self) -> RandomSceneConfig {
        RandomSceneConfig {
            areas: self.areas.clone(),
            player_share: self.player_share,
            max_k: self.max_k,
            image_share: self.image_share,
            ..RandomSceneConfig::default()
        }
    }
}

fn default_player_share() -> f32 {
    RandomSceneConfig::default().player_share
}

/// A training clip in latent space.
#[derive(Clone, Debug)]
pub struct LatentSample {
    /// `[frames · gh · gw · token_dim]` normalised latent tokens.
    pub tokens: Vec<f32>,
    /// Latent frames.
    pub frames: usize,
    /// Patches along height and width.
    pub grid: (usize, usize),
    /// The descriptive caption.
    pub caption: String,
    /// The action caption at the start of each latent frame.
    pub actions: Vec<String>,
    /// `[frames · gh · gw]`: 1 where a token holds an object ([`object_focus`]), else 0; empty
    /// for none.
    pub focus: Vec<f32>,
    /// The player's on-screen move into each latent frame in patches ([`player_motion`]).
    pub motion: Vec<Option<[f32; 2]>>,
}

/// Salt of the draw that picks a clip's steered caption (independent of the scene's own draws).
const STEERED_SALT: u64 = 0x5EED_CA97;
/// Salt of the draws that make a pair of clips counterfactual and pick its change.
const PAIR_SALT: u64 = 0xC0FA_C7A1;
/// Salt of the draw that empties a scene of everything but its player.
const ALONE_SALT: u64 = 0xA10E_5CE7;
/// Salt of the draw that holds a scene's camera still.
const STILL_SALT: u64 = 0x57_11CA_3E7A;

/// The scene of training clip `index`, and whether it is one of a counterfactual pair: the
/// sampler's scene, or, when the pair `index & !1` is drawn counterfactual and its scene has a
/// player and more than one latent frame, that scene for the even member and its
/// [`counterfactual`] for the odd one. A scene with a player is then left [`alone`] with a
/// chance of `alone_share` and its camera held [`still`] with a chance of `still_share`, each
/// drawn once per pair so both members of a pair stay one world.
pub fn training_scene(config: &DitTrainConfig, index: u64, temporal: u32) -> (Scene, bool) {
    let even = index & !1;
    let (mut scene, paired) = paired_scene(config, index, temporal);
    let draw = if paired { even } else { index };
    let drawn =
        |share: f32, salt: u64| share > 0.0 && Rng::new(mix64(config.seed ^ draw.wrapping_mul(salt))).chance(share);
    if scene.player.is_some() {
        if drawn(config.alone_share, ALONE_SALT) {
            scene = alone(scene);
        }
        if drawn(config.still_share, STILL_SALT) {
            scene = still(scene);
        }
    }
    (scene, paired)
}

/// The sampler's scene of clip `index`, or its member of a counterfactual pair.
fn paired_scene(config: &DitTrainConfig, index: u64, temporal: u32) -> (Scene, bool) {
    let even = index & !1;
    let mut rng = Rng::new(mix64(config.seed ^ even.wrapping_mul(PAIR_SALT)));
    if config.counterfactual_share > 0.0 && rng.chance(config.counterfactual_share) {
        let scene = random_scene(config.seed, even, &config.scenes());
        let latent_frames = 1 + scene.frames.saturating_sub(1) / temporal.max(1);
        if scene.player.is_some() && latent_frames > 1 {
            let change = rng.int(1, latent_frames - 1);
            let scene = if index == even { scene } else { counterfactual(scene, change, temporal, &mut rng) };
            return (scene, true);
        }
    }
    (random_scene(config.seed, index, &config.scenes()), false)
}

/// `scene` with its camera fixed where it starts (a following camera: on the player's start).
pub fn still(mut scene: Scene) -> Scene {
    let x = match &scene.camera {
        Camera::Fixed { x } | Camera::Pan { x, .. } => *x,
        Camera::Path { keys } => keys.first().map_or(0.0, |k| k.1),
        Camera::Follow => scene.player.as_ref().map_or(0.0, |p| p.x),
    };
    scene.camera = Camera::Fixed { x };
    scene
}

/// `scene` with nothing in it but its landscape and its player: no balls, boxes or occluders
/// (the caption then names the player alone).
pub fn alone(mut scene: Scene) -> Scene {
    scene.objects.clear();
    scene.occluders.clear();
    scene
}

/// `scene` with the player's command changed from the command time whose effect first shows in
/// latent frame `change` (its first pixel frame) on: a walk turns the other way, anything else
/// becomes a walk either way; the new command holds to the end. Every pixel frame of the latent
/// frames before `change` stays the same, so the causal VAE encodes them to the same latents.
pub fn counterfactual(mut scene: Scene, change: u32, temporal: u32, rng: &mut Rng) -> Scene {
    // A command at frame f shows from frame f + 1: latent frame `change` starts at pixel frame
    // (change − 1)·temporal + 1.
    let at = ((change.max(1) - 1) * temporal) as f32 / scene.fps.max(1) as f32;
    if let Some(player) = scene.player.as_mut() {
        let new = match player.action_at(at) {
            Action::Left => Action::Right,
            Action::Right => Action::Left,
            _ => rng.pick(&[Action::Left, Action::Right]),
        };
        player.actions.retain(|(t, _)| *t < at - 1e-4);
        player.actions.push((at, new));
    }
    scene
}

/// The `index`-th training clip: rendered, encoded (latent mean), normalised and patchified.
pub fn latent_sample(config: &DitTrainConfig, vae: &LoadedVae<Cpu>, index: u64) -> LatentSample {
    let ft = vae.meta.config.temporal_factor();
    let (scene, paired) = training_scene(config, index, ft as u32);
    let steered = paired
        || scene.player.is_some()
            && config.steered_share > 0.0
            && Rng::new(mix64(config.seed ^ index.wrapping_mul(STEERED_SALT))).chance(config.steered_share);
    let caption = if steered { CaptionKind::Steered } else { CaptionKind::Described };
    scene_sample(&scene, vae, config.model.patch, config.object_weight > 0.0 || config.action_locality > 0.0, caption)
        .expect("training clips have valid sizes")
}

/// Which caption a clip in latent space carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptionKind {
    /// The captioner's description, the player's motion included.
    Described,
    /// The player named but its motion left to the action captions (a stream's caption).
    Steered,
}

/// `scene` rendered, encoded (latent mean), normalised and patchified into patches of `patch`
/// latent cells, with its action caption at the start of each latent frame, its `caption` and,
/// with `focus`, its object tokens.
pub fn scene_sample(
    scene: &Scene,
    vae: &LoadedVae<Cpu>,
    patch: usize,
    focus: bool,
    caption: CaptionKind,
) -> Result<LatentSample, ModelError> {
    let ft = vae.meta.config.temporal_factor();
    let clip = Clip::render(scene);
    let device = Default::default();
    let x = VideoSample::from_frames(&clip.frames).tensor::<Cpu>(&device);
    let z = vae.model.encode(&vae.meta.config, x)?.mean;
    let z = vae.meta.latent_stats.normalize(z); // [1, C, t, h, w]
    let [_, _, t, h, w] = z.dims();
    let tokens = patchify(z, patch).into_data().to_vec::<f32>().unwrap_or_default();
    let actions = (0..t).map(|f| clip.captions.actions[pixel_span(f, ft).start].clone()).collect();
    let grid = (h / patch, w / patch);
    let focus = if focus {
        object_focus(&clip.truth, t, grid, patch * vae.meta.config.spatial_factor(), ft)
    } else {
        Vec::new()
    };
    let motion = player_motion(&clip.truth, t, ft, patch * vae.meta.config.spatial_factor());
    let caption = match caption {
        CaptionKind::Steered => worldsim_scenes::captions::steered_caption(scene, &clip.truth),
        CaptionKind::Described => clip.captions.caption,
    };
    Ok(LatentSample { tokens, frames: t, grid, caption, actions, focus, motion })
}

/// Weighted mean squared error of the velocity over every denoised token of a batch: frames
/// given as conditions carry no loss, tokens holding an object weigh `1 + object_weight`.
///
/// # Shapes
/// - output `[1]`
#[allow(clippy::too_many_arguments)]
pub fn flow_loss<B: Backend>(
    denoiser: &Denoiser<B>,
    config: &DitTrainConfig,
    batch: &[LatentSample],
    mode: AttentionMode,
    rng: &mut Rng,
    device: &B::Device,
) -> Tensor<B, 1> {
    let td = config.model.token_dim();
    let mut samples = Vec::with_capacity(batch.len());
    let mut targets = Vec::with_capacity(batch.len());
    let mut weights: Vec<f32> = Vec::new();
    // Per sample, 1 on denoised tokens away from every object (the action-locality loss's; only
    // when it is on).
    let mut away: Vec<Vec<f32>> = Vec::with_capacity(batch.len());
    let tokenize = |text: &str| config.tokenizer.encode(text).unwrap_or_else(|_| config.tokenizer.null());
    for s in batch {
        let n = s.tokens.len() / td;
        let per_frame = n / s.frames;
        let mut levels = config.noise.draw_frames(rng, s.frames, n);
        let given = config.noise.draw_given(rng, s.frames);
        for (level, given) in levels.iter_mut().zip(&given) {
            if *given {
                *level = if config.noise.given_level > 0.0 { rng.range(0.0, config.noise.given_level) } else { 0.0 };
            }
        }
        let focus = |i: usize| s.focus.get(i).copied().unwrap_or(0.0);
        weights.extend((0..n).map(|i| if given[i / per_frame] { 0.0 } else { 1.0 + config.object_weight * focus(i) }));
        if config.action_locality > 0.0 {
            let near = near_objects(&s.focus, s.frames, s.grid);
            away.push((0..n).map(|i| if given[i / per_frame] || near[i] { 0.0 } else { 1.0 }).collect());
        }
        let eps: Vec<f32> = (0..s.tokens.len()).map(|_| normal(rng)).collect();
        let mut noisy = Vec::with_capacity(s.tokens.len());
        let mut target = Vec::with_capacity(s.tokens.len());
        for (i, (x0, e)) in s.tokens.iter().zip(&eps).enumerate() {
            let t = levels[i / td / per_frame];
            noisy.push((1.0 - t) * x0 + t * e);
            target.push(e - x0);
        }
        let caption = if rng.chance(config.cond_dropout) { config.tokenizer.null() } else { tokenize(&s.caption) };
        let drop_actions = rng.chance(config.cond_dropout);
        let actions: Vec<Option<Tokens>> = s.actions.iter().map(|a| (!drop_actions).then(|| tokenize(a))).collect();
        samples.push(NoisySample {
            frames: s.frames,
            grid: s.grid,
            tokens: Tensor::<B, 1>::from_floats(noisy.as_slice(), device).reshape([n, td]),
            noise: levels,
            caption,
            actions,
        });
        targets.push(Tensor::<B, 1>::from_floats(target.as_slice(), device).reshape([n, td]));
    }
    let predicted = denoiser.predict(&samples, mode, config.max_tokens, device);
    let locality = (config.action_locality > 0.0)
        .then(|| action_locality_loss(denoiser, config, &samples, &predicted, &away, mode, device))
        .flatten();
    let diff = Tensor::cat(predicted, 0) - Tensor::cat(targets, 0); // [tokens, token_dim]
    let denoised = weights.iter().sum::<f32>().max(1.0) * td as f32;
    let weights = Tensor::<B, 1>::from_floats(weights.as_slice(), device).unsqueeze_dim::<2>(1); // [tokens, 1]
    let mut flow = (diff.powi_scalar(2) * weights).sum() / denoised;
    if let Some(locality) = locality {
        flow = flow + locality * config.action_locality;
    }
    if config.motion_weight <= 0.0 {
        return flow;
    }
    match motion_loss(denoiser, &config.tokenizer, batch, config.model.heads, device) {
        Some(motion) => flow + motion * config.motion_weight,
        None => flow,
    }
}

/// Tokens on or next to an object (a ring of one token, per latent frame), from a sample's
/// object focus (`[frames · gh · gw]`, empty for none).
fn near_objects(focus: &[f32], frames: usize, (gh, gw): (usize, usize)) -> Vec<bool> {
    let mut near = vec![false; frames * gh * gw];
    for (i, _) in focus.iter().enumerate().filter(|(_, f)| **f > 0.0) {
        let (f, r, c) = (i / (gh * gw), i / gw % gh, i % gw);
        for rr in r.saturating_sub(1)..(r + 2).min(gh) {
            for cc in c.saturating_sub(1)..(c + 2).min(gw) {
                near[f * gh * gw + rr * gw + cc] = true;
            }
        }
    }
    near
}

/// The mean squared effect of the action captions on the prediction away from every object:
/// each sample that kept an action is predicted again without its actions, and the difference
/// is weighed by `away` (1 on denoised tokens off and not next to an object). `None` when no
/// sample kept an action or no token is away from the objects.
///
/// # Shapes
/// - `predicted`: per sample `[tokens, token_dim]`
/// - output `[1]`
fn action_locality_loss<B: Backend>(
    denoiser: &Denoiser<B>,
    config: &DitTrainConfig,
    samples: &[NoisySample<B>],
    predicted: &[Tensor<B, 2>],
    away: &[Vec<f32>],
    mode: AttentionMode,
    device: &B::Device,
) -> Option<Tensor<B, 1>> {
    let acted: Vec<usize> = (0..samples.len()).filter(|&i| samples[i].actions.iter().any(Option::is_some)).collect();
    let weights: Vec<f32> = acted.iter().flat_map(|&i| away[i].iter().copied()).collect();
    let total = weights.iter().sum::<f32>();
    if acted.is_empty() || total == 0.0 {
        return None;
    }
    let unacted: Vec<NoisySample<B>> =
        acted.iter().map(|&i| NoisySample { actions: vec![None; samples[i].frames], ..samples[i].clone() }).collect();
    let without = denoiser.predict(&unacted, mode, config.max_tokens, device);
    let with = Tensor::cat(acted.iter().map(|&i| predicted[i].clone()).collect(), 0); // [tokens, token_dim]
    let effect = with - Tensor::cat(without, 0);
    let weights = Tensor::<B, 1>::from_floats(weights.as_slice(), device).unsqueeze_dim::<2>(1); // [tokens, 1]
    Some((effect.powi_scalar(2) * weights).sum() / (total * config.model.token_dim() as f32))
}

pub use crate::train::{Stop, TrainSummary};

type State = RunState<DitTrainConfig>;

/// Builds a fresh denoiser for `config`.
pub fn init_denoiser<B: Backend>(config: &DitTrainConfig, device: &B::Device) -> Denoiser<B> {
    Denoiser { dit: config.model.init(device), text: config.text.init(device) }
}

/// Trains (or, with `resume`, continues) a DiT in run folder `dir`.
pub fn train_dit<B: AutodiffBackend>(
    dir: &Path,
    config: DitTrainConfig,
    stop: Stop,
    resume: bool,
    device: &B::Device,
    show_progress: bool,
) -> Result<TrainSummary, CheckpointError> {
    let io = |e: std::io::Error| CheckpointError::Io { path: dir.display().to_string(), message: e.to_string() };
    std::fs::create_dir_all(dir).map_err(io)?;
    let ckpt = Checkpoint::of_run(dir);
    B::seed(device, config.seed);
    let mut model: Denoiser<B> = init_denoiser(&config, device);
    let mut optim = adamw::<B, _>(config.weight_decay, config.grad_clip);
    let mut ema = Ema::new(model.valid(), config.ema_decay);
    let (mut step, mut elapsed, config) = if resume && ckpt.exists() {
        let state: State;
        (model, ema, optim, state) = ckpt.resume(model, ema, optim, device)?;
        (state.step, state.elapsed_s, state.config)
    } else {
        if let Some(init) = &config.init_from {
            let record_err = |message: String| CheckpointError::Record { path: init.display().to_string(), message };
            let loaded = load_denoiser::<B>(init, device).map_err(|e| record_err(e.to_string()))?;
            if !config.model.grows_from(&loaded.meta.model)
                || loaded.meta.text != config.text
                || loaded.meta.tokenizer != config.tokenizer
            {
                return Err(record_err(
                    "--init-from holds another architecture, text encoder or vocabulary than --preset (only more \
                     latent channels can be grown from it)"
                        .into(),
                ));
            }
            model = loaded.model.grown(&config.model, device);
            ema = Ema::new(model.valid(), config.ema_decay);
        }
        (0, 0.0, config)
    };
    config
        .model
        .validate()
        .map_err(|e| CheckpointError::Io { path: dir.display().to_string(), message: e.to_string() })?;
    if config.motion_weight > 0.0 && !config.model.displaces() {
        return Err(CheckpointError::Io {
            path: dir.display().to_string(),
            message: "a motion weight needs a DiT with action displacements (add --action-shift)".into(),
        });
    }
    let vae = Arc::new(
        load_vae::<Cpu>(&config.vae, &Default::default())
            .map_err(|e| CheckpointError::Io { path: config.vae.display().to_string(), message: e.to_string() })?,
    );
    if vae.meta.config.latent_channels != config.model.latent_channels {
        return Err(CheckpointError::Io {
            path: config.vae.display().to_string(),
            message: format!(
                "the VAE has {} latent channels but the DiT preset expects {}",
                vae.meta.config.latent_channels, config.model.latent_channels
            ),
        });
    }
    let total = stop.total(config.schedule.total);
    let mut log = MetricsLog::open(dir, step).map_err(io)?;
    let data_config = config.clone();
    let mut data = OrderedProducer::start(step * config.batch as u64, config.workers, move |i| {
        latent_sample(&data_config, &vae, i)
    });

    let bar = progress_bar(total, step, show_progress);
    let started = Instant::now();
    let (mut window_loss, mut window_clips) = (0.0, 0usize);
    let mut smoothed = f64::NAN;
    let mut window_start = Instant::now();
    let mut last_loss = f64::NAN;
    let save = |model: &Denoiser<B>, ema: &Ema<_>, optim: &_, step: u64, elapsed: f64| {
        ckpt.save(
            model,
            &ema.module,
            optim,
            &State { step, seed: config.seed, elapsed_s: elapsed, config: config.clone() },
        )
    };
    while step < total {
        if let Stop::Minutes(m) = stop
            && started.elapsed().as_secs_f64() >= m * 60.0
        {
            break;
        }
        let lr = config.schedule.at(step);
        let mut batch = Vec::with_capacity(config.batch);
        for _ in 0..config.batch {
            let Some(sample) = data.next_item() else {
                return Err(CheckpointError::Io {
                    path: dir.display().to_string(),
                    message: "data workers stopped".into(),
                });
            };
            batch.push(sample);
        }
        // Noise, dropout and the attention mode are functions of seed and step: resuming replays them.
        let mut rng = Rng::new(mix64(config.seed ^ mix64(step + 1) ^ 0xd17));
        let mode =
            if rng.chance(config.causal_share) { AttentionMode::FrameCausal } else { AttentionMode::Bidirectional };
        let loss = flow_loss(&model, &config, &batch, mode, &mut rng, device);
        let loss_value = f64::from(loss.clone().into_scalar().elem::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
        ema.update(&model.valid());
        step += 1;
        window_loss += loss_value;
        window_clips += config.batch;
        bar.set_position(step);
        if step % config.log_every == 0 || step == total {
            let n = (window_clips / config.batch).max(1) as f64;
            let secs = window_start.elapsed().as_secs_f64();
            last_loss = window_loss / n;
            smoothed = if smoothed.is_finite() { 0.9 * smoothed + 0.1 * last_loss } else { last_loss };
            let line = MetricsLine {
                step,
                loss: last_loss,
                recon: smoothed,
                kl: 0.0,
                lr,
                clips_per_s: window_clips as f64 / secs.max(1e-9),
                elapsed_s: elapsed + started.elapsed().as_secs_f64(),
            };
            log.append(&line).map_err(io)?;
            bar.set_message(format!("loss {:.4}  {:.2} clips/s  lr {:.1e}", line.loss, line.clips_per_s, lr));
            if !show_progress {
                eprintln!(
                    "step {step}/{total}  loss {:.4}  smoothed {:.4}  {:.2} clips/s",
                    line.loss, smoothed, line.clips_per_s
                );
            }
            (window_loss, window_clips) = (0.0, 0);
            window_start = Instant::now();
        }
        if step % config.checkpoint_every == 0 {
            save(&model, &ema, &optim, step, elapsed + started.elapsed().as_secs_f64())?;
            plot_run(dir, "DiT training loss", "smoothed");
        }
    }
    elapsed += started.elapsed().as_secs_f64();
    save(&model, &ema, &optim, step, elapsed)?;
    plot_run(dir, "DiT training loss", "smoothed");
    bar.finish();
    Ok(TrainSummary { step, elapsed_s: elapsed, last_loss, dir: dir.to_path_buf() })
}
