//! `worldsim eval dit`: the DiT's fidelity to its prompts, judged by the fidelity checker of
//! `worldsim-scenes` on prompts of held-out scenes (and, as controls, on those scenes rendered,
//! and rendered then round-tripped through the VAE: the ceiling of the latent space; and the
//! model's score again on just the prompts whose rendered scene the checker reads right).
//! `worldsim eval prompting`: the measured promises of animate, extend, loop, edit and connect
//! on held-out scenes.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use worldsim_model::Cpu;
use worldsim_model::diffusion::SamplerKind;
use worldsim_model::dit::weights::load_denoiser;
use worldsim_model::generate::{GenerateRequest, generate};
use worldsim_model::vae::weights::load_vae;
use worldsim_scenes::fidelity::{FidelityChecker, Reading};
use worldsim_scenes::random::{RandomSceneConfig, random_scene};
use worldsim_scenes::{Clip, Frame, NamedColor, Object, Scene};

use worldsim_model::weights::shipped_model_dir;

/// `worldsim eval …`
#[derive(Subcommand)]
pub enum EvalCommand {
    /// Generate clips for the short prompts of held-out scenes and check terrain, sky, the
    /// named object colours and whether falling balls move down.
    Dit {
        /// The model folder (default: the shipped tiny model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Prompts (one held-out scene each).
        #[arg(long, default_value_t = 50)]
        prompts: u64,
        /// Seeds per prompt.
        #[arg(long, default_value_t = 2)]
        seeds: u64,
        /// Sampler steps.
        #[arg(long, default_value_t = 30)]
        steps: usize,
        /// Classifier-free guidance scale (default: text-to-video's, 9).
        #[arg(long, default_value_t = worldsim_model::generate::TEXT_TO_VIDEO_GUIDANCE)]
        guidance: f32,
        /// Seed of the held-out scenes (training uses seed 1).
        #[arg(long, default_value_t = 777)]
        scene_seed: u64,
    },
    /// Run every prompting task on held-out scenes and report what each promises: kept frames
    /// against the VAE round-trip, seams and loop points against the clip's own motion, SDEdit
    /// changing the terrain while the balls stay on their paths.
    Prompting(super::eval_prompting::EvalPromptingArgs),
    /// World-simulator streaming: action following (scripted windows, the player tracked by
    /// colour) and the colour statistics of a long rollout against the ground-truth world.
    Stream(super::eval_stream::EvalStreamArgs),
    /// Teacher-forced action following: the DiT's loss on the player's tokens of a clip's last
    /// latent frame under each action caption (does it read the caption, and the direction?).
    Actions(super::eval_actions::EvalActionsArgs),
}

/// Counts of one attribute.
#[derive(Default)]
struct Tally {
    right: usize,
    total: usize,
}

impl Tally {
    fn add(&mut self, ok: bool) {
        self.right += usize::from(ok);
        self.total += 1;
    }

    fn pct(&self) -> f64 {
        100.0 * self.right as f64 / self.total.max(1) as f64
    }
}

/// What a clip is checked for.
struct Expected {
    scene: Scene,
    prompt: String,
    colors: Vec<NamedColor>,
    /// The colour of a ball that starts in the air and has that colour alone.
    falling_ball: Option<NamedColor>,
}

fn expected(scene: Scene) -> Expected {
    let (_, captions) = Clip::truth(&scene);
    let prompt = captions.prompt;
    let words: Vec<String> = worldsim_scenes::vocabulary::words(&prompt).collect();
    let colors: Vec<NamedColor> = NamedColor::ALL.into_iter().filter(|c| words.iter().any(|w| w == c.name())).collect();
    let falling_ball = scene.objects.iter().find_map(|o| match o {
        Object::Ball { color, y, .. }
            if *y > 0.5
                && colors.contains(color)
                && scene.objects.iter().filter(|p| p.color() == *color).count() == 1 =>
        {
            Some(*color)
        }
        _ => None,
    });
    Expected { scene, prompt, colors, falling_ball }
}

/// What the checker read right in one clip.
#[derive(Clone, Copy)]
struct Checked {
    terrain: bool,
    sky: bool,
    colors: bool,
    /// `None` when the clip has no falling ball to follow.
    falls: Option<bool>,
    /// Named colours read that the prompt does not name (objects it did not ask for, or
    /// colours of its unnamed "more things"): counts clutter that the colour row cannot see.
    unnamed: usize,
}

impl Checked {
    /// The attributes in the order of the report's rows, "all" being terrain, sky and colours
    /// together (`None`: does not apply).
    fn rows(self) -> [Option<bool>; 5] {
        let all = self.terrain && self.sky && self.colors;
        [Some(self.terrain), Some(self.sky), Some(self.colors), Some(all), self.falls]
    }
}

/// Counts one clip's [`check`] into `tallies` (the falling-ball entry only when it applies).
fn add(tallies: &mut [Tally; 5], checked: Checked) {
    for (t, ok) in tallies.iter_mut().zip(checked.rows()) {
        if let Some(ok) = ok {
            t.add(ok);
        }
    }
}

/// Counts a generated clip into `tallies` only for the attributes the checker reads right on
/// the prompt's own scene rendered (`control`): where the checker can judge the model.
fn add_judged(tallies: &mut [Tally; 5], control: Checked, generated: Checked) {
    for ((t, judgeable), ok) in tallies.iter_mut().zip(control.rows()).zip(generated.rows()) {
        if let (Some(true), Some(ok)) = (judgeable, ok) {
            t.add(ok);
        }
    }
}

/// Checks one clip against what its prompt says.
fn check(checker: &FidelityChecker, e: &Expected, frames: &[Frame]) -> Checked {
    check_reading(checker, e, &checker.read(frames), frames)
}

/// [`check`] with the checker's reading of the clip already made.
fn check_reading(checker: &FidelityChecker, e: &Expected, r: &Reading, frames: &[Frame]) -> Checked {
    let terrain = r.terrain == e.scene.terrain;
    let sky = r.sky == e.scene.sky;
    let colors = e.colors.iter().all(|c| r.colors.contains(c));
    let unnamed = r.colors.iter().filter(|c| !e.colors.contains(c)).count();
    let falls = e.falling_ball.filter(|_| frames.len() >= 5).map(|c| {
        let centres = checker.centres(frames, e.scene.terrain, e.scene.sky, c);
        // Falling from rest: the ball is lower at frame 4 than at frame 0 (y grows downwards).
        matches!((centres[0], centres[4]), (Some((_, y0)), Some((_, y4))) if y4 > y0 + 0.5)
    });
    Checked { terrain, sky, colors, falls, unnamed }
}

/// Chance for the colour row: each prompt's clips (`reads[k]`: the colours read in each) judged
/// by the colour row's rule against the next prompt's named colours (`named[k + 1]`, wrapping) —
/// what strewn colours alone would score.
fn next_prompt_colours(named: &[Vec<NamedColor>], reads: &[Vec<Vec<NamedColor>>]) -> Tally {
    let mut chance = Tally::default();
    for (k, clips) in reads.iter().enumerate() {
        let other = &named[(k + 1) % named.len()];
        for read in clips {
            chance.add(other.iter().all(|c| read.contains(c)));
        }
    }
    chance
}

/// Runs an `eval` sub-command.
pub fn run(command: EvalCommand) -> Result<()> {
    match command {
        EvalCommand::Dit { model, prompts, seeds, steps, guidance, scene_seed } => {
            let device = Default::default();
            let dir = model.unwrap_or_else(shipped_model_dir);
            let vae = load_vae::<Cpu>(&dir, &device)?;
            let dit = load_denoiser::<Cpu>(&dir, &device)?;
            let checker = FidelityChecker::calibrate();
            let config = RandomSceneConfig::default();
            let names = ["terrain", "sky", "colours", "all attributes", "falling ball moves down"];
            let mut real: [Tally; 5] = Default::default();
            let mut through_vae: [Tally; 5] = Default::default();
            let mut generated: [Tally; 5] = Default::default();
            let mut judged: [Tally; 5] = Default::default();
            // Unnamed colours summed over clips: rendered, VAE round-trip, generated.
            let mut unnamed = [0u64; 3];
            // Per prompt: the colours it names, and the colours read in each of its clips.
            let mut named: Vec<Vec<NamedColor>> = Vec::new();
            let mut reads: Vec<Vec<Vec<NamedColor>>> = Vec::new();
            for i in 0..prompts {
                let scene = random_scene(scene_seed, i, &config).with_overrides(Some((64, 64)), Some(9), None)?;
                let e = expected(scene);
                let rendered = Clip::render(&e.scene).frames;
                let control = check(&checker, &e, &rendered);
                add(&mut real, control);
                unnamed[0] += control.unnamed as u64;
                // The same clip encoded and decoded: the most any model in this latent space
                // can show the checker.
                let round_trip = check(&checker, &e, &vae.model.roundtrip(&vae.meta.config, &rendered, &device)?);
                add(&mut through_vae, round_trip);
                unnamed[1] += round_trip.unnamed as u64;
                let mut clip_reads = Vec::new();
                for s in 0..seeds {
                    let req = GenerateRequest {
                        prompt: e.prompt.clone(),
                        frames: 9,
                        width: 64,
                        height: 64,
                        seed: s,
                        steps,
                        guidance,
                        sampler: SamplerKind::Euler,
                    };
                    let out = generate(&vae, &dit, &req, &device)?;
                    let reading = checker.read(&out.frames);
                    let got = check_reading(&checker, &e, &reading, &out.frames);
                    add(&mut generated, got);
                    unnamed[2] += got.unnamed as u64;
                    clip_reads.push(reading.colors);
                    add_judged(&mut judged, control, got);
                }
                named.push(e.colors.clone());
                reads.push(clip_reads);
                eprintln!("{}/{prompts}: {}", i + 1, e.prompt);
            }
            // The last column keeps only the prompts whose rendered scene the checker reads
            // right for that attribute: the model's score where the checker can judge it.
            println!(
                "{:<26} {:>18} {:>18} {:>18} {:>18}",
                "attribute", "rendered (control)", "VAE round-trip", "generated", "where judgeable"
            );
            let cell = |t: &Tally| format!("{:>6.1} % of {:>3}", t.pct(), t.total);
            for (k, name) in names.iter().enumerate() {
                println!(
                    "{name:<26} {:>18} {:>18} {:>18} {:>18}",
                    cell(&real[k]),
                    cell(&through_vae[k]),
                    cell(&generated[k]),
                    cell(&judged[k])
                );
            }
            let per_clip = |sum: u64, clips: u64| sum as f64 / clips.max(1) as f64;
            let chance = next_prompt_colours(&named, &reads);
            println!(
                "{:<26} {:>18.2} {:>18.2} {:>18.2}",
                "unnamed colours per clip",
                per_clip(unnamed[0], prompts),
                per_clip(unnamed[1], prompts),
                per_clip(unnamed[2], prompts * seeds)
            );
            println!("{:<26} {:>18} {:>18} {:>18}", "colours of the next prompt", "", "", cell(&chance));
            Ok(())
        }
        EvalCommand::Prompting(args) => super::eval_prompting::run(args),
        EvalCommand::Stream(args) => super::eval_stream::run(args),
        EvalCommand::Actions(args) => super::eval_actions::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(terrain: bool, colors: bool, falls: Option<bool>) -> Checked {
        Checked { terrain, sky: true, colors, falls, unnamed: 0 }
    }

    #[test]
    fn judged_counts_only_what_the_control_reads_right() {
        let mut judged: [Tally; 5] = Default::default();
        // Control right on terrain only, no falling ball: colours are not judged.
        add_judged(&mut judged, checked(true, false, None), checked(false, true, Some(true)));
        // Control right on everything, falling ball seen: every row is judged.
        add_judged(&mut judged, checked(true, true, Some(true)), checked(true, true, Some(false)));
        // Control's falling ball wrong: the generated clip's fall is not judged.
        add_judged(&mut judged, checked(true, true, Some(false)), checked(true, false, Some(true)));
        let counts: Vec<(usize, usize)> = judged.iter().map(|t| (t.right, t.total)).collect();
        assert_eq!(counts, vec![(2, 3), (3, 3), (1, 2), (1, 2), (0, 1)]);
    }

    #[test]
    fn chance_judges_each_prompts_clips_by_the_next_prompts_colours() {
        use NamedColor::{Blue, Green, Red};
        // Prompt 0 names red, prompt 1 blue and green, prompt 2 nothing.
        let named = vec![vec![Red], vec![Blue, Green], vec![]];
        let reads = vec![
            // Judged against blue + green: only the clip showing both passes.
            vec![vec![Red, Blue, Green], vec![Red, Blue]],
            // Judged against nothing named: passes, as in the colour row.
            vec![vec![Blue]],
            // Wraps to prompt 0's red.
            vec![vec![Green], vec![Red]],
        ];
        let t = next_prompt_colours(&named, &reads);
        assert_eq!((t.right, t.total), (3, 5));
    }
}
