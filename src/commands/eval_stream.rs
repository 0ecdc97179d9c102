//! `worldsim eval stream`: what the world simulator promises, measured with the ground truth.
//! - action following: streams driven by a script of 2-second windows (right, left, jump, …);
//!   the player is found in every generated frame by its colour (the fidelity checker's
//!   tracker) and a window obeys when the centre moved the right way between the window's
//!   first frame made under the action and its last; the same script rendered by the
//!   ground-truth world is scored by the same tracker as a control;
//! - prompt fidelity: each 2-second window of the same streams read by the fidelity checker:
//!   is the terrain, the sky and the player's colour the prompt's, and how many other named
//!   colours show (the scripted worlds hold only the player; the ground truth's own
//!   rendering, read the same way, is the control);
//! - long rollouts: per-frame mean colour of a 1,000-frame stream against the range the
//!   ground-truth world's frames span, and action following in its last windows.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use worldsim_model::Cpu;
use worldsim_model::diffusion::SamplerKind;
use worldsim_model::stream::{STREAM_GUIDANCE, StreamModel, StreamSession, StreamSpec};
use worldsim_scenes::fidelity::FidelityChecker;
use worldsim_scenes::media::write_video;
use worldsim_scenes::random::{RandomSceneConfig, random_scene};
use worldsim_scenes::scene::{Action, Scene};
use worldsim_scenes::{Clip, Frame};

use super::stream::{ActionScript, Rollout, roll_out};
use worldsim_model::weights::shipped_model_dir;

/// Arguments of `eval stream`.
#[derive(clap::Args)]
pub struct EvalStreamArgs {
    /// The model folder (default: the shipped tiny model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Scripted streams for action following (each a different world and seed).
    #[arg(long, default_value_t = 6)]
    streams: u64,
    /// Windows per scripted stream (right, left, jump in turn).
    #[arg(long, default_value_t = 6)]
    windows: usize,
    /// Seconds per window.
    #[arg(long, default_value_t = 2.0)]
    window_seconds: f32,
    /// Frames of the long rollout (0: skip it).
    #[arg(long, default_value_t = 1000)]
    rollout_frames: usize,
    /// Stream size WIDTHxHEIGHT.
    #[arg(long, value_parser = super::parse_size, default_value = "64x64")]
    size: (u32, u32),
    /// Sampler steps per latent frame.
    #[arg(long, default_value_t = 6)]
    steps: usize,
    /// Guidance scale.
    #[arg(long, default_value_t = STREAM_GUIDANCE)]
    guidance: f32,
    /// Guidance scale of the action caption on its own (default: none, the action guided
    /// with --guidance like the prompt; a value adds a third branch, the prompt without action).
    #[arg(long)]
    action_guidance: Option<f32>,
    #[command(flatten)]
    keep: super::stream::StreamConfigArgs,
    /// Start every stream from its world's first frame (rendered) instead of generating it.
    #[arg(long)]
    from_image: bool,
    /// Print every window: its action, the player's centre where it is judged (first frame
    /// under the action, last frame) and the verdict, for the model and the ground truth.
    #[arg(long)]
    trace: bool,
    /// Write each scripted stream to DIR/world_I.gif, the ground truth on the left and the
    /// model's stream on the right.
    #[arg(long, value_name = "DIR")]
    save: Option<PathBuf>,
}

const FPS: u32 = 12;
/// The scripted worlds (player colour, terrain, sky), shared with `eval actions`.
pub(super) const WORLDS: [(&str, &str, &str); 6] = [
    ("blue", "grass", "day"),
    ("red", "snow", "day"),
    ("yellow", "sand", "dusk"),
    ("white", "grass", "night"),
    ("purple", "sand", "day"),
    ("orange", "snow", "dusk"),
];
const CYCLE: [Action; 3] = [Action::Right, Action::Left, Action::Jump];

/// Obeyed / total windows per action.
#[derive(Default, Clone, Copy)]
struct Score {
    obeyed: [usize; 3],
    total: [usize; 3],
}

impl Score {
    fn add(&mut self, other: Score) {
        for i in 0..3 {
            self.obeyed[i] += other.obeyed[i];
            self.total[i] += other.total[i];
        }
    }

    fn line(&self) -> String {
        let actions = (0..3)
            .map(|i| {
                let share = self.obeyed[i] as f32 / self.total[i].max(1) as f32;
                format!("{} {}/{} ({:.0} %)", CYCLE[i].name(), self.obeyed[i], self.total[i], 100.0 * share)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let (k, n) = (self.obeyed.iter().sum::<usize>(), self.total.iter().sum::<usize>());
        let (low, high) = wilson_interval(k, n);
        format!(
            "{actions}; all {k}/{n} ({:.0} %, 95 % interval {:.0}–{:.0} %)",
            100.0 * k as f64 / n.max(1) as f64,
            100.0 * low,
            100.0 * high
        )
    }
}

/// The 95 % Wilson score interval of a share of `k` successes in `n` trials (`(0, 1)` when
/// `n` is 0): how far a count of obeyed windows may move between runs by chance alone, so
/// that two settings are compared against it rather than by their difference.
fn wilson_interval(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    const Z: f64 = 1.959_964; // the normal quantile of 97.5 %
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let denominator = 1.0 + Z * Z / n;
    let centre = (p + Z * Z / (2.0 * n)) / denominator;
    let half = Z * (p * (1.0 - p) / n + Z * Z / (4.0 * n * n)).sqrt() / denominator;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::wilson_interval;

    #[test]
    fn the_wilson_interval_matches_its_reference_values() {
        // Reference values from statsmodels 0.15's `proportion_confint(k, n, method="wilson")`.
        let (low, high) = wilson_interval(93, 144);
        assert!((low - 0.564_858).abs() < 1e-5 && (high - 0.719_230).abs() < 1e-5, "{low} {high}");
        // All or nothing stays inside 0..1 and is not a point.
        let (low, high) = wilson_interval(10, 10);
        assert!((high - 1.0).abs() < 1e-9 && (low - 0.722_467).abs() < 1e-5, "{low} {high}");
        assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
    }
}

/// The scene of scripted world `i`: a player of a known colour, its commands in windows of
/// right, left, jump. It starts near the left edge of the view, so walking right for a window
/// (2 m/s) and back left keeps it in view (a square view is 5 m wide).
fn scripted_scene(i: u64, windows: usize, window_seconds: f32, (w, h): (u32, u32)) -> Result<Scene> {
    let half_view = 2.5 * w as f32 / h as f32;
    let start_x = -(half_view - 0.5).min(2.0 * window_seconds / 2.0);
    let (color, terrain, sky) = WORLDS[i as usize % WORLDS.len()];
    let frames = (windows as f32 * window_seconds * FPS as f32).round() as u32 + 1;
    let actions: Vec<String> = (0..windows)
        .map(|k| format!("({:.3}, {})", k as f32 * window_seconds, CYCLE[k % CYCLE.len()].name()))
        .collect();
    let text = format!(
        "Scene(name: \"eval_stream_{i}\", width: {w}, height: {h}, fps: {FPS}, frames: {frames}, seed: {}, \
         terrain: {terrain}, sky: {sky}, player: Some(Player(color: {color}, x: {start_x:.3}, facing: right, \
         actions: [{}])))",
        5000 + i,
        actions.join(", ")
    );
    Ok(Scene::parse(&text, "<eval stream>")?)
}

/// Windows whose terrain, sky and player colour read as the prompt's, of `windows`.
#[derive(Default, Clone, Copy)]
struct Fidelity {
    terrain: usize,
    sky: usize,
    player: usize,
    /// Named colours read that are not the player's, summed over windows (clutter the
    /// prompt did not ask for; the scripted worlds hold nothing but the player).
    others: usize,
    windows: usize,
}

impl Fidelity {
    fn add(&mut self, other: Fidelity) {
        self.terrain += other.terrain;
        self.sky += other.sky;
        self.player += other.player;
        self.others += other.others;
        self.windows += other.windows;
    }

    fn line(&self) -> String {
        let pct = |k: usize| 100.0 * k as f32 / self.windows.max(1) as f32;
        format!(
            "terrain {}/{n} ({:.0} %), sky {}/{n} ({:.0} %), player colour {}/{n} ({:.0} %), other colours {:.2} per window",
            self.terrain,
            pct(self.terrain),
            self.sky,
            pct(self.sky),
            self.player,
            pct(self.player),
            self.others as f32 / self.windows.max(1) as f32,
            n = self.windows
        )
    }
}

/// Reads each window of `frames` (a video of `scene`'s script) with the fidelity checker.
fn fidelity(checker: &FidelityChecker, scene: &Scene, frames: &[Frame], window_frames: usize) -> Fidelity {
    let player = scene.player.as_ref().expect("scripted scenes have a player");
    let mut f = Fidelity::default();
    for window in frames.chunks(window_frames).filter(|w| w.len() == window_frames) {
        let r = checker.read(window);
        f.terrain += usize::from(r.terrain == scene.terrain);
        f.sky += usize::from(r.sky == scene.sky);
        f.player += usize::from(r.colors.contains(&player.color));
        f.others += r.colors.iter().filter(|c| **c != player.color).count();
        f.windows += 1;
    }
    f
}

/// The player's tracked centre in every frame of `frames` (a video of `scene`'s script).
fn centres(checker: &FidelityChecker, scene: &Scene, frames: &[Frame]) -> Vec<Option<(f32, f32)>> {
    let player = scene.player.as_ref().expect("scripted scenes have a player");
    checker.centres(frames, scene.terrain, scene.sky, player.color)
}

/// Each whole window of a video of `frames` frames: its index, and the frames it is judged
/// between — the first that can show the action (its latent frame starts a frame later) and
/// the window's last.
fn windows(frames: usize, window_frames: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    (0..)
        .map(move |k| (k, k * window_frames))
        .take_while(move |(_, start)| start + window_frames < frames)
        .map(move |(k, start)| (k, start + 1, start + window_frames))
}

/// Whether window `k` (judged from frame `a` to `b`) obeyed its action.
fn obeyed(centres: &[Option<(f32, f32)>], k: usize, a: usize, b: usize) -> bool {
    match (centres[a], centres[b]) {
        (Some((xa, ya)), Some((xb, _))) => match CYCLE[k % CYCLE.len()] {
            Action::Right => xb > xa + 0.5,
            Action::Left => xb < xa - 0.5,
            _ => centres[a..=b].iter().flatten().any(|(_, y)| *y < ya - 1.0),
        },
        _ => false,
    }
}

/// Scores each window from the `skip`-th on, from the tracked `centres` of a scripted video.
fn score(centres: &[Option<(f32, f32)>], window_frames: usize, skip: usize) -> Score {
    let mut s = Score::default();
    for (k, a, b) in windows(centres.len(), window_frames).skip(skip) {
        let which = k % CYCLE.len();
        s.total[which] += 1;
        s.obeyed[which] += usize::from(obeyed(centres, k, a, b));
    }
    s
}

/// One line per window: the action, the tracked centre (x, y in pixels) where it is judged
/// (`-` where the player was not found), in how many of its frames the player was found, and
/// the verdict.
fn trace(centres: &[Option<(f32, f32)>], window_frames: usize) -> String {
    let at = |i: usize| centres[i].map_or("-".to_string(), |(x, y)| format!("({x:.1}, {y:.1})"));
    windows(centres.len(), window_frames)
        .map(|(k, a, b)| {
            let found = centres[a..=b].iter().filter(|c| c.is_some()).count();
            let verdict = if obeyed(centres, k, a, b) { "obeyed" } else { "not obeyed" };
            format!(
                "{} {} → {} (found in {found}/{}, {verdict})",
                CYCLE[k % CYCLE.len()].name(),
                at(a),
                at(b),
                b - a + 1
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Writes `dir/world_{i}.gif`: each ground-truth frame with the model's frame beside it.
fn save_pair(dir: &std::path::Path, i: u64, truth: &[Frame], generated: &[Frame]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating --save folder {}", dir.display()))?;
    let frames: Vec<Frame> = truth.iter().zip(generated).filter_map(|(t, g)| t.beside(g)).collect();
    let path = dir.join(format!("world_{i}.gif"));
    write_video(&path.to_string_lossy(), &frames, FPS).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Per-frame mean colour `[r, g, b]`.
fn mean_rgb(frame: &Frame) -> [f32; 3] {
    let mut sum = [0.0f64; 3];
    for px in frame.rgb.chunks_exact(3) {
        for c in 0..3 {
            sum[c] += f64::from(px[c]);
        }
    }
    let n = (frame.rgb.len() / 3).max(1) as f64;
    sum.map(|s| (s / n) as f32)
}

/// The mean of per-frame mean colours.
fn mean_of(means: &[[f32; 3]]) -> [f32; 3] {
    let n = means.len().max(1) as f32;
    means.iter().fold([0.0; 3], |a, m| [a[0] + m[0] / n, a[1] + m[1] / n, a[2] + m[2] / n])
}

/// Streams `frames` frames of `scene`'s script (its prompt, seed) and returns them.
fn stream_script(
    model: &StreamModel<Cpu>,
    scene: &Scene,
    script: &ActionScript,
    frames: usize,
    args: &EvalStreamArgs,
) -> Result<Vec<Frame>> {
    let prompt = Clip::truth(scene).1.prompt;
    let spec = StreamSpec { width: scene.width as usize, height: scene.height as usize, seed: scene.seed };
    let config = args.keep.config();
    let mut session = StreamSession::new(model, spec, config)?;
    let first = if args.from_image { scene.with_overrides(None, Some(1), None).ok() } else { None };
    let first = first.map(|s| Clip::render(&s).frames.remove(0));
    let rollout = Rollout {
        prompt: &prompt,
        script,
        fps: FPS,
        frames,
        steps: args.steps,
        guidance: args.guidance,
        action_guidance: args.action_guidance,
        sampler: SamplerKind::Euler,
        start: first.as_ref(),
    };
    roll_out(model, &mut session, &rollout, |_, _| {})
}

/// Runs `eval stream`.
pub fn run(args: EvalStreamArgs) -> Result<()> {
    let dir = args.model.clone().unwrap_or_else(shipped_model_dir);
    let model = StreamModel::<Cpu>::load(&dir, Default::default())?;
    let checker = FidelityChecker::calibrate();
    let window_frames = (args.window_seconds * FPS as f32).round() as usize;
    println!(
        "action following: {} streams × {} windows of {} s ({} frames), {}×{}, {} steps, guidance {}{}",
        args.streams,
        args.windows,
        args.window_seconds,
        window_frames,
        args.size.0,
        args.size.1,
        args.steps,
        args.guidance,
        args.action_guidance.map_or(String::new(), |a| format!(", action guidance {a}"))
    );
    let (mut model_score, mut truth_score) = (Score::default(), Score::default());
    let (mut model_fidelity, mut truth_fidelity) = (Fidelity::default(), Fidelity::default());
    let clock = Instant::now();
    for i in 0..args.streams {
        let scene = scripted_scene(i, args.windows, args.window_seconds, args.size)?;
        let script = scene.player.as_ref().map(|p| p.actions.clone()).unwrap_or_default();
        let truth = Clip::render(&scene).frames;
        let generated = stream_script(&model, &scene, &script, truth.len(), &args)?;
        let (model_centres, truth_centres) = (centres(&checker, &scene, &generated), centres(&checker, &scene, &truth));
        let (m, t) = (score(&model_centres, window_frames, 0), score(&truth_centres, window_frames, 0));
        println!(
            "  world {i} ({:?} player): model {} | ground truth {}",
            scene.player.as_ref().map(|p| p.color),
            m.line(),
            t.line()
        );
        if let Some(dir) = &args.save {
            save_pair(dir, i, &truth, &generated)?;
        }
        if args.trace {
            println!("    model: {}", trace(&model_centres, window_frames));
            println!("    truth: {}", trace(&truth_centres, window_frames));
        }
        model_score.add(m);
        truth_score.add(t);
        model_fidelity.add(fidelity(&checker, &scene, &generated, window_frames));
        truth_fidelity.add(fidelity(&checker, &scene, &truth, window_frames));
    }
    println!("model:        {}", model_score.line());
    println!("ground truth: {} (the tracker's control)", truth_score.line());
    println!("prompt fidelity per window, model:        {}", model_fidelity.line());
    println!("prompt fidelity per window, ground truth: {} (the checker's control)", truth_fidelity.line());
    println!("({:.0} s)", clock.elapsed().as_secs_f64());

    if args.rollout_frames == 0 {
        return Ok(());
    }
    // The ground-truth world's range of per-frame mean colours, over random held-out clips.
    let config = RandomSceneConfig { areas: vec![args.size.0 * args.size.1], ..RandomSceneConfig::default() };
    let (mut lo, mut hi) = ([f32::MAX; 3], [f32::MIN; 3]);
    for k in 0..40 {
        let clip = Clip::render(&random_scene(4242, k, &config));
        for f in &clip.frames {
            let m = mean_rgb(f);
            for c in 0..3 {
                lo[c] = lo[c].min(m[c]);
                hi[c] = hi[c].max(m[c]);
            }
        }
    }
    let windows = (args.rollout_frames / window_frames).max(1);
    let scene = scripted_scene(0, windows, args.window_seconds, args.size)?;
    let script = scene.player.as_ref().map(|p| p.actions.clone()).unwrap_or_default();
    let clock = Instant::now();
    let frames =
        stream_script(&model, &scene, &script, args.rollout_frames, &args).context("the long rollout failed")?;
    let secs = clock.elapsed().as_secs_f64();
    let means: Vec<[f32; 3]> = frames.iter().map(mean_rgb).collect();
    let inside = means.iter().filter(|m| (0..3).all(|c| m[c] >= lo[c] && m[c] <= hi[c])).count();
    let first = mean_of(&means[..means.len().min(100)]);
    let last = mean_of(&means[means.len().saturating_sub(100)..]);
    println!(
        "rollout of {} frames in {secs:.0} s ({:.1} frames/s): per-frame mean colour inside the ground truth's range \
         (R {:.0}–{:.0}, G {:.0}–{:.0}, B {:.0}–{:.0}) in {inside}/{} frames ({:.1} %)",
        frames.len(),
        frames.len() as f64 / secs,
        lo[0],
        hi[0],
        lo[1],
        hi[1],
        lo[2],
        hi[2],
        frames.len(),
        100.0 * inside as f32 / frames.len() as f32
    );
    println!(
        "  mean colour, first 100 frames ({:.0}, {:.0}, {:.0}); last 100 ({:.0}, {:.0}, {:.0})",
        first[0], first[1], first[2], last[0], last[1], last[2]
    );
    let tail_from = windows.saturating_sub(6);
    let tail = score(&centres(&checker, &scene, &frames), window_frames, tail_from);
    println!("  action following in the last {} windows: {}", windows - tail_from, tail.line());
    Ok(())
}
