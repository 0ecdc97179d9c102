//! `worldsim eval prompting`: every prompting task on held-out scenes (64×64, 12 fps), with the
//! numbers issue 5 asks for: kept frames' PSNR against the VAE round-trip's, seam and loop
//! ratios (difference at the seam over the clip's median frame-to-frame difference), SDEdit at
//! strength 0 against the round-trip, and at 0.5 with another terrain in the prompt whether the
//! terrain changed and how far the balls moved from their input paths; whether extension's new
//! frames move as the world's own continuation does (their balls' paths, their frame-to-frame
//! differences).

use std::path::PathBuf;

use anyhow::Result;
use worldsim_model::Cpu;
use worldsim_model::diffusion::SamplerKind;
use worldsim_model::dit::weights::load_denoiser;
use worldsim_model::prompting::motion::MotionMaskConfig;
use worldsim_model::prompting::seams::{
    cyclic_worst_ratio, frame_differences, loop_ratio, median, seam_ratio, worst_ratio,
};
use worldsim_model::prompting::tasks::{
    BACKWARD_FADE, CONNECT_FADE, Prompter, PromptingConfig, SEAM_STRENGTH, WARM_START,
};
use worldsim_model::prompting::{EDIT_GUIDANCE, PROMPTING_GUIDANCE, SamplingSettings};
use worldsim_model::quality::psnr;
use worldsim_model::vae::weights::load_vae;
use worldsim_scenes::fidelity::FidelityChecker;
use worldsim_scenes::random::{RandomSceneConfig, random_scene};
use worldsim_scenes::{Clip, Frame, NamedColor, Object, Scene, Terrain};

use worldsim_model::weights::shipped_model_dir;

/// Arguments of `worldsim eval prompting`.
#[derive(clap::Args)]
pub struct EvalPromptingArgs {
    /// The model folder (default: the shipped tiny model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Held-out scenes (each runs every task).
    #[arg(long, default_value_t = 8)]
    scenes: u64,
    /// Sampler steps.
    #[arg(long, default_value_t = 30)]
    steps: usize,
    /// Classifier-free guidance scale of every task (default: each task's own, as the verbs use:
    /// 3 for edit, 2 for the rest).
    #[arg(long)]
    guidance: Option<f32>,
    /// Seed of the held-out scenes (training uses seeds 1 and 2).
    #[arg(long, default_value_t = 4242)]
    scene_seed: u64,
    /// Noise level the DiT sees given frames at (0: clean).
    #[arg(long)]
    given_level: Option<f32>,
    /// Frames the video loop adds to lead the 9-frame clip back to its start.
    #[arg(long, default_value_t = 4)]
    loop_frames: usize,
    /// Frames connect makes between the clip's end and the other clip's head (a multiple of 4).
    #[arg(long, default_value_t = 4)]
    connect_frames: usize,
    /// Frames over which backward extension fades from the reversed decode into the round trip.
    #[arg(long, default_value_t = BACKWARD_FADE)]
    backward_fade: usize,
    /// Frames of B's head over which connect fades from the window's decode into B's round trip.
    #[arg(long, default_value_t = CONNECT_FADE)]
    connect_fade: usize,
    /// Level forward extension re-noises the video's last latent frame to (0: kept).
    #[arg(long, default_value_t = SEAM_STRENGTH)]
    seam_strength: f32,
    /// Level the tasks' new latent frames start at, from the last frame made held still or
    /// the cross-fade of the known frames around them (1: from pure noise).
    #[arg(long, default_value_t = WARM_START)]
    warm_start: f32,
    /// Edit keeping motion: a pixel moves when it differs from its temporal median by more than
    /// this (0–255).
    #[arg(long, default_value_t = MotionMaskConfig::default().threshold)]
    motion_threshold: u8,
    /// Edit keeping motion: rings of tokens added around each moving token.
    #[arg(long, default_value_t = MotionMaskConfig::default().dilate)]
    motion_dilate: usize,
}

impl EvalPromptingArgs {
    fn motion_mask(&self) -> MotionMaskConfig {
        MotionMaskConfig { threshold: self.motion_threshold, dilate: self.motion_dilate }
    }
}

/// Mean PSNR of `out` against `reference`, frame by frame.
fn mean_psnr(out: &[Frame], reference: &[Frame]) -> f64 {
    let n = out.len().min(reference.len()).max(1) as f64;
    out.iter().zip(reference).map(|(a, b)| psnr(a, b).min(99.0)).sum::<f64>() / n
}

/// Values of one measure over the scenes.
#[derive(Default)]
struct Measure {
    values: Vec<f64>,
}

impl Measure {
    fn add(&mut self, v: f64) {
        self.values.push(v);
    }

    fn line(&self, name: &str, bound: &str, pass: impl Fn(f64) -> bool) {
        let n = self.values.len();
        let passed = self.values.iter().filter(|v| pass(**v)).count();
        let mean = self.values.iter().sum::<f64>() / n.max(1) as f64;
        println!(
            "{name:<44} mean {mean:>7.2}  median {:>7.2}  worst {:>7.2}  {passed:>2}/{n} {bound}",
            median(&self.values),
            if bound.starts_with('≥') {
                self.values.iter().copied().fold(f64::INFINITY, f64::min)
            } else {
                self.values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            }
        );
    }
}

/// Mean distance in pixels between two sets of tracked paths (one per colour, a centre or none
/// per frame), over the frames where both found the colour; `None` where they never did.
fn mean_distance(a: &[Vec<Option<(f32, f32)>>], b: &[Vec<Option<(f32, f32)>>]) -> Option<f64> {
    let distances: Vec<f64> = a
        .iter()
        .zip(b)
        .flat_map(|(a, b)| a.iter().zip(b))
        .filter_map(|pair| match pair {
            (Some(a), Some(b)) => Some(f64::from(((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt())),
            _ => None,
        })
        .collect();
    (!distances.is_empty()).then(|| distances.iter().sum::<f64>() / distances.len() as f64)
}

/// A scene with every ball of a colour of its own: those colours (their paths are compared).
fn ball_colors(scene: &Scene) -> Vec<NamedColor> {
    scene
        .objects
        .iter()
        .filter_map(|o| match o {
            Object::Ball { color, .. } if scene.objects.iter().filter(|p| p.color() == *color).count() == 1 => {
                Some(*color)
            }
            _ => None,
        })
        .collect()
}

/// Runs `worldsim eval prompting`.
pub fn run(args: EvalPromptingArgs) -> Result<()> {
    if let Some(l) = args.given_level
        && !(0.0..1.0).contains(&l)
    {
        anyhow::bail!("--given-level {l} must be in 0..1 (0 shows given frames clean; try 0.05)");
    }
    super::prompting::check_warm_start(args.warm_start)?;
    let device = Default::default();
    let motion_mask = args.motion_mask();
    let dir = args.model.unwrap_or_else(shipped_model_dir);
    let vae = load_vae::<Cpu>(&dir, &device)?;
    let dit = load_denoiser::<Cpu>(&dir, &device)?;
    let checker = FidelityChecker::calibrate();
    let config = RandomSceneConfig::default();
    let names = [
        "animate: first frame dB vs round-trip",
        "extend fwd: kept frames dB vs round-trip",
        "extend fwd: seam ratio",
        "extend bwd: kept frames dB vs round-trip",
        "extend bwd: seam ratio",
        "loop (prompt): last→first ratio",
        "loop (video): last→first ratio",
        "edit 0: max |out − round-trip| (levels)",
        "edit 0.5: terrain changed (1 = yes)",
        "edit 0.5: ball path distance (px)",
        "connect: first frame dB vs round-trip",
        "connect: last 4 frames dB vs round-trip",
        "connect: worst seam ratio",
        "reference: round-trip's own ratio at frame 5",
        "extend bwd: worst ratio anywhere",
        "loop (prompt): worst ratio anywhere",
        "loop (video): worst ratio anywhere",
        "loop (video): kept frames dB vs round-trip",
        "reference: round-trip's ball path distance",
        "reference: B's head dB after a cut from A",
        "edit 0.5 keeping motion: terrain changed",
        "edit 0.5 keeping motion: ball path dist.",
        "connect: worst ratio anywhere",
        "extend fwd: worst ratio anywhere",
        "extend fwd: new ball paths vs world's (px)",
        "reference: a still extension's paths (px)",
        "extend fwd: new frames' mean step (levels)",
        "extend bwd: new frames' mean step (levels)",
        "reference: world's mean step there (fwd)",
        "reference: world's mean step there (bwd)",
    ];
    let mut m: Vec<Measure> = names.iter().map(|_| Measure::default()).collect();
    let start = std::time::Instant::now();
    for i in 0..args.scenes {
        let scene = random_scene(args.scene_seed, i, &config).with_overrides(Some((64, 64)), Some(17), None)?;
        let clip = Clip::render(&scene);
        let next = random_scene(args.scene_seed, i + 1000, &config).with_overrides(Some((64, 64)), Some(9), None)?;
        let other = Clip::render(&next);
        let prompter = |prompt: &str, seed: u64, guidance: f32| Prompter {
            vae: &vae,
            dit: &dit,
            settings: SamplingSettings {
                prompt: prompt.to_string(),
                seed,
                steps: args.steps,
                guidance: args.guidance.unwrap_or(guidance),
                sampler: SamplerKind::Euler,
            },
            config: PromptingConfig {
                given_level: args.given_level.unwrap_or(PromptingConfig::default().given_level),
                backward_fade: args.backward_fade,
                connect_fade: args.connect_fade,
                seam_strength: args.seam_strength,
                warm_start: args.warm_start,
                ..PromptingConfig::default()
            },
            device,
        };
        let p = prompter(&clip.captions.prompt, i, PROMPTING_GUIDANCE);
        let head = &clip.frames[..9];
        let tail = &clip.frames[8..];

        let rt_image = p.roundtrip(&clip.frames[..1])?;
        let animated = p.animate(&clip.frames[0], 9)?;
        m[0].add(psnr(&animated.frames[0], &clip.frames[0]) - psnr(&rt_image[0], &clip.frames[0]));

        let rt_head = p.roundtrip(head)?;
        m[13].add(seam_ratio(&rt_head, 5));
        let fwd = p.extend_forward(head, 8)?;
        m[1].add(mean_psnr(&fwd.frames[..9], head) - mean_psnr(&rt_head, head));
        m[2].add(seam_ratio(&fwd.frames, 9));
        m[23].add(worst_ratio(&fwd.frames));
        // Do the new frames move as the world does? Their mean frame-to-frame difference, and
        // the world's own over the same frames (a frozen continuation steps 0).
        let step = |frames: &[Frame]| {
            let d = frame_differences(frames);
            d.iter().sum::<f64>() / d.len().max(1) as f64
        };
        m[26].add(step(&fwd.frames[9..17]));
        m[28].add(step(&clip.frames[9..17]));

        let rt_tail = p.roundtrip(tail)?;
        let bwd = p.extend_backward(tail, 8)?;
        m[3].add(mean_psnr(&bwd.frames[8..], tail) - mean_psnr(&rt_tail, tail));
        m[4].add(seam_ratio(&bwd.frames, 8));
        m[14].add(worst_ratio(&bwd.frames));
        m[27].add(step(&bwd.frames[..8]));
        m[29].add(step(&clip.frames[..8]));

        let prompt_loop = p.loop_from_prompt(9, 64, 64)?.frames;
        m[5].add(loop_ratio(&prompt_loop));
        m[15].add(cyclic_worst_ratio(&prompt_loop));
        let video_loop = p.close_loop(head, args.loop_frames)?.frames;
        m[6].add(loop_ratio(&video_loop));
        m[16].add(cyclic_worst_ratio(&video_loop));
        m[17].add(mean_psnr(&video_loop[..head.len()], head) - mean_psnr(&rt_head, head));

        let same = p.edit(head, 0.0)?;
        let max_diff = same
            .frames
            .iter()
            .zip(&rt_head)
            .flat_map(|(a, b)| a.rgb.iter().zip(&b.rgb).map(|(x, y)| x.abs_diff(*y)))
            .max();
        m[7].add(f64::from(max_diff.unwrap_or(255)));
        let mut edited_scene = scene.clone();
        edited_scene.terrain =
            Terrain::ALL[(Terrain::ALL.iter().position(|t| *t == scene.terrain).unwrap_or(0) + 1) % Terrain::ALL.len()];
        let edit_prompt = Clip::truth(&edited_scene).1.prompt;
        let edited = prompter(&edit_prompt, i, EDIT_GUIDANCE).edit(head, 0.5)?;
        let (terrain, _) = checker.place(&edited.frames);
        m[8].add(f64::from(u8::from(terrain == edited_scene.terrain)));
        // Each ball's tracked centres in `frames` (on `terrain`), and their mean distance in
        // pixels from the input's.
        let colours = ball_colors(&scene);
        let paths = |frames: &[Frame], terrain: Terrain| -> Vec<_> {
            colours.iter().map(|&c| checker.centres(frames, terrain, scene.sky, c)).collect()
        };
        let input_paths = paths(head, scene.terrain);
        let path_distance = |frames: &[Frame], terrain: Terrain| mean_distance(&input_paths, &paths(frames, terrain));
        if let Some(d) = path_distance(&edited.frames, edited_scene.terrain) {
            m[9].add(d);
        }
        let kept = prompter(&edit_prompt, i, EDIT_GUIDANCE).edit_keeping_motion(head, 0.5, &motion_mask)?;
        let (terrain, _) = checker.place(&kept.frames);
        m[20].add(f64::from(u8::from(terrain == edited_scene.terrain)));
        if let Some(d) = path_distance(&kept.frames, edited_scene.terrain) {
            m[21].add(d);
        }
        if let Some(d) = path_distance(&rt_head, scene.terrain) {
            m[18].add(d);
        }
        // The balls in forward extension's new frames against the world's own continuation, and
        // what a continuation that holds the last frame still would score.
        let world_new = paths(&clip.frames[9..17], scene.terrain);
        let distance_to_world = |frames: &[Frame]| mean_distance(&world_new, &paths(frames, scene.terrain));
        if let Some(d) = distance_to_world(&fwd.frames[9..17]) {
            m[24].add(d);
        }
        if let Some(d) = distance_to_world(&vec![clip.frames[8].clone(); 8]) {
            m[25].add(d);
        }

        let b_head = &other.frames[..4];
        let connected = prompter(&other.captions.prompt, i, PROMPTING_GUIDANCE).connect(
            head,
            &other.frames,
            args.connect_frames,
        )?;
        let rt_to = p.roundtrip(&other.frames)?;
        // A's last frame, the new frames, B's head.
        let b_start = connected.frames.len() - b_head.len();
        m[10].add(psnr(&connected.frames[0], &head[8]) - psnr(&rt_head[8], &head[8]));
        m[11].add(mean_psnr(&connected.frames[b_start..], b_head) - mean_psnr(&rt_to[..4], b_head));
        m[12].add(seam_ratio(&connected.frames, 1).max(seam_ratio(&connected.frames, b_start)));
        m[22].add(worst_ratio(&connected.frames));
        // B's head reconstructed right after A's last frame, a cut: what the VAE makes of it.
        let mut cut = vec![head[8].clone()];
        cut.extend(b_head.iter().cloned());
        let rt_cut = p.roundtrip(&cut)?;
        m[19].add(mean_psnr(&rt_cut[1..], b_head) - mean_psnr(&rt_to[..4], b_head));
        eprintln!("{}/{}: {} ({:.0} s)", i + 1, args.scenes, clip.captions.prompt, start.elapsed().as_secs_f64());
    }
    let at_least = |b: f64| move |v: f64| v >= b;
    let at_most = |b: f64| move |v: f64| v <= b;
    m[0].line(names[0], "≥ −1 dB", at_least(-1.0));
    m[1].line(names[1], "≥ −1 dB", at_least(-1.0));
    m[2].line(names[2], "≤ 1.5", at_most(1.5));
    m[23].line(names[23], "≤ 1.5", at_most(1.5));
    m[26].line(names[26], "(0: frozen)", at_least(0.0));
    m[28].line(names[28], "(the world's own)", at_least(0.0));
    m[24].line(names[24], "≤ 3 px", at_most(3.0));
    m[25].line(names[25], "(a frozen continuation)", at_most(3.0));
    m[3].line(names[3], "≥ −1 dB", at_least(-1.0));
    m[4].line(names[4], "≤ 1.5", at_most(1.5));
    m[14].line(names[14], "≤ 1.5", at_most(1.5));
    m[27].line(names[27], "(0: frozen)", at_least(0.0));
    m[29].line(names[29], "(the world's own)", at_least(0.0));
    m[5].line(names[5], "≤ 1.5", at_most(1.5));
    m[15].line(names[15], "≤ 1.5", at_most(1.5));
    m[6].line(names[6], "≤ 1.5", at_most(1.5));
    m[16].line(names[16], "≤ 1.5", at_most(1.5));
    m[17].line(names[17], "≥ −1 dB", at_least(-1.0));
    m[7].line(names[7], "≤ 0", at_most(0.0));
    m[8].line(names[8], "≥ 1", at_least(1.0));
    m[9].line(names[9], "≤ 3 px", at_most(3.0));
    m[20].line(names[20], "≥ 1", at_least(1.0));
    m[21].line(names[21], "≤ 3 px", at_most(3.0));
    m[10].line(names[10], "≥ −1 dB", at_least(-1.0));
    m[11].line(names[11], "≥ −1 dB", at_least(-1.0));
    m[12].line(names[12], "≤ 1.5", at_most(1.5));
    m[22].line(names[22], "≤ 1.5", at_most(1.5));
    m[13].line(names[13], "(the VAE alone, where a latent frame starts)", at_most(1.5));
    m[19].line(names[19], "(the VAE alone: A's last frame, then B's head, one round trip)", at_least(-1.0));
    m[18].line(names[18], "(the VAE alone: what the tracker reads in the input's round trip)", at_most(3.0));
    Ok(())
}
