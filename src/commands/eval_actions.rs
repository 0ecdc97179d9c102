//! `worldsim eval actions`: does the DiT read the action caption? Teacher-forced, no rollout: for
//! scripted clips whose player stands, then obeys one command (left, right, stand, jump) in the
//! clip's last latent frame, the earlier latent frames are given and the last one noised, and
//! the denoising loss on the player's tokens is measured under each of the four action captions
//! ([`ActionProbe`]). Reported: the mean loss per obeyed command × given caption, how often the
//! obeyed command's caption has the lowest loss of the four (chance 25 %), and how often a walk's
//! own direction beats the opposite one (chance 50 %) — the direction a stream's actions need —
//! and, for a DiT with action displacements, each command's displacement of every block's first
//! head against the player's measured move.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use worldsim_model::Cpu;
use worldsim_model::dit::action_probe::ActionProbe;
use worldsim_model::dit::layout::AttentionMode;
use worldsim_model::dit::train::{CaptionKind, scene_sample};
use worldsim_model::dit::weights::load_denoiser;
use worldsim_model::vae::weights::load_vae;
use worldsim_model::weights::shipped_model_dir;
use worldsim_scenes::captions::action_caption;
use worldsim_scenes::scene::{Action, Scene};

use super::eval_stream::WORLDS;

/// Arguments of `eval actions`.
#[derive(clap::Args)]
pub struct EvalActionsArgs {
    /// The model folder (default: the shipped tiny model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Scripted worlds (player colour, terrain, sky), each with every command.
    #[arg(long, default_value_t = 6)]
    worlds: usize,
    /// Video frames per clip (1 + 4k, k ≥ 1); the command changes where the last latent frame
    /// starts.
    #[arg(long, default_value_t = 9)]
    frames: u32,
    /// Noise levels of the last latent frame, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.8")]
    levels: Vec<f32>,
    /// Noise draws per level.
    #[arg(long, default_value_t = 3)]
    draws: u64,
    /// Bidirectional attention instead of frame-causal (a stream's).
    #[arg(long)]
    bidirectional: bool,
}

const FPS: u32 = 12;
const SIZE: u32 = 64;
const COMMANDS: [Action; 4] = [Action::Left, Action::Right, Action::Stand, Action::Jump];

/// World `i`'s clip: the player stands, then obeys `command` from the time whose effect first
/// shows in the last latent frame. Seeds 6000 + i: not the training sampler's scenes.
fn probe_scene(i: usize, command: Action, frames: u32) -> Result<Scene> {
    let (color, terrain, sky) = WORLDS[i % WORLDS.len()];
    let change = (frames - 1 - 4) as f32 / FPS as f32;
    let text = format!(
        "Scene(name: \"eval_actions_{i}\", width: {SIZE}, height: {SIZE}, fps: {FPS}, frames: {frames}, seed: {}, \
         terrain: {terrain}, sky: {sky}, player: Some(Player(color: {color}, x: -0.5, facing: right, \
         actions: [(0.0, stand), ({change:.5}, {})])))",
        6000 + i,
        command.name()
    );
    Ok(Scene::parse(&text, "<eval actions>")?)
}

/// Runs `eval actions`.
pub fn run(args: EvalActionsArgs) -> Result<()> {
    if args.frames < 5 || !(args.frames - 1).is_multiple_of(4) {
        bail!("--frames {} must be 1 + 4k with k ≥ 1 (5, 9, 13, …): the probe needs a past", args.frames);
    }
    if args.levels.is_empty() || args.levels.iter().any(|l| !(0.0..=1.0).contains(l)) {
        bail!("--levels {:?} must be noise levels between 0 and 1", args.levels);
    }
    let dir = args.model.clone().unwrap_or_else(shipped_model_dir);
    let device = Default::default();
    let denoiser = load_denoiser::<Cpu>(&dir, &device)?;
    let vae = load_vae::<Cpu>(&dir, &device)?;
    let probe = ActionProbe {
        levels: args.levels.clone(),
        draws: args.draws,
        mode: if args.bidirectional { AttentionMode::Bidirectional } else { AttentionMode::FrameCausal },
        ..ActionProbe::default()
    };
    let candidates: Vec<&str> = COMMANDS.iter().map(|a| action_caption(*a)).collect();
    println!(
        "action probe: {} worlds × {} commands, {} frames {SIZE}×{SIZE}, levels {:?} × {} draws, {} attention",
        args.worlds,
        COMMANDS.len(),
        args.frames,
        args.levels,
        args.draws,
        if args.bidirectional { "bidirectional" } else { "frame-causal" }
    );
    let clock = Instant::now();
    let mut sums = [[0.0f64; 4]; 4];
    let (mut best, mut cases) = ([0usize; 4], [0usize; 4]);
    let (mut direction, mut direction_cases) = (0usize, 0usize);
    let mut moves = [([0.0f32; 2], 0usize); 4];
    for i in 0..args.worlds {
        for (row, &command) in COMMANDS.iter().enumerate() {
            let scene = probe_scene(i, command, args.frames)?;
            let sample = scene_sample(&scene, &vae, denoiser.meta.model.patch, true, CaptionKind::Steered)?;
            if let Some(Some([dy, dx])) = sample.motion.last() {
                let (sum, n) = &mut moves[row];
                *sum = [sum[0] + dy, sum[1] + dx];
                *n += 1;
            }
            let losses = probe
                .losses(&denoiser.model, &denoiser.meta.tokenizer, &sample, &candidates, &device)
                .with_context(|| format!("world {i}, command {}", command.name()))?;
            for case in &losses {
                for (col, l) in case.iter().enumerate() {
                    sums[row][col] += f64::from(*l);
                }
                let lowest = (0..case.len()).min_by(|&a, &b| case[a].total_cmp(&case[b])).unwrap_or(0);
                best[row] += usize::from(lowest == row);
                cases[row] += 1;
                // Walks: the obeyed direction against the opposite one (columns 0 and 1).
                if row < 2 {
                    direction += usize::from(case[row] < case[1 - row]);
                    direction_cases += 1;
                }
            }
        }
    }
    println!(
        "mean loss on the player's tokens of the last latent frame (rows: the command obeyed; columns: the caption given)"
    );
    println!("{:>8} {}", "", COMMANDS.iter().map(|a| format!("{:>8}", a.name())).collect::<String>());
    for (row, command) in COMMANDS.iter().enumerate() {
        let n = cases[row].max(1) as f64;
        println!("{:>8} {}", command.name(), sums[row].iter().map(|s| format!("{:>8.3}", s / n)).collect::<String>());
    }
    for (row, command) in COMMANDS.iter().enumerate() {
        let share = 100.0 * best[row] as f32 / cases[row].max(1) as f32;
        println!(
            "{:>8}: its own caption lowest in {}/{} ({share:.0} %; chance 25 %)",
            command.name(),
            best[row],
            cases[row]
        );
    }
    let share = 100.0 * direction as f32 / direction_cases.max(1) as f32;
    println!(
        "direction: a walk's own direction beats the opposite one in {direction}/{direction_cases} ({share:.0} %; chance 50 %)"
    );
    if denoiser.meta.model.displaces() {
        println!(
            "action displacement of each block's first head (patches down, right; mean over blocks) against the \
             player's measured move into the last latent frame (mean over worlds; a head following the player \
             displaces by the opposite)"
        );
        let heads = denoiser.meta.model.heads;
        for (row, &command) in COMMANDS.iter().enumerate() {
            let tokens = denoiser.meta.tokenizer.encode(action_caption(command))?;
            let pooled = denoiser.model.text.forward(&[tokens], &device).pooled; // [1, text_dim]
            let all = denoiser.model.dit.action_displacement(pooled).map(|t| t.into_data().to_vec::<f32>());
            let Some(Ok(all)) = all else { bail!("the DiT says it displaces but has no displacement layer") };
            let depth = all.len() / (heads * 2);
            let mean = |axis: usize| (0..depth).map(|b| all[b * heads * 2 + axis]).sum::<f32>() / depth.max(1) as f32;
            let (sum, n) = moves[row];
            let n = n.max(1) as f32;
            println!(
                "{:>8}: displacement ({:+.2}, {:+.2}), move ({:+.2}, {:+.2})",
                command.name(),
                mean(0),
                mean(1),
                sum[0] / n,
                sum[1] / n
            );
        }
    }
    println!("({:.0} s)", clock.elapsed().as_secs_f64());
    Ok(())
}
