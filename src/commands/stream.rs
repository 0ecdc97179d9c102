//! `worldsim stream`: a world-simulator rollout from the command line — the stream session the
//! Bevy plugin runs, driven by an action script (or a scene file's player commands), written to
//! a GIF with the time each step took.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::prelude::Backend;
use worldsim_model::diffusion::SamplerKind;
use worldsim_model::prompting::fit::fit_frame;
use worldsim_model::stream::{
    GuidanceFocus, STREAM_GUIDANCE, StreamConfig, StreamControls, StreamModel, StreamSession, StreamSpec, StreamStep,
};
use worldsim_scenes::Frame;
use worldsim_scenes::captions::action_caption;
use worldsim_scenes::media::write_video;
use worldsim_scenes::scene::{Action, Scene};

use super::device::DeviceKind;
use super::prompting::read_input;
use crate::with_backend;
use worldsim_model::weights::shipped_model_dir;

/// Arguments of `worldsim stream`.
#[derive(clap::Args)]
pub struct StreamArgs {
    /// What to show (default: the scene's short prompt, or a player on grass).
    #[arg(long)]
    prompt: Option<String>,
    /// Player commands as `action:seconds,…` (left, right, jump, stand, paint), e.g.
    /// `right:2,jump:1,left:2`; the last one holds to the end.
    #[arg(long)]
    actions: Option<String>,
    /// Take prompt, size, seed, fps and actions from a scene file instead (the stream starts
    /// from the scene's first frame unless --generate-first).
    #[arg(long)]
    scene: Option<PathBuf>,
    /// Start from this picture (PNG, GIF, scene file: its first frame; fitted to the size)
    /// instead of generating the first frame.
    #[arg(long)]
    image: Option<PathBuf>,
    /// With --scene: generate the first frame from the prompt instead of starting from the
    /// scene's picture.
    #[arg(long)]
    generate_first: bool,
    /// Video frames to make.
    #[arg(long, default_value_t = 49)]
    frames: usize,
    /// Frame size WIDTHxHEIGHT (multiples of 8).
    #[arg(long, value_parser = super::parse_size)]
    size: Option<(u32, u32)>,
    /// Frames per second of the video (sets when each action starts).
    #[arg(long, default_value_t = 12)]
    fps: u32,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sampler steps per latent frame (each latent frame is 4 video frames).
    #[arg(long, default_value_t = 6)]
    steps: usize,
    /// Classifier-free guidance scale (1: none, half the network calls).
    #[arg(long, default_value_t = STREAM_GUIDANCE)]
    guidance: f32,
    /// Guidance scale of the action caption on its own (default: none, the action guided
    /// with --guidance like the prompt; a value adds a third branch, the prompt without action).
    #[arg(long)]
    action_guidance: Option<f32>,
    /// ODE solver: euler or heun.
    #[arg(long, default_value = "euler")]
    sampler: SamplerKind,
    #[command(flatten)]
    keep: StreamConfigArgs,
    /// Output: .gif, .png, folder/, .npy.
    #[arg(long)]
    out: String,
    /// The model folder (default: the shipped tiny model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Where to run: cpu, or wgpu / cuda when compiled with that feature.
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
}

/// How a stream keeps its past: the flags `stream` and `eval stream` share.
#[derive(clap::Args)]
pub struct StreamConfigArgs {
    /// Latent frames of context kept in the cache.
    #[arg(long, default_value_t = StreamConfig::default().window)]
    window: usize,
    /// Noise level of the context frames (against drift).
    #[arg(long, default_value_t = StreamConfig::default().context_noise)]
    context_noise: f32,
    /// Sampler steps of a generated first frame (at least --steps).
    #[arg(long, default_value_t = StreamConfig::default().first_frame_steps)]
    first_frame_steps: usize,
    /// Expand the prompt to the caption that describes the player's motion (the expander's
    /// made-up one, held all stream long) instead of the steered caption that leaves it to the
    /// actions.
    #[arg(long)]
    described_caption: bool,
    /// Start every latent frame after the first from the frame before it noised to this level
    /// (0 < level ≤ 1), sampling only the steps below it (default: from pure noise).
    #[arg(long)]
    warm_start: Option<f32>,
    /// Guide at full scale only where the last frame's guidance push was largest:
    /// `OUTSIDE,SHARE,RING` (the scale elsewhere, the share of tokens in focus, rings of
    /// neighbours added; default 1,0.02,1), or `off` to guide every token alike.
    #[arg(long, value_name = "OUTSIDE,SHARE,RING|off", value_parser = parse_focus)]
    guidance_focus: Option<FocusChoice>,
}

/// `--guidance-focus`: a focus, or none (`off`).
#[derive(Clone, Copy, Debug)]
pub struct FocusChoice(Option<GuidanceFocus>);

/// Parses `--guidance-focus OUTSIDE,SHARE,RING` or `off`.
fn parse_focus(text: &str) -> Result<FocusChoice, String> {
    if text.trim() == "off" {
        return Ok(FocusChoice(None));
    }
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [outside, share, ring] = parts.as_slice() else {
        return Err(format!("`{text}` is not OUTSIDE,SHARE,RING or off (try 1,0.02,1)"));
    };
    let focus = GuidanceFocus {
        outside: outside.parse().map_err(|_| format!("OUTSIDE `{outside}` is not a number"))?,
        share: share.parse().map_err(|_| format!("SHARE `{share}` is not a number"))?,
        ring: ring.parse().map_err(|_| format!("RING `{ring}` is not a whole number"))?,
    };
    focus.check().map_err(|e| e.to_string())?;
    Ok(FocusChoice(Some(focus)))
}

impl StreamConfigArgs {
    /// The session's configuration these flags ask for.
    pub fn config(&self) -> StreamConfig {
        StreamConfig {
            window: self.window,
            context_noise: self.context_noise,
            first_frame_steps: self.first_frame_steps,
            steered_caption: !self.described_caption,
            warm_start: self.warm_start,
            guidance_focus: self.guidance_focus.map_or(StreamConfig::default().guidance_focus, |c| c.0),
            ..StreamConfig::default()
        }
    }
}

/// A timeline of player commands: `(start seconds, action)`.
pub type ActionScript = Vec<(f32, Action)>;

/// Parses `right:2,jump:1` into a timeline.
pub fn parse_actions(text: &str) -> Result<ActionScript> {
    let mut t = 0.0;
    let mut script = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, secs) = part.split_once(':').unwrap_or((part, "1"));
        let action = Action::ALL
            .iter()
            .copied()
            .find(|a| a.name() == name.trim())
            .with_context(|| format!("--actions: `{name}` is not an action (left, right, jump, stand, paint)"))?;
        let secs: f32 = secs.trim().parse().with_context(|| format!("--actions: `{secs}` is not seconds"))?;
        if !secs.is_finite() || secs <= 0.0 {
            bail!("--actions: `{part}` must last a finite number of seconds above 0");
        }
        script.push((t, action));
        t += secs;
    }
    Ok(script)
}

/// The caption of the command in force at `t` seconds.
pub fn action_at(script: &ActionScript, t: f32) -> Option<String> {
    script.iter().rev().find(|(start, _)| *start <= t + 1e-6).map(|(_, a)| action_caption(*a).to_string())
}

/// A scripted rollout: the prompt, the action script and how to sample.
pub struct Rollout<'a> {
    /// What to show.
    pub prompt: &'a str,
    /// Player commands in time.
    pub script: &'a ActionScript,
    /// Frames per second of the video (when each action starts).
    pub fps: u32,
    /// Video frames to make.
    pub frames: usize,
    /// Sampler steps per latent frame.
    pub steps: usize,
    /// Guidance scale.
    pub guidance: f32,
    /// Guidance scale of the action on its own (`None`: guided like the prompt).
    pub action_guidance: Option<f32>,
    /// ODE solver.
    pub sampler: SamplerKind,
    /// A picture to start from instead of generating the first frame.
    pub start: Option<&'a Frame>,
}

/// Streams `rollout.frames` video frames: each step under the action in force at its first
/// frame, the first from `rollout.start` when given; `on_step` sees every step and its controls.
pub fn roll_out<B: Backend>(
    model: &StreamModel<B>,
    session: &mut StreamSession<B>,
    rollout: &Rollout,
    mut on_step: impl FnMut(&StreamStep, &StreamControls),
) -> Result<Vec<Frame>> {
    let mut out: Vec<Frame> = Vec::with_capacity(rollout.frames + 3);
    while out.len() < rollout.frames {
        let controls = StreamControls {
            prompt: rollout.prompt.to_string(),
            action: action_at(rollout.script, out.len() as f32 / rollout.fps as f32),
            steps: rollout.steps,
            guidance: rollout.guidance,
            action_guidance: rollout.action_guidance,
            sampler: rollout.sampler,
        };
        let step = match (rollout.start, out.is_empty()) {
            (Some(image), true) => session.start_from(model, image, &controls)?,
            _ => session.step(model, &controls)?,
        };
        on_step(&step, &controls);
        out.extend(step.frames);
    }
    out.truncate(rollout.frames);
    Ok(out)
}

/// Runs `worldsim stream`.
pub fn run(args: StreamArgs) -> Result<()> {
    let scene = args.scene.as_deref().map(Scene::load).transpose()?;
    let (w, h) = args.size.or(scene.as_ref().map(|s| (s.width, s.height))).unwrap_or((64, 64));
    let fps = scene.as_ref().map_or(args.fps, |s| s.fps);
    let seed = scene.as_ref().map_or(args.seed, |s| s.seed);
    let prompt = match (&args.prompt, &scene) {
        (Some(p), _) => p.clone(),
        (None, Some(s)) => worldsim_scenes::Clip::truth(s).1.prompt,
        (None, None) => "a blue player walking on grass on a sunny day".into(),
    };
    let script = match (&args.actions, &scene) {
        (Some(a), _) => parse_actions(a)?,
        (None, Some(s)) => s.player.as_ref().map(|p| p.actions.clone()).unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    let start = match (&args.image, &args.scene) {
        (Some(path), _) => Some(read_input(path, Some((w, h)))?.remove(0)),
        (None, Some(path)) if !args.generate_first => Some(read_input(path, Some((w, h)))?.remove(0)),
        _ => None,
    };
    let start = start.map(|f| fit_frame(&f, w, h));
    let model_dir = args.model.clone().unwrap_or_else(shipped_model_dir);
    let spec = StreamSpec { width: w as usize, height: h as usize, seed };
    let config = args.keep.config();
    let frames = with_backend!(args.device, |B| {
        let model = StreamModel::<B>::load(&model_dir, Default::default())?;
        let mut session = StreamSession::new(&model, spec, config)?;
        let rollout = Rollout {
            prompt: &prompt,
            script: &script,
            fps,
            frames: args.frames,
            steps: args.steps,
            guidance: args.guidance,
            action_guidance: args.action_guidance,
            sampler: args.sampler,
            start: start.as_ref(),
        };
        let clock = Instant::now();
        let frames = roll_out(&model, &mut session, &rollout, |step, controls| {
            if step.latent == 0 {
                println!("caption: {}", step.caption);
                if !step.unknown.is_empty() {
                    println!("unknown words (ignored): {}", step.unknown.join(", "));
                }
            }
            let tm = step.timings;
            println!(
                "frames {:>4}..{:<4} {:<28} {:6.1} ms (denoise {:.1}, cache {:.1}, decode {:.1})",
                step.first_frame,
                step.first_frame + step.frames.len() - 1,
                controls.action.as_deref().unwrap_or("(no action)"),
                tm.total_ms(),
                tm.denoise_ms,
                tm.commit_ms,
                tm.decode_ms
            );
        })?;
        let secs = clock.elapsed().as_secs_f64();
        println!("{} frames in {secs:.2} s: {:.1} frames/s", frames.len(), frames.len() as f64 / secs);
        frames
    });
    write_video(&args.out, &frames, fps)?;
    println!("wrote {}", args.out);
    Ok(())
}
