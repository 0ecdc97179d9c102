//! Training the VAE: random clips from the ground-truth world (any size and length, images
//! included, never cropped to squares), an L1 + L2 reconstruction loss with a small KL term
//! (optionally weighting the pixels of balls, boxes and the player above the landscape's),
//! AdamW with warm-up and cosine decay, gradient clipping, EMA weights, atomic checkpoints.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use worldsim_scenes::Clip;
use worldsim_scenes::random::{RandomSceneConfig, random_scene_shaped, random_shape};
use worldsim_scenes::rng::mix64;

use super::config::VaeConfig;
use super::model::{LatentDist, VideoVae};
use crate::train::checkpoint::RunState;
use crate::train::focus::object_focus;
use crate::train::metrics::MetricsLine;
use crate::train::run::{adamw, plot_run, progress_bar};
use crate::train::{Checkpoint, CheckpointError, Ema, LrSchedule, MetricsLog, OrderedProducer};
pub use crate::train::{Stop, TrainSummary};
pub use crate::video::VideoSample;

/// Everything that defines a VAE training run (saved in its checkpoints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VaeTrainConfig {
    /// The architecture.
    pub model: VaeConfig,
    /// Seed of data, initial weights and noise.
    pub seed: u64,
    /// Clips per optimiser step.
    pub batch: usize,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Gradient clipping by norm (per parameter tensor).
    pub grad_clip: f32,
    /// EMA decay per step.
    pub ema_decay: f64,
    /// Weight of the KL term.
    pub kl_weight: f64,
    /// Pixel areas of training clips (sides are multiples of 8, nine aspect ratios).
    pub areas: Vec<u32>,
    /// Longest training clip: `1 + 4·max_k` frames.
    pub max_k: u32,
    /// Share of training samples that are images.
    pub image_share: f32,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Steps between metric lines.
    pub log_every: u64,
    /// Data worker threads.
    pub workers: usize,
    /// A dataset folder (the `worldsim-scenes` clip format) to train on instead of random
    /// scenes: windows of `1 + 4k` frames, scaled down to about the largest training area and
    /// cropped to multiples of 8, keeping their aspect ratio.
    #[serde(default)]
    pub data: Option<PathBuf>,
    /// Every clip of a step has the same size and duration (still varying from step to step),
    /// so a step is one batched forward: what makes GPUs fast. Random scenes only.
    #[serde(default)]
    pub same_shape: bool,
    /// Start from the EMA weights of another run's checkpoint (fine-tuning, e.g. the shipped
    /// model on a user's own footage) instead of random weights.
    #[serde(default)]
    pub init_from: Option<PathBuf>,
    /// Train only the decoder: the encoder stays bit-identical to `init_from`'s, and with it the
    /// latent space (and latent statistics) that a DiT trained on that VAE expects, so a sharper
    /// decoder improves every model built on it without retraining them. Needs `init_from`.
    #[serde(default)]
    pub decoder_only: bool,
    /// Latent channels a decoder-only run keeps bit-identical: `init_from`'s (set when the run
    /// starts). A model with more latent channels than its source (`--latent-channels`) trains
    /// the new ones (the encoder's last conv for them) with the decoder; `None`: every channel.
    #[serde(default)]
    pub kept_latent_channels: Option<usize>,
    /// Extra weight of the reconstruction loss on pixels inside the box of a ball, box or the
    /// player (the ground truth of random scenes says where): a pixel there counts
    /// `1 + object_weight` times. 0 weighs every pixel alike (dataset clips always do).
    #[serde(default)]
    pub object_weight: f32,
}

impl VaeTrainConfig {
    /// The recipe of the shipped `tiny` VAE, for a run of `steps` steps.
    pub fn tiny(steps: u64) -> Self {
        VaeTrainConfig {
            model: VaeConfig::tiny(),
            seed: 1,
            batch: 4,
            schedule: LrSchedule { peak: 1e-3, warmup: 100.min(steps / 10 + 1), total: steps, floor: 0.05 },
            weight_decay: 1e-4,
            grad_clip: 1.0,
            ema_decay: 0.995,
            kl_weight: 1e-4,
            areas: vec![24 * 24, 32 * 32, 48 * 48],
            max_k: 2,
            image_share: 0.2,
            checkpoint_every: 100,
            log_every: 10,
            workers: 1,
            data: None,
            same_shape: false,
            init_from: None,
            decoder_only: false,
            kept_latent_channels: None,
            object_weight: 0.0,
        }
    }

    fn scenes(&self) -> RandomSceneConfig {
        RandomSceneConfig {
            areas: self.areas.clone(),
            max_k: self.max_k,
            image_share: self.image_share,
            ..RandomSceneConfig::default()
        }
    }
}

/// A training clip and, when the loss weights objects, where they are.
#[derive(Clone, Debug)]
pub struct VaeSample {
    /// The clip.
    pub clip: VideoSample,
    /// 1 for a pixel inside the box of a visible object, else 0, frame by frame
    /// (`[frames · height · width]`); empty when every pixel weighs alike.
    pub focus: Vec<f32>,
}

impl VaeSample {
    /// The object mask as a batch of one, or `None` when every pixel weighs alike.
    ///
    /// # Shapes
    /// - output `[1, 1, frames, height, width]`
    pub fn focus_tensor<B: Backend>(&self, device: &B::Device) -> Option<Tensor<B, 5>> {
        let c = &self.clip;
        (!self.focus.is_empty()).then(|| {
            Tensor::<B, 1>::from_floats(self.focus.as_slice(), device).reshape([1, 1, c.frames, c.height, c.width])
        })
    }
}

/// The `index`-th training clip of a run on random scenes (with its object mask when
/// `config.object_weight` is positive).
pub fn training_sample(config: &VaeTrainConfig, index: u64) -> VaeSample {
    let scenes = config.scenes();
    let batch = config.batch.max(1) as u64;
    let shape = config.same_shape.then(|| random_shape(config.seed, index - index % batch, &scenes));
    let scene = random_scene_shaped(config.seed, index, &scenes, shape);
    let rendered = Clip::render(&scene);
    let clip = VideoSample::from_frames(&rendered.frames);
    // A "token" of one pixel in a "latent frame" of one pixel frame: a per-pixel mask.
    let focus = if config.object_weight > 0.0 {
        object_focus(&rendered.truth, clip.frames, (clip.height, clip.width), 1, 1)
    } else {
        Vec::new()
    };
    VaeSample { clip, focus }
}

/// The `index`-th training clip of a run on a dataset's clips: a random window of `1 + 4k`
/// frames, box-filtered down by a whole factor to fit the largest training area, and cropped
/// (at a random offset) to sides that are multiples of 8.
pub fn dataset_sample(config: &VaeTrainConfig, clips: &[Vec<worldsim_scenes::Frame>], index: u64) -> VaeSample {
    let mut rng = worldsim_scenes::rng::Rng::new(mix64(config.seed ^ mix64(index + 1)));
    let frames = &clips[(rng.next_u64() % clips.len() as u64) as usize];
    let longest = ((frames.len() - 1) / 4).min(config.max_k as usize) as u32;
    let k = if rng.chance(config.image_share) { 0 } else { rng.int(0, longest) as usize };
    let start = rng.int(0, (frames.len() - 1 - 4 * k) as u32) as usize;
    let (w, h) = (frames[0].width as usize, frames[0].height as usize);
    let max_area = config.areas.iter().copied().max().unwrap_or(64 * 64) as usize;
    let factor = ((w * h) as f64 / max_area as f64).sqrt().ceil().max(1.0) as usize;
    let (sw, sh) = (w / factor, h / factor);
    let (cw, ch) = ((sw / 8 * 8).max(8), (sh / 8 * 8).max(8));
    let (ox, oy) = (rng.int(0, (sw - cw.min(sw)) as u32) as usize, rng.int(0, (sh - ch.min(sh)) as u32) as usize);
    let window: Vec<worldsim_scenes::Frame> = frames[start..=start + 4 * k]
        .iter()
        .map(|f| {
            let mut rgb = Vec::with_capacity(cw * ch * 3);
            for y in 0..ch {
                for x in 0..cw {
                    for c in 0..3 {
                        let mut acc = 0u32;
                        for dy in 0..factor {
                            for dx in 0..factor {
                                let (px, py) = ((ox + x) * factor + dx, (oy + y) * factor + dy);
                                acc += u32::from(f.rgb[(py.min(h - 1) * w + px.min(w - 1)) * 3 + c]);
                            }
                        }
                        rgb.push((acc / (factor * factor) as u32) as u8);
                    }
                }
            }
            worldsim_scenes::Frame { width: cw as u32, height: ch as u32, rgb }
        })
        .collect();
    VaeSample { clip: VideoSample::from_frames(&window), focus: Vec::new() }
}

/// Standard normal noise of `shape` from our own generator, a pure function of `seed` (the
/// backend's generator is global to the process, so it cannot make runs reproducible).
///
/// # Shapes
/// - output `shape`
pub fn normal_noise<B: Backend>(shape: [usize; 5], seed: u64, device: &B::Device) -> Tensor<B, 5> {
    let mut rng = worldsim_scenes::rng::Rng::new(seed);
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|_| {
            // Box–Muller.
            let (u1, u2) = (rng.unit().max(1e-7), rng.unit());
            (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
        })
        .collect();
    Tensor::<B, 1>::from_floats(values.as_slice(), device).reshape(shape)
}

/// Reconstruction and KL loss of one clip; `noise_seed` fixes the latent sample; `focus`, the
/// clips' object masks, weighs their pixels by `1 + config.object_weight` (`None`: all alike).
///
/// # Shapes
/// - input `[n, 3, t, h, w]`, `focus` `[n, 1, t, h, w]`; outputs `[1]` each (means over the
///   clips): total, reconstruction, KL
pub fn vae_loss<B: Backend>(
    vae: &VideoVae<B>,
    config: &VaeTrainConfig,
    x: Tensor<B, 5>,
    focus: Option<Tensor<B, 5>>,
    noise_seed: u64,
) -> (Tensor<B, 1>, Tensor<B, 1>, Tensor<B, 1>) {
    let dist = vae.encode(&config.model, x.clone()).expect("training clips have valid sizes");
    latent_loss(vae, config, x, focus, dist, noise_seed)
}

/// [`vae_loss`] with the encoder's trunk run outside the autodiff graph (`frozen` holds the same
/// weights without autodiff), so only the decoder and the encoder's last conv get gradients and
/// the trunk costs a plain forward pass. (The caller sets the kept latent channels of that conv
/// back after each step: see [`VideoVae::with_latent_kept_from`].)
///
/// # Shapes
/// - input `[n, 3, t, h, w]`, `focus` `[n, 1, t, h, w]`; outputs `[1]` each: total,
///   reconstruction, KL
pub fn decoder_loss<B: AutodiffBackend>(
    vae: &VideoVae<B>,
    frozen: &VideoVae<B::InnerBackend>,
    config: &VaeTrainConfig,
    x: Tensor<B, 5>,
    focus: Option<Tensor<B, 5>>,
    noise_seed: u64,
) -> (Tensor<B, 1>, Tensor<B, 1>, Tensor<B, 1>) {
    let features = frozen.encode_features(&config.model, x.clone().inner()).expect("training clips have valid sizes");
    let dist = vae.latent_of_features(Tensor::from_inner(features));
    latent_loss(vae, config, x, focus, dist, noise_seed)
}

/// The loss of `vae`'s decoder on a sample of `dist`, the latent of `x`: L1 + L2 per pixel,
/// averaged with the weights `1 + object_weight · focus` when `focus` is given.
///
/// # Shapes
/// - `x` `[n, 3, t, h, w]`, `focus` `[n, 1, t, h, w]`, `dist` `[n, latent_channels, t', h', w']`;
///   outputs `[1]` each
fn latent_loss<B: Backend>(
    vae: &VideoVae<B>,
    config: &VaeTrainConfig,
    x: Tensor<B, 5>,
    focus: Option<Tensor<B, 5>>,
    dist: LatentDist<B>,
    noise_seed: u64,
) -> (Tensor<B, 1>, Tensor<B, 1>, Tensor<B, 1>) {
    let eps = normal_noise::<B>(dist.mean.dims(), noise_seed, &x.device());
    let recon = vae.decode(&config.model, dist.sample_with(eps)).expect("latent from this model");
    let diff = recon - x;
    // [n, 3, t, h, w]
    let per_pixel = diff.clone().abs() + diff.powi_scalar(2);
    let rec = match focus {
        None => per_pixel.mean(),
        Some(focus) => {
            // [n, 3, t, h, w]: the mask broadcast over the colour channels.
            let weights = (focus * config.object_weight + 1.0).repeat_dim(1, per_pixel.dims()[1]);
            (per_pixel * weights.clone()).sum() / weights.sum()
        }
    };
    let kl = dist.kl();
    (rec.clone() + kl.clone() * config.kl_weight, rec, kl)
}

/// The starting weights of a fine-tune and their architecture: an exported VAE folder
/// (`vae.json` + weights, e.g. the shipped model) or another run's checkpoint (its EMA weights).
/// A source with a shallower decoder or fewer latent channels than `config.model` is grown (see
/// [`VideoVae::grown`]); any other difference of architecture is refused.
fn init_weights<B: Backend>(
    init: &Path,
    config: &VaeTrainConfig,
    device: &B::Device,
) -> Result<(VideoVae<B>, VaeConfig), CheckpointError> {
    let check = |from: &VaeConfig| {
        if config.model.grows_from(from) {
            Ok(())
        } else {
            Err(CheckpointError::Record {
                path: init.display().to_string(),
                message: "--init-from holds another architecture than --preset (only a deeper decoder or more latent \
                          channels can be grown from it)"
                    .into(),
            })
        }
    };
    let (model, from) = if init.join(super::weights::META).is_file() {
        let loaded = super::weights::load_vae::<B>(init, device)
            .map_err(|e| CheckpointError::Record { path: init.display().to_string(), message: e.to_string() })?;
        check(&loaded.meta.config)?;
        (loaded.model, loaded.meta.config)
    } else {
        let source = Checkpoint::of_run(init);
        let from: State = source.state()?;
        check(&from.config.model)?;
        (source.load_ema(from.config.model.init::<B>(device), device)?, from.config.model)
    };
    Ok((model.grown(&config.model, device), from))
}

type State = RunState<VaeTrainConfig>;

/// The clips of one step that share a `(frames, height, width)`, each `[1, 3, t, h, w]`, with
/// their object masks (`[1, 1, t, h, w]`, when the loss weighs objects).
type ShapeGroup<B> = ((usize, usize, usize), Vec<(Tensor<B, 5>, Option<Tensor<B, 5>>)>);

/// Every valid clip of a dataset folder; any problem stops the run with the dataset's report.
fn load_clips(folder: &Path) -> Result<Vec<Vec<worldsim_scenes::Frame>>, CheckpointError> {
    let err = |message: String| CheckpointError::Io { path: folder.display().to_string(), message };
    let dirs = worldsim_scenes::dataset::clip_dirs(folder).map_err(|e| err(e.to_string()))?;
    let clips = dirs
        .iter()
        .map(|d| worldsim_scenes::dataset::read_clip(d).map(|c| c.frames))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("invalid clip (run `worldsim dataset check`): {e}")))?;
    if clips.is_empty() {
        return Err(err("has no clips".into()));
    }
    Ok(clips)
}

/// Trains (or, with `resume`, continues) a VAE in run folder `dir`.
pub fn train_vae<B: AutodiffBackend>(
    dir: &Path,
    config: VaeTrainConfig,
    stop: Stop,
    resume: bool,
    device: &B::Device,
    show_progress: bool,
) -> Result<TrainSummary, CheckpointError> {
    let io = |e: std::io::Error| CheckpointError::Io { path: dir.display().to_string(), message: e.to_string() };
    if config.decoder_only && config.init_from.is_none() {
        return Err(CheckpointError::Io {
            path: dir.display().to_string(),
            message: "--decoder-only keeps an existing encoder: name its VAE with --init-from \
                      (e.g. assets/models/tiny)"
                .into(),
        });
    }
    config
        .model
        .validate()
        .map_err(|e| CheckpointError::Io { path: dir.display().to_string(), message: e.to_string() })?;
    std::fs::create_dir_all(dir).map_err(io)?;
    let ckpt = Checkpoint::of_run(dir);
    B::seed(device, config.seed);
    let mut model: VideoVae<B> = config.model.init(device);
    let mut optim = adamw::<B, _>(config.weight_decay, config.grad_clip);
    let mut ema = Ema::new(model.valid(), config.ema_decay);
    let (mut step, mut elapsed, config) = if resume && ckpt.exists() {
        let state: State;
        (model, ema, optim, state) = ckpt.resume(model, ema, optim, device)?;
        (state.step, state.elapsed_s, state.config)
    } else {
        let mut config = config;
        if let Some(init) = &config.init_from {
            let from;
            (model, from) = init_weights(init, &config, device)?;
            ema = Ema::new(model.valid(), config.ema_decay);
            if config.decoder_only {
                config.kept_latent_channels = Some(from.latent_channels);
            }
        }
        (0, 0.0, config)
    };
    let total = stop.total(config.schedule.total);
    let mut log = MetricsLog::open(dir, step).map_err(io)?;
    let data_config = config.clone();
    let first = step * config.batch as u64;
    let mut data = match &config.data {
        None => OrderedProducer::start(first, config.workers, move |i| training_sample(&data_config, i)),
        Some(folder) => {
            let clips = load_clips(folder)?;
            OrderedProducer::start(first, config.workers, move |i| dataset_sample(&data_config, &clips, i))
        }
    };

    // Decoder-only: the model outside the autodiff graph, taken once, for its encoder's trunk,
    // which never changes; and the model itself, whose kept latent channels every step restores.
    let frozen = config.decoder_only.then(|| model.valid());
    let kept = config.kept_latent_channels.unwrap_or(config.model.latent_channels);
    let kept_source = config.decoder_only.then(|| model.clone());
    let bar = progress_bar(total, step, show_progress);
    let started = Instant::now();
    let (mut window_loss, mut window_rec, mut window_kl, mut window_clips) = (0.0, 0.0, 0.0, 0usize);
    let mut window_start = Instant::now();
    let mut last_loss = f64::NAN;
    let save = |model: &VideoVae<B>, ema: &Ema<_>, optim: &_, step: u64, elapsed: f64| {
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
        // Clips of one shape go through the network together: [n, 3, t, h, w].
        let mut groups: Vec<ShapeGroup<B>> = Vec::new();
        for _ in 0..config.batch {
            let Some(sample) = data.next_item() else {
                return Err(CheckpointError::Io {
                    path: dir.display().to_string(),
                    message: "data workers stopped".into(),
                });
            };
            let shape = (sample.clip.frames, sample.clip.height, sample.clip.width);
            let x = (sample.clip.tensor::<B>(device), sample.focus_tensor::<B>(device));
            match groups.iter_mut().find(|(s, _)| *s == shape) {
                Some((_, clips)) => clips.push(x),
                None => groups.push((shape, vec![x])),
            }
        }
        let (mut losses, mut recs, mut kls) = (Vec::new(), Vec::new(), Vec::new());
        for (g, (_, clips)) in groups.into_iter().enumerate() {
            let weight = clips.len() as f64 / config.batch as f64;
            // The latent noise is a function of seed, step and group, so resuming replays it.
            let noise_seed = mix64(config.seed ^ mix64(step * config.batch as u64 + g as u64 + 1));
            let (xs, focus): (Vec<_>, Vec<_>) = clips.into_iter().unzip();
            let x = Tensor::cat(xs, 0);
            let focus = focus.into_iter().collect::<Option<Vec<_>>>().map(|f| Tensor::cat(f, 0));
            let (loss, rec, kl) = match &frozen {
                None => vae_loss(&model, &config, x, focus, noise_seed),
                Some(frozen) => decoder_loss(&model, frozen, &config, x, focus, noise_seed),
            };
            losses.push(loss * weight);
            recs.push(rec.detach() * weight);
            kls.push(kl.detach() * weight);
        }
        let loss = Tensor::cat(losses, 0).sum();
        // One read-back per step: [loss, mean recon, mean KL] (a GPU syncs once, not per clip).
        let read = Tensor::cat(vec![loss.clone().detach(), Tensor::cat(recs, 0).sum(), Tensor::cat(kls, 0).sum()], 0)
            .into_data()
            .to_vec::<f32>()
            .unwrap_or_default();
        let [loss_value, rec_mean, kl_mean] = [0, 1, 2].map(|i| f64::from(read.get(i).copied().unwrap_or(f32::NAN)));
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
        if let Some(source) = &kept_source {
            model = model.with_latent_kept_from(source, kept);
        }
        ema.update(&model.valid());
        step += 1;
        window_loss += loss_value;
        window_rec += rec_mean;
        window_kl += kl_mean;
        window_clips += config.batch;
        bar.set_position(step);
        if step % config.log_every == 0 || step == total {
            let n = (window_clips / config.batch).max(1) as f64;
            let secs = window_start.elapsed().as_secs_f64();
            last_loss = window_loss / n;
            let line = MetricsLine {
                step,
                loss: last_loss,
                recon: window_rec / n,
                kl: window_kl / n,
                lr,
                clips_per_s: window_clips as f64 / secs.max(1e-9),
                elapsed_s: elapsed + started.elapsed().as_secs_f64(),
            };
            log.append(&line).map_err(io)?;
            bar.set_message(format!("loss {:.4}  {:.2} clips/s  lr {:.1e}", line.loss, line.clips_per_s, lr));
            if !show_progress {
                eprintln!(
                    "step {step}/{total}  loss {:.4}  recon {:.4}  kl {:.3}  {:.2} clips/s",
                    line.loss, line.recon, line.kl, line.clips_per_s
                );
            }
            (window_loss, window_rec, window_kl, window_clips) = (0.0, 0.0, 0.0, 0);
            window_start = Instant::now();
        }
        if step % config.checkpoint_every == 0 {
            save(&model, &ema, &optim, step, elapsed + started.elapsed().as_secs_f64())?;
            plot_run(dir, "VAE training loss", "reconstruction");
        }
    }
    elapsed += started.elapsed().as_secs_f64();
    save(&model, &ema, &optim, step, elapsed)?;
    plot_run(dir, "VAE training loss", "reconstruction");
    bar.finish();
    Ok(TrainSummary { step, elapsed_s: elapsed, last_loss, dir: dir.to_path_buf() })
}
