//! `worldsim bench dit|vae`: times the shipped presets' real networks on the CPU backend and,
//! with `--reference SCRIPT`, runs a PyTorch reference with the same configuration in the same
//! run and prints the ratio (ours / PyTorch).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::Value;
use worldsim_model::CpuAutodiff;
use worldsim_model::bench::{ConvTiming, DitCase, DitTiming, bench_conv3d, bench_dit, bench_vae};
use worldsim_model::dit::DitConfig;
use worldsim_model::vae::VaeConfig;

/// What to time.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// The DiT of a preset: forward and training step at several token counts.
    Dit(DitArgs),
    /// A causal Conv3d layer and the VAE of a preset: forward and forward + backward.
    Vae(VaeArgs),
    /// World-simulator streaming with the shipped model: video frames/s, action-to-pixel
    /// latency and where a step's time goes.
    Stream(StreamArgs),
}

/// Arguments of `bench stream`.
#[derive(Args)]
pub struct StreamArgs {
    /// Stream sizes `WxH`, comma-separated (64×64 is the real-time target; 128×96 the scenes' size).
    #[arg(long, value_delimiter = ',', default_value = "64x64,128x96", value_parser = super::parse_size)]
    sizes: Vec<(u32, u32)>,
    /// Sampler steps per latent frame.
    #[arg(long, default_value_t = 6)]
    steps: usize,
    /// Guidance scale (1: no unconditional branch).
    #[arg(long, default_value_t = worldsim_model::stream::STREAM_GUIDANCE)]
    guidance: f32,
    /// Guidance scale of the action caption on its own (default: none; a value adds a third
    /// branch to every network call).
    #[arg(long)]
    action_guidance: Option<f32>,
    /// Latent steps timed per size (each makes 4 video frames).
    #[arg(long, default_value_t = 12)]
    latent_steps: usize,
    /// The model folder (default: the shipped tiny model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// One JSON object per size; the last line is the 64×64 case as `{"fps": …, "latency_ms": …}`.
    #[arg(long)]
    json: bool,
}

/// Arguments of `bench dit`.
#[derive(Args)]
pub struct DitArgs {
    /// DiT preset (`tiny`, `base`).
    #[arg(long, default_value = "tiny")]
    preset: String,
    /// Token counts to time, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "64,320,1280")]
    tokens: Vec<usize>,
    /// Text tokens for cross-attention.
    #[arg(long, default_value_t = 16)]
    text: usize,
    /// Forward repetitions (training steps: a quarter as many, at least 2).
    #[arg(long, default_value_t = 12)]
    reps: usize,
    /// PyTorch reference script (e.g. ../shared/tools/torch_dit_ref.py) to run with the same
    /// configuration; needs `python3` with `torch`.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Rounds per case, ours and the reference taking turns; the table gives the medians of the
    /// timings and of the per-round ratios (a shared machine drifts by tens of percent).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// One JSON object per case instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `bench vae`.
#[derive(Args)]
pub struct VaeArgs {
    /// VAE preset (`tiny`, `base`).
    #[arg(long, default_value = "tiny")]
    preset: String,
    /// Video frames of the clip.
    #[arg(long, default_value_t = 17)]
    frames: usize,
    /// Clip size `WxH`.
    #[arg(long, default_value = "64x64", value_parser = super::parse_size)]
    size: (u32, u32),
    /// Repetitions.
    #[arg(long, default_value_t = 6)]
    reps: usize,
    /// PyTorch Conv3d reference script (tools/torch_conv3d_ref.py) to run with the same layer.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// One JSON object per case instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs a bench command.
pub fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Dit(a) => run_dit(a),
        BenchCommand::Vae(a) => run_vae(a),
        BenchCommand::Stream(a) => run_stream(a),
    }
}

/// Runs `python3 script args… --json` when a script is given and returns the two timings named
/// `keys` from its last JSON line.
fn reference(script: Option<&Path>, args: &[String], keys: [&str; 2]) -> Result<[Option<f64>; 2]> {
    let Some(script) = script else { return Ok([None, None]) };
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .arg("--json")
        .output()
        .with_context(|| format!("could not run python3 {}", script.display()))?;
    if !out.status.success() {
        bail!("reference {} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).context("reference printed no JSON")?;
    let value: Value = serde_json::from_str(line).context("reference printed bad JSON")?;
    Ok(keys.map(|key| value.get(key).and_then(Value::as_f64)))
}

/// A timing (as JSON) with the reference's timings that were measured added.
fn json_line(mut line: Value, reference: &[(&str, Option<f64>)]) -> Value {
    if let Some(obj) = line.as_object_mut() {
        for (key, value) in reference {
            if let Some(v) = value {
                obj.insert((*key).into(), (*v).into());
            }
        }
    }
    line
}

/// One round of `bench dit` on one case: ours, then the reference's forward and training step.
struct Round {
    ours: DitTiming,
    torch_forward: Option<f64>,
    torch_train: Option<f64>,
}

/// The median of `values` (the mean of the middle two for an even count); `None` if empty.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    (n > 0).then(|| if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

/// A table cell for a timing that may be missing.
fn cell(ms: Option<f64>) -> String {
    ms.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

fn ratio(ours: f64, theirs: Option<f64>) -> String {
    theirs.map_or_else(|| "-".into(), |t| format!("{:.2}×", ours / t))
}

fn run_dit(a: DitArgs) -> Result<()> {
    let config =
        DitConfig::preset(&a.preset).with_context(|| format!("unknown --preset `{}`; use tiny or base", a.preset))?;
    if a.tokens.is_empty() || a.tokens.contains(&0) {
        bail!("--tokens: give positive token counts, e.g. 64,320,1280");
    }
    let device = Default::default();
    if !a.json {
        println!(
            "DiT `{}`: dim {}, depth {}, heads {}, text tokens {}, CPU (burn-flex), {} threads",
            a.preset,
            config.dim,
            config.depth,
            config.heads,
            a.text,
            std::thread::available_parallelism().map_or(1, usize::from)
        );
        println!(
            "{:>7} {:>6} | {:>10} {:>8} {:>10} | {:>10} {:>10} | {:>7} {:>7}",
            "tokens", "frames", "fwd ms", "GFLOP/s", "train ms", "torch fwd", "torch trn", "fwd ×", "train ×"
        );
    }
    if a.rounds == 0 {
        bail!("--rounds: give at least 1");
    }
    for &tokens in &a.tokens {
        let case = DitCase::with_tokens(tokens, a.text);
        let mut rounds = Vec::new();
        for _ in 0..a.rounds {
            let t: DitTiming = bench_dit::<CpuAutodiff>(&config, case, a.reps, &device);
            let args = [
                format!("--dim={}", t.dim),
                format!("--depth={}", t.depth),
                format!("--heads={}", t.heads),
                format!("--tokens={}", t.tokens),
                format!("--text={}", t.text_tokens),
                format!("--frames={}", t.frames),
                format!("--reps={}", a.reps),
            ];
            let [tf, tt] = reference(a.reference.as_deref(), &args, ["forward_ms", "train_ms"])?;
            rounds.push(Round { ours: t, torch_forward: tf, torch_train: tt });
        }
        let med = |f: &dyn Fn(&Round) -> Option<f64>| median(rounds.iter().filter_map(f).collect());
        let (forward_ms, train_ms) = (med(&|r| Some(r.ours.forward_ms)), med(&|r| Some(r.ours.train_ms)));
        let (tf, tt) = (med(&|r| r.torch_forward), med(&|r| r.torch_train));
        let forward_ratio = med(&|r| r.torch_forward.map(|t| r.ours.forward_ms / t));
        let train_ratio = med(&|r| r.torch_train.map(|t| r.ours.train_ms / t));
        let t = DitTiming {
            forward_ms: forward_ms.unwrap_or(f64::NAN),
            train_ms: train_ms.unwrap_or(f64::NAN),
            ..rounds[0].ours.clone()
        };
        if a.json {
            let reference = [
                ("torch_forward_ms", tf),
                ("torch_train_ms", tt),
                ("forward_ratio", forward_ratio),
                ("train_ratio", train_ratio),
            ];
            println!("{}", json_line(serde_json::to_value(&t)?, &reference));
        } else {
            let ratio = |r: Option<f64>| r.map_or_else(|| "-".into(), |r| format!("{r:.2}×"));
            println!(
                "{:>7} {:>6} | {:>10.1} {:>8.0} {:>10.1} | {:>10} {:>10} | {:>7} {:>7}",
                t.tokens,
                t.frames,
                t.forward_ms,
                t.forward_gflops(),
                t.train_ms,
                cell(tf),
                cell(tt),
                ratio(forward_ratio),
                ratio(train_ratio)
            );
        }
    }
    Ok(())
}

fn run_vae(a: VaeArgs) -> Result<()> {
    let config =
        VaeConfig::preset(&a.preset).with_context(|| format!("unknown --preset `{}`; use tiny or base", a.preset))?;
    let size = [a.size.1 as usize, a.size.0 as usize];
    config.check_video(a.frames, size[0], size[1])?;
    let device = Default::default();
    // The layer of the reference measurement (64 → 64 channels, 3³) and the whole VAE.
    let (channels, kernel) = ([64, 64], [3, 3, 3]);
    let conv: ConvTiming = bench_conv3d::<CpuAutodiff>(channels, kernel, a.frames, size, a.reps, &device);
    let args = [
        format!("--channels={}", channels[0]),
        format!("--kernel={}", kernel[0]),
        format!("--frames={}", a.frames),
        format!("--height={}", size[0]),
        format!("--width={}", size[1]),
        format!("--reps={}", a.reps),
    ];
    let [tf, tb] = reference(a.reference.as_deref(), &args, ["forward_ms", "backward_ms"])?;
    let vae = bench_vae::<CpuAutodiff>(&config, a.frames, size, a.reps, &device);
    if a.json {
        println!("{}", json_line(serde_json::to_value(&conv)?, &[("torch_forward_ms", tf), ("torch_backward_ms", tb)]));
        println!("{}", serde_json::to_value(&vae)?);
        return Ok(());
    }
    println!("{} frames {}×{}, CPU (burn-flex)", a.frames, size[1], size[0]);
    println!(
        "{:>24} | {:>9} {:>8} {:>11} | {:>9} {:>11} | {:>7} {:>9}",
        "case", "fwd ms", "GFLOP/s", "fwd+bwd ms", "torch fwd", "torch f+b", "fwd ×", "f+b ×"
    );
    for (t, tf, tb) in [(&conv, tf, tb), (&vae, None, None)] {
        let gflops = t.gflop.map_or_else(|| "-".into(), |g| format!("{:.0}", g / (t.forward_ms / 1e3)));
        println!(
            "{:>24} | {:>9.1} {:>8} {:>11.1} | {:>9} {:>11} | {:>7} {:>9}",
            t.case,
            t.forward_ms,
            gflops,
            t.backward_ms,
            cell(tf),
            cell(tb),
            ratio(t.forward_ms, tf),
            ratio(t.backward_ms, tb)
        );
    }
    Ok(())
}

fn run_stream(a: StreamArgs) -> Result<()> {
    use worldsim_model::Cpu;
    use worldsim_model::bench::{StreamTiming, bench_stream};
    use worldsim_model::diffusion::SamplerKind;
    use worldsim_model::stream::{StreamConfig, StreamControls, StreamModel, StreamSpec};

    let dir = a.model.clone().unwrap_or_else(worldsim_model::weights::shipped_model_dir);
    let model = StreamModel::<Cpu>::load(&dir, Default::default())?;
    let controls = StreamControls {
        prompt: "a blue player walking on grass on a sunny day".into(),
        action: None,
        steps: a.steps,
        guidance: a.guidance,
        action_guidance: a.action_guidance,
        sampler: SamplerKind::Euler,
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if !a.json {
        println!(
            "stream, shipped model, CPU (burn-flex), {threads} threads, {} steps, guidance {}, window {}",
            a.steps,
            a.guidance,
            StreamConfig::default().window
        );
        println!(
            "{:>9} | {:>8} {:>12} | {:>8} {:>8} {:>8} {:>8}",
            "size", "fps", "latency ms", "step ms", "denoise", "cache", "decode"
        );
    }
    let mut small: Option<StreamTiming> = None;
    for &(w, h) in &a.sizes {
        let spec = StreamSpec { width: w as usize, height: h as usize, seed: 0 };
        let t = bench_stream(&model, spec, StreamConfig::default(), &controls, a.latent_steps)?;
        if a.json {
            println!("{}", serde_json::to_value(&t)?);
        } else {
            println!(
                "{:>9} | {:>8.1} {:>12.0} | {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
                format!("{w}x{h}"),
                t.fps,
                t.latency_ms,
                t.step_ms,
                t.denoise_ms,
                t.commit_ms,
                t.decode_ms
            );
        }
        if (w, h) == (64, 64) {
            small = Some(t);
        }
    }
    if a.json
        && let Some(t) = small
    {
        println!("{}", serde_json::json!({ "fps": t.fps, "latency_ms": t.latency_ms }));
    }
    Ok(())
}
