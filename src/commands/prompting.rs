//! `worldsim animate | extend | loop | edit | connect`: prompting with images and videos. Each
//! reads its inputs (PNG, GIF, a folder of PNGs, `.npy`, or a scene file), fits them to a size
//! the model accepts (with a printed note), runs the task and writes the video.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::prelude::Backend;
use worldsim_model::dit::weights::load_denoiser;
use worldsim_model::prompting::fit::{fit_video, nearest_valid_size};
use worldsim_model::prompting::motion::MotionMaskConfig;
use worldsim_model::prompting::tasks::{Prompter, PromptingConfig, SEAM_STRENGTH, TaskOutput, WARM_START};
use worldsim_model::prompting::{EDIT_GUIDANCE, PROMPTING_GUIDANCE};
use worldsim_model::vae::weights::load_vae;
use worldsim_scenes::media::{read_png, read_video, write_video};
use worldsim_scenes::{Clip, Frame, Scene};

use super::device::DeviceKind;
use super::generate::SamplingArgs;
use crate::with_backend;
use worldsim_model::weights::shipped_model_dir;

/// What every prompting command shares.
#[derive(clap::Args)]
pub struct PromptingArgs {
    /// What the video shows, e.g. "red ball bouncing on snow".
    #[arg(long)]
    prompt: String,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Frame size WIDTHxHEIGHT; inputs are resized and centre-cropped to it (default: the
    /// nearest valid size to the input's).
    #[arg(long, value_parser = super::parse_size)]
    size: Option<(u32, u32)>,
    /// Output: .gif, .png (frames side by side), folder/, .npy.
    #[arg(long)]
    out: String,
    /// Frames per second of a GIF output.
    #[arg(long, default_value_t = 12)]
    fps: u32,
    /// The model folder (default: the shipped tiny model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Where to run: cpu, or wgpu / cuda when compiled with that feature.
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
    /// Noise level new frames start at, from the last frame made held still (or, between two
    /// videos, their cross-fade): lower keeps more of it, 1 starts from pure noise. Edit makes
    /// no new frames.
    #[arg(long, default_value_t = WARM_START)]
    warm_start: f32,
}

/// Checks `--warm-start` (the prompting verbs' and `eval prompting`'s).
pub fn check_warm_start(level: f32) -> Result<()> {
    if !(level > 0.0 && level <= 1.0) {
        bail!("--warm-start {level} must be in 0 (exclusive) ..= 1 (1: from pure noise; try {WARM_START})");
    }
    Ok(())
}

/// `worldsim animate`: image-to-video.
#[derive(clap::Args)]
pub struct AnimateArgs {
    /// The still image (PNG; or a video, whose first frame is used; or a scene file).
    #[arg(long)]
    image: PathBuf,
    /// Frames of the output, the image first.
    #[arg(long, default_value_t = 9)]
    frames: usize,
    #[command(flatten)]
    common: PromptingArgs,
}

/// `worldsim extend`: continue a video after its end or before its start.
#[derive(clap::Args)]
pub struct ExtendArgs {
    /// The video (GIF, folder of PNGs, .npy, or a scene file).
    #[arg(long)]
    video: PathBuf,
    /// New frames after the end.
    #[arg(long, default_value_t = 0)]
    forward: usize,
    /// New frames before the start.
    #[arg(long, default_value_t = 0)]
    backward: usize,
    /// Noise level the first window re-noises the video's last latent frame to (its last 4
    /// frames, then remade with the new ones, within 1 dB of the round trip); 0 keeps the video
    /// exactly as the VAE reconstructs it, at the cost of a harder seam.
    #[arg(long, default_value_t = SEAM_STRENGTH)]
    seam_strength: f32,
    #[command(flatten)]
    common: PromptingArgs,
}

/// `worldsim loop`: a seamless loop from a prompt, or an existing video closed into one.
#[derive(clap::Args)]
pub struct LoopArgs {
    /// Close this video into a loop (without it, the loop is made from the prompt).
    #[arg(long)]
    video: Option<PathBuf>,
    /// Frames of the loop made from a prompt (a multiple of 4, at least 8; default 12); with
    /// --video, the frames added to lead its end back to its start (default 4; rounded so that
    /// the loop's length is a multiple of 4).
    #[arg(long)]
    frames: Option<usize>,
    #[command(flatten)]
    common: PromptingArgs,
}

/// `worldsim edit`: SDEdit video-to-video.
#[derive(clap::Args)]
pub struct EditArgs {
    /// The video to edit.
    #[arg(long)]
    video: PathBuf,
    /// How much to change: 0 returns the input (as the VAE reconstructs it), 1 ignores it.
    #[arg(long, default_value_t = 0.5)]
    strength: f32,
    /// Keep what moves (pinned to the input at every noise level) and redraw only the rest: the
    /// setting changes, the action stays. Strength 1 then keeps only what moves.
    #[arg(long)]
    keep_motion: bool,
    #[command(flatten)]
    common: PromptingArgs,
}

/// `worldsim connect`: a transition from one video into another.
#[derive(clap::Args)]
pub struct ConnectArgs {
    /// The video the clip starts from (its end).
    #[arg(long)]
    from: PathBuf,
    /// The video the clip leads into (its start).
    #[arg(long)]
    to: PathBuf,
    /// New frames between them (a multiple of 4).
    #[arg(long, default_value_t = 4)]
    frames: usize,
    #[command(flatten)]
    common: PromptingArgs,
}

/// Reads an input: a scene file (rendered; `--size` sets its size), a PNG, or a video.
pub fn read_input(path: &Path, size: Option<(u32, u32)>) -> Result<Vec<Frame>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let frames = match ext.as_str() {
        "ron" => {
            let scene = Scene::load(path)?
                .with_overrides(size, None, None)
                .map_err(|e| e.in_file(&path.display().to_string()))?;
            Clip::render(&scene).frames
        }
        "png" => vec![read_png(path)?],
        _ => read_video(path)?,
    };
    if frames.is_empty() {
        bail!("{}: no frames", path.display());
    }
    Ok(frames)
}

/// Which command, with its inputs read.
enum Task {
    Animate { image: Frame, frames: usize },
    Extend { video: Vec<Frame>, forward: usize, backward: usize, seam_strength: f32 },
    LoopFromPrompt { frames: usize },
    CloseLoop { video: Vec<Frame>, frames: usize },
    Edit { video: Vec<Frame>, strength: f32, keep_motion: bool },
    Connect { from: Vec<Frame>, to: Vec<Frame>, frames: usize },
}

fn run_task<B: Backend>(task: Task, args: PromptingArgs) -> Result<()> {
    let device: B::Device = Default::default();
    let dir = args.model.clone().unwrap_or_else(shipped_model_dir);
    let vae = load_vae::<B>(&dir, &device)?;
    let dit = load_denoiser::<B>(&dir, &device)?;
    let multiple = (vae.meta.config.spatial_factor() * dit.meta.model.patch) as u32;
    let max_side = (dit.meta.model.max_side * dit.meta.model.patch * vae.meta.config.spatial_factor()) as u32;
    let inputs: Vec<&Frame> = match &task {
        Task::Animate { image, .. } => vec![image],
        Task::Extend { video, .. } | Task::CloseLoop { video, .. } | Task::Edit { video, .. } => vec![&video[0]],
        Task::Connect { from, .. } => vec![&from[0]],
        Task::LoopFromPrompt { .. } => vec![],
    };
    let (width, height) = match (args.size, inputs.first()) {
        (Some((w, h)), _) => nearest_valid_size(w, h, multiple, max_side),
        (None, Some(f)) => nearest_valid_size(f.width, f.height, multiple, max_side),
        (None, None) => (64, 64),
    };
    if let Some((w, h)) = args.size
        && (w, h) != (width, height)
    {
        println!("note: --size {w}x{h} is not a valid size; using {width}x{height} (multiples of {multiple})");
    }
    let mut notes = Vec::new();
    let mut fit = |frames: &[Frame], what: &str| {
        let (frames, note) = fit_video(frames, width, height, what);
        notes.extend(note);
        frames
    };
    let task = match task {
        Task::Animate { image, frames } => Task::Animate { image: fit(&[image], "image").remove(0), frames },
        Task::Extend { video, forward, backward, seam_strength } => {
            Task::Extend { video: fit(&video, "video"), forward, backward, seam_strength }
        }
        Task::CloseLoop { video, frames } => Task::CloseLoop { video: fit(&video, "video"), frames },
        Task::Edit { video, strength, keep_motion } => {
            Task::Edit { video: fit(&video, "video"), strength, keep_motion }
        }
        Task::Connect { from, to, frames } => {
            Task::Connect { from: fit(&from, "--from"), to: fit(&to, "--to"), frames }
        }
        t @ Task::LoopFromPrompt { .. } => t,
    };
    let guidance = if matches!(task, Task::Edit { .. }) { EDIT_GUIDANCE } else { PROMPTING_GUIDANCE };
    check_warm_start(args.warm_start)?;
    let mut config = PromptingConfig { warm_start: args.warm_start, ..PromptingConfig::default() };
    if let Task::Extend { seam_strength, .. } = &task {
        config.seam_strength = *seam_strength;
    }
    let prompter =
        Prompter { vae: &vae, dit: &dit, settings: args.sampling.settings(&args.prompt, guidance), config, device };
    let start = Instant::now();
    let out: TaskOutput = match task {
        Task::Animate { image, frames } => prompter.animate(&image, frames)?,
        Task::Extend { video, forward, backward, .. } => {
            if forward == 0 && backward == 0 {
                bail!("nothing to do: give --forward N and/or --backward N (new frames)");
            }
            prompter.extend(&video, forward, backward)?
        }
        Task::LoopFromPrompt { frames } => prompter.loop_from_prompt(frames, width as usize, height as usize)?,
        Task::CloseLoop { video, frames } => prompter.close_loop(&video, frames)?,
        Task::Edit { video, strength, keep_motion: false } => prompter.edit(&video, strength)?,
        Task::Edit { video, strength, keep_motion: true } => {
            prompter.edit_keeping_motion(&video, strength, &MotionMaskConfig::default())?
        }
        Task::Connect { from, to, frames } => prompter.connect(&from, &to, frames)?,
    };
    for note in notes.iter().chain(&out.notes) {
        println!("note: {note}");
    }
    println!("caption: {}", out.caption);
    if !out.unknown.is_empty() {
        println!("unknown words (the model ignores them): {}", out.unknown.join(", "));
    }
    write_video(&args.out, &out.frames, args.fps).with_context(|| format!("writing {}", args.out))?;
    println!(
        "wrote {} ({} frames {width}×{height}; {} network calls per branch, {:.1} s)",
        args.out,
        out.frames.len(),
        out.network_calls,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn dispatch(task: Task, args: PromptingArgs) -> Result<()> {
    let device = args.device;
    with_backend!(device, |B| run_task::<B>(task, args))
}

/// Runs `worldsim animate`.
pub fn run_animate(a: AnimateArgs) -> Result<()> {
    let image = read_input(&a.image, a.common.size)?.remove(0);
    dispatch(Task::Animate { image, frames: a.frames }, a.common)
}

/// Runs `worldsim extend`.
pub fn run_extend(a: ExtendArgs) -> Result<()> {
    let video = read_input(&a.video, a.common.size)?;
    if !(0.0..1.0).contains(&a.seam_strength) {
        bail!("--seam-strength {} must be in 0..1 (0 keeps the video exactly; try {SEAM_STRENGTH})", a.seam_strength);
    }
    dispatch(Task::Extend { video, forward: a.forward, backward: a.backward, seam_strength: a.seam_strength }, a.common)
}

/// Runs `worldsim loop`.
pub fn run_loop(a: LoopArgs) -> Result<()> {
    match &a.video {
        Some(path) => {
            let video = read_input(path, a.common.size)?;
            dispatch(Task::CloseLoop { video, frames: a.frames.unwrap_or(4) }, a.common)
        }
        None => dispatch(Task::LoopFromPrompt { frames: a.frames.unwrap_or(12) }, a.common),
    }
}

/// Runs `worldsim edit`.
pub fn run_edit(a: EditArgs) -> Result<()> {
    let video = read_input(&a.video, a.common.size)?;
    dispatch(Task::Edit { video, strength: a.strength, keep_motion: a.keep_motion }, a.common)
}

/// Runs `worldsim connect`.
pub fn run_connect(a: ConnectArgs) -> Result<()> {
    let from = read_input(&a.from, a.common.size)?;
    let to = read_input(&a.to, a.common.size)?;
    dispatch(Task::Connect { from, to, frames: a.frames }, a.common)
}
