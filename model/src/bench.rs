//! Speed of the real networks: the DiT of a preset (forward and one AdamW training step) at a
//! given token count, a causal Conv3d layer and the VAE (forward and forward + backward). Used by
//! `worldsim bench dit|vae`; timings are means over repetitions after warm-up, and the FLOP
//! counts follow the same formulas as the PyTorch reference scripts so GFLOP/s compare.

use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::optim::GradientsParams;
use burn::optim::Optimizer;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

use crate::dit::layout::{AttentionMode, Layout, SampleShape};
use crate::dit::{Dit, DitConfig, DitInput};
use crate::train::run::adamw;
use crate::vae::VaeConfig;
use crate::vae::causal_conv::CausalConv3dConfig;

/// One DiT case: a single sample of `frames` latent frames of `grid` patches, reading
/// `text_tokens` text tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DitCase {
    /// Latent frames.
    pub frames: usize,
    /// Patches along height and width.
    pub grid: (usize, usize),
    /// Text tokens for cross-attention.
    pub text_tokens: usize,
}

impl DitCase {
    /// A case of exactly `tokens` tokens: latent frames of 64 tokens (a 64×64 clip) up to 5
    /// of them, else 5 frames of a larger grid when `tokens` divides, else one frame; each
    /// frame's grid as square as `tokens` allows.
    pub fn with_tokens(tokens: usize, text_tokens: usize) -> Self {
        let tokens = tokens.max(1);
        let frames = if tokens.is_multiple_of(64) && tokens / 64 <= 5 {
            tokens / 64
        } else if tokens.is_multiple_of(5) && tokens > 5 * 64 {
            5
        } else {
            1
        };
        let per_frame = tokens / frames;
        let h = (1..=per_frame.isqrt()).rev().find(|d| per_frame.is_multiple_of(*d)).unwrap_or(1);
        DitCase { frames, grid: (h, per_frame / h), text_tokens }
    }

    /// Tokens in all.
    pub fn tokens(&self) -> usize {
        self.frames * self.grid.0 * self.grid.1
    }
}

/// What one DiT case measured.
#[derive(Clone, Debug, Serialize)]
pub struct DitTiming {
    /// Tokens of the sample.
    pub tokens: usize,
    /// Width.
    pub dim: usize,
    /// Blocks.
    pub depth: usize,
    /// Attention heads.
    pub heads: usize,
    /// Text tokens.
    pub text_tokens: usize,
    /// Latent frames (one conditioning vector each).
    pub frames: usize,
    /// Milliseconds per forward (no autodiff).
    pub forward_ms: f64,
    /// Milliseconds per training step (forward, backward, AdamW).
    pub train_ms: f64,
    /// Forward FLOPs of the blocks (`2 · params · tokens + depth · 4 · tokens² · dim`).
    pub gflop: f64,
}

impl DitTiming {
    /// Forward GFLOP/s.
    pub fn forward_gflops(&self) -> f64 {
        self.gflop / (self.forward_ms / 1e3)
    }
}

/// Mean milliseconds of `reps` calls of `f` after `warmup` calls.
pub fn time_ms(warmup: usize, reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let start = Instant::now();
    for _ in 0..reps.max(1) {
        f();
    }
    start.elapsed().as_secs_f64() * 1e3 / reps.max(1) as f64
}

/// A random input for `case`.
fn dit_input<B: Backend>(config: &DitConfig, case: DitCase, device: &B::Device) -> DitInput<B> {
    let normal = Distribution::Normal(0.0, 1.0);
    let n = case.tokens();
    DitInput {
        tokens: Tensor::random([1, n, config.token_dim()], normal, device),
        noise: Tensor::random([case.frames], Distribution::Uniform(0.0, 1.0), device),
        pooled_text: Tensor::random([case.frames, config.text_dim], normal, device),
        action: Tensor::random([case.frames, config.text_dim], normal, device),
        text: Tensor::random([1, case.text_tokens, config.text_dim], normal, device),
    }
}

/// Parameters of the blocks (the part the FLOP formula counts).
fn block_params<B: Backend>(dit: &Dit<B>) -> usize {
    dit.blocks().iter().map(Module::num_params).sum()
}

/// Times the DiT of `config` on `case`: forward on `B::InnerBackend`, training step on `B`.
pub fn bench_dit<B: AutodiffBackend>(config: &DitConfig, case: DitCase, reps: usize, device: &B::Device) -> DitTiming {
    let layout =
        Layout::single(SampleShape::new(case.frames, case.grid, case.text_tokens), AttentionMode::Bidirectional);
    let train_model: Dit<B> = config.init(device);
    let model = train_model.valid();
    let inner_device = device.clone();
    let input = dit_input::<B::InnerBackend>(config, case, &inner_device);
    let tensors = model.layout_tensors(&layout, &inner_device);
    let forward_ms = time_ms(2, reps, || {
        let _ = model.forward(input.clone(), &tensors).into_data();
    });

    let train_input = dit_input::<B>(config, case, device);
    let train_tensors = train_model.layout_tensors(&layout, device);
    let mut optimizer = adamw::<B, Dit<B>>(0.0, 1.0);
    let mut train_model = Some(train_model);
    let train_ms = time_ms(1, reps.div_ceil(4).max(2), || {
        let m = train_model.take().expect("the model is put back after every step");
        let loss = m.forward(train_input.clone(), &train_tensors).powi_scalar(2).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        train_model = Some(optimizer.step(1e-4, m, grads));
    });

    let n = case.tokens() as f64;
    let params = block_params(&model) as f64;
    let gflop = (2.0 * params * n + (config.depth * 4) as f64 * n * n * config.dim as f64) / 1e9;
    DitTiming {
        tokens: case.tokens(),
        dim: config.dim,
        depth: config.depth,
        heads: config.heads,
        text_tokens: case.text_tokens,
        frames: case.frames,
        forward_ms,
        train_ms,
        gflop,
    }
}

/// What one convolution or VAE case measured.
#[derive(Clone, Debug, Serialize)]
pub struct ConvTiming {
    /// What was timed.
    pub case: String,
    /// Video frames of the input clip.
    pub frames: usize,
    /// Height and width of the input clip.
    pub size: [usize; 2],
    /// Milliseconds per forward (no autodiff).
    pub forward_ms: f64,
    /// Milliseconds per forward + backward.
    pub backward_ms: f64,
    /// Forward GFLOPs (convolutions only; `None` for the whole VAE).
    pub gflop: Option<f64>,
}

/// Times one causal 3D convolution `channels[0] → channels[1]` with `kernel` on a clip of
/// `frames × size`: forward, and forward + backward of the mean square of its output.
pub fn bench_conv3d<B: AutodiffBackend>(
    channels: [usize; 2],
    kernel: [usize; 3],
    frames: usize,
    size: [usize; 2],
    reps: usize,
    device: &B::Device,
) -> ConvTiming {
    let conv = CausalConv3dConfig::new(channels, kernel).init::<B>(device);
    let inner = conv.valid();
    let shape = [1, channels[0], frames, size[0], size[1]];
    let x = Tensor::<B::InnerBackend, 5>::random(shape, Distribution::Normal(0.0, 1.0), device);
    let forward_ms = time_ms(1, reps, || {
        let _ = inner.forward(x.clone()).into_data();
    });
    let xg = Tensor::<B, 5>::random(shape, Distribution::Normal(0.0, 1.0), device).require_grad();
    let backward_ms = time_ms(1, reps.div_ceil(2).max(2), || {
        let grads = conv.forward(xg.clone()).powi_scalar(2).mean().backward();
        let _ = xg.grad(&grads).map(|g| g.into_data());
    });
    let macs = channels[0] * channels[1] * kernel.iter().product::<usize>() * frames * size[0] * size[1];
    ConvTiming {
        case: format!("conv3d {}→{} {}×{}×{}", channels[0], channels[1], kernel[0], kernel[1], kernel[2]),
        frames,
        size,
        forward_ms,
        backward_ms,
        gflop: Some(2.0 * macs as f64 / 1e9),
    }
}

/// Times the VAE of `config` on a clip of `frames × size`: encode + decode (forward), and
/// forward + backward of a reconstruction loss.
pub fn bench_vae<B: AutodiffBackend>(
    config: &VaeConfig,
    frames: usize,
    size: [usize; 2],
    reps: usize,
    device: &B::Device,
) -> ConvTiming {
    let vae = config.init::<B>(device);
    let inner = vae.valid();
    let shape = [1, config.image_channels, frames, size[0], size[1]];
    let x = Tensor::<B::InnerBackend, 5>::random(shape, Distribution::Uniform(-1.0, 1.0), device);
    let forward_ms = time_ms(1, reps, || {
        let z = inner.encode(config, x.clone()).expect("a valid clip size").mean;
        let _ = inner.decode(config, z).expect("a valid latent").into_data();
    });
    let xa = Tensor::<B, 5>::from_inner(x);
    let backward_ms = time_ms(1, reps.div_ceil(2).max(2), || {
        let z = vae.encode(config, xa.clone()).expect("a valid clip size").sample();
        let y = vae.decode(config, z).expect("a valid latent");
        let _ = (y - xa.clone()).powi_scalar(2).mean().backward();
    });
    ConvTiming { case: "vae encode+decode".into(), frames, size, forward_ms, backward_ms, gflop: None }
}

/// Speed of a world-simulator stream (`worldsim bench stream`).
#[derive(Clone, Debug, Serialize)]
pub struct StreamTiming {
    /// Frame width.
    pub width: usize,
    /// Frame height.
    pub height: usize,
    /// Sampler steps per latent frame.
    pub steps: usize,
    /// Guidance scale (1: one network call per step, else two).
    pub guidance: f32,
    /// Video frames timed (after the first latent frame, which is one frame).
    pub frames: usize,
    /// Generated video frames per second.
    pub fps: f64,
    /// Mean milliseconds per latent step (4 video frames): total, denoise, cache commit, decode.
    pub step_ms: f64,
    /// Denoising share of a step.
    pub denoise_ms: f64,
    /// Cache commit share of a step.
    pub commit_ms: f64,
    /// VAE decode share of a step.
    pub decode_ms: f64,
    /// Action-to-pixel latency: from an action change arriving at a moment spread uniformly
    /// over a running step, until the step that uses it has its frames out (the rest of the
    /// running step plus the next one, from the measured step times). Display buffering in the
    /// plugin comes on top.
    pub latency_ms: f64,
}

/// Times `latent_steps` steps of a stream after one warm-up step, alternating the action every
/// step (as a player pressing keys would).
pub fn bench_stream<B: Backend>(
    model: &crate::stream::StreamModel<B>,
    spec: crate::stream::StreamSpec,
    config: crate::stream::StreamConfig,
    controls: &crate::stream::StreamControls,
    latent_steps: usize,
) -> Result<StreamTiming, crate::ModelError> {
    let (width, height) = (spec.width, spec.height);
    let mut session = crate::stream::StreamSession::new(model, spec, config)?;
    let actions = ["the player moves right", "the player jumps", "the player moves left"];
    let mut controls = controls.clone();
    // The first latent frame (one video frame) and the text encodings are warm-up.
    for a in actions {
        controls.action = Some(a.to_string());
        session.step(model, &controls)?;
    }
    let (mut frames, mut totals, mut parts) = (0, Vec::new(), [0.0; 3]);
    let clock = Instant::now();
    for i in 0..latent_steps.max(2) {
        controls.action = Some(actions[i % actions.len()].to_string());
        let start = Instant::now();
        let step = session.step(model, &controls)?;
        totals.push(start.elapsed().as_secs_f64() * 1e3);
        frames += step.frames.len();
        parts[0] += step.timings.denoise_ms;
        parts[1] += step.timings.commit_ms;
        parts[2] += step.timings.decode_ms;
    }
    let secs = clock.elapsed().as_secs_f64();
    let n = totals.len() as f64;
    // An action arriving at a fraction u of step k waits (1 − u)·T_k, then T_{k+1}.
    let samples = 8;
    let mut latency = 0.0;
    for w in totals.windows(2) {
        for j in 0..samples {
            let u = (j as f64 + 0.5) / samples as f64;
            latency += (1.0 - u) * w[0] + w[1];
        }
    }
    latency /= ((totals.len() - 1) * samples) as f64;
    Ok(StreamTiming {
        width,
        height,
        steps: controls.steps,
        guidance: controls.guidance,
        frames,
        fps: frames as f64 / secs,
        step_ms: totals.iter().sum::<f64>() / n,
        denoise_ms: parts[0] / n,
        commit_ms: parts[1] / n,
        decode_ms: parts[2] / n,
        latency_ms: latency,
    })
}
