//! Streaming with the shipped model: a session's frames equal generating the same latents
//! offline (a full frame-causal forward over the clip so far, then a whole-clip VAE decode);
//! memory stays bounded by the window; same seed ⇒ same bytes; actions and prompts change the
//! output from the next frame on; bad streams are errors naming the field.

use std::path::PathBuf;

use burn::prelude::*;
use worldsim_model::diffusion::SamplerKind;
use worldsim_model::diffusion::sampler::guided;
use worldsim_model::dit::NoisySample;
use worldsim_model::dit::layout::AttentionMode;
use worldsim_model::dit::patch::unpatchify;
use worldsim_model::prompting::pipeline::caption;
use worldsim_model::stream::{GuidanceFocus, StreamConfig, StreamControls, StreamModel, StreamSession, StreamSpec};
use worldsim_model::video::frames_from_tensor;
use worldsim_model::{Cpu, ModelError};
use worldsim_scenes::Frame;

type B = Cpu;

fn shipped() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("../assets/models/tiny")
}

fn model() -> StreamModel<B> {
    StreamModel::load(&shipped(), Default::default()).expect("shipped model")
}

fn controls(action: Option<&str>) -> StreamControls {
    StreamControls {
        prompt: "a blue player walking on grass on a sunny day".into(),
        action: action.map(str::to_string),
        steps: 4,
        guidance: 3.0,
        action_guidance: None,
        sampler: SamplerKind::Euler,
    }
}

const SPEC: StreamSpec = StreamSpec { width: 32, height: 32, seed: 11 };

fn max_diff(a: &[Frame], b: &[Frame]) -> u8 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).flat_map(|(x, y)| x.rgb.iter().zip(&y.rgb).map(|(p, q)| p.abs_diff(*q))).max().unwrap_or(0)
}

/// The frames a stream of `actions` makes, computed offline: each new frame denoised by a full
/// frame-causal forward over [noised past, x] per branch, with the stream's noise, schedule and
/// per-frame actions, the branches combined as `StreamControls` documents.
fn offline(m: &StreamModel<B>, config: &StreamConfig, actions: &[Option<&str>], c: &StreamControls) -> Vec<Frame> {
    let dit = &m.dit;
    let tokenizer = &dit.meta.tokenizer;
    let (prompt_tokens, _, _) =
        caption(dit, &c.prompt, SPEC.seed, (SPEC.width, SPEC.height), config.caption_frames, config.steered_caption)
            .expect("caption");
    let null = tokenizer.null();
    let (grid, p) = ((4, 4), dit.meta.model.patch);
    let n = grid.0 * grid.1;
    let reference = StreamSession::new(m, SPEC, config.clone()).expect("session");
    let sigma = config.context_noise;
    let mut context: Vec<Tensor<B, 2>> = Vec::new();
    let mut latents: Vec<Tensor<B, 2>> = Vec::new();
    // Guidance's focus: the tokens of the largest summed push `|reference − unconditional|²`
    // over the last frame's steps (none before the first frame is made).
    let mut focus: Option<Vec<f32>> = None;
    for f in 0..actions.len() {
        let mut pushed = vec![0.0f32; n];
        let (mut x, commit_noise) = reference.frame_noise(m, f);
        // A warm start begins on the line from the last frame made to this frame's noise.
        if let (Some(level), Some(last)) = (config.warm_start, latents.last()) {
            x = last.clone() * (1.0 - level) + x * level;
        }
        let action_tokens: Vec<_> =
            actions[..=f].iter().map(|a| a.map(|a| tokenizer.encode(a).expect("known words"))).collect();
        for w in reference.frame_levels(f, c.steps).windows(2) {
            let tokens = Tensor::cat(context.iter().cloned().chain([x.clone()]).collect(), 0);
            let mut noise = vec![sigma; f];
            noise.push(w[0]);
            let sample = |caption, actions| NoisySample {
                frames: f + 1,
                grid,
                tokens: tokens.clone(),
                noise: noise.clone(),
                caption,
                actions,
            };
            let v = dit.model.predict(
                &[
                    sample(prompt_tokens.clone(), action_tokens.clone()),
                    sample(null.clone(), vec![None; f + 1]),
                    sample(prompt_tokens.clone(), vec![None; f + 1]),
                ],
                AttentionMode::FrameCausal,
                1 << 16,
                &m.device,
            );
            let last = |t: &Tensor<B, 2>| t.clone().narrow(0, f * n, n);
            let (full, uncond, no_action) = (last(&v[0]), last(&v[1]), last(&v[2]));
            let prompted = if c.action_guidance.is_some() { no_action.clone() } else { full.clone() };
            let d = prompted.clone() - uncond.clone();
            let per_token: Vec<f32> = (d.clone() * d).sum_dim(1).into_data().to_vec().expect("f32");
            pushed.iter_mut().zip(per_token).for_each(|(a, b)| *a += b);
            let guided_prompt = match (config.guidance_focus, &focus) {
                (Some(settings), Some(mask)) => {
                    let scales: Vec<f32> =
                        mask.iter().map(|&on| if on > 0.0 { c.guidance } else { settings.outside }).collect();
                    let scales = Tensor::<B, 1>::from_floats(scales.as_slice(), &m.device).reshape([n, 1]);
                    uncond.clone() + (prompted - uncond) * scales
                }
                _ => guided(prompted, uncond, c.guidance),
            };
            let v = match c.action_guidance {
                None => guided_prompt,
                Some(a) => guided_prompt + (full - no_action) * a,
            };
            x = x + v * (w[1] - w[0]);
        }
        focus = config.guidance_focus.map(|settings| settings.mask(&pushed, grid));
        context.push(x.clone() * (1.0 - sigma) + commit_noise * sigma);
        latents.push(x);
    }
    let z = unpatchify(Tensor::cat(latents, 0), dit.meta.model.latent_channels, actions.len(), grid, p);
    let z = m.vae.meta.latent_stats.denormalize(z);
    frames_from_tensor(m.vae.model.decode(&m.vae.meta.config, z).expect("decode"))
}

/// Streams `actions` (one per step) under `c` with their own action captions.
fn streamed(m: &StreamModel<B>, config: &StreamConfig, actions: &[Option<&str>], c: &StreamControls) -> Vec<Frame> {
    let mut session = StreamSession::new(m, SPEC, config.clone()).expect("session");
    let mut frames = Vec::new();
    for a in actions {
        let controls = StreamControls { action: a.map(str::to_string), ..c.clone() };
        frames.extend(session.step(m, &controls).expect("step").frames);
    }
    frames
}

/// A script of two walks right and a jump.
const SCRIPT: [Option<&str>; 3] =
    [Some("the player moves right"), Some("the player moves right"), Some("the player jumps")];

/// Streams [`SCRIPT`] under `config` and checks the frames against offline generation; returns
/// them with the same script streamed under `other`, whose first frame must be the same and
/// whose later frames must differ (`what`: how `config` differs from `other`).
fn against_offline_and(m: &StreamModel<B>, config: &StreamConfig, other: &StreamConfig, what: &str) -> [Vec<Frame>; 2] {
    let c = controls(None);
    let frames = streamed(m, config, &SCRIPT, &c);
    let d = max_diff(&frames, &offline(m, config, &SCRIPT, &c));
    assert!(d <= 2, "{what}: frames differ from offline generation by {d}/255");
    let others = streamed(m, other, &SCRIPT, &c);
    assert_eq!(max_diff(&frames[..1], &others[..1]), 0, "{what}: the first frame is the same");
    assert!(max_diff(&frames, &others) > 0, "{what}: later frames differ");
    [frames, others]
}

#[test]
fn streaming_equals_offline_generation_of_the_same_latents() {
    let m = model();
    let config = StreamConfig { window: 3, ..StreamConfig::default() };
    let actions = [Some("the player moves right"), Some("the player moves right"), Some("the player jumps")];
    let c = controls(None);
    let streamed = streamed(&m, &config, &actions, &c);
    assert_eq!(streamed.len(), 1 + 4 + 4, "first latent frame → 1 video frame, then 4 each");
    let d = max_diff(&streamed, &offline(&m, &config, &actions, &c));
    assert!(d <= 2, "streamed frames differ from offline generation by {d}/255");
}

#[test]
fn a_separate_action_guidance_is_a_third_branch_equal_to_offline_math() {
    let m = model();
    let config = StreamConfig { window: 2, ..StreamConfig::default() };
    let actions = [Some("the player moves right"), Some("the player moves left"), Some("the player jumps")];
    let plain = controls(None);
    let same = StreamControls { action_guidance: Some(plain.guidance), ..plain.clone() };
    assert_eq!(
        max_diff(&streamed(&m, &config, &actions, &plain), &streamed(&m, &config, &actions, &same)),
        0,
        "an action scale equal to the prompt's is the two-branch stream, byte for byte"
    );
    let strong = StreamControls { action_guidance: Some(8.0), ..plain.clone() };
    let three = streamed(&m, &config, &actions, &strong);
    let d = max_diff(&three, &offline(&m, &config, &actions, &strong));
    assert!(d <= 2, "three-branch frames differ from offline generation by {d}/255");
    assert!(max_diff(&three, &streamed(&m, &config, &actions, &plain)) > 0, "the action scale changes the frames");
    let bad = StreamControls { action_guidance: Some(f32::NAN), ..plain };
    let mut s = StreamSession::new(&m, SPEC, config).expect("session");
    let err = s.step(&m, &bad).expect_err("NaN scale");
    assert!(err.to_string().contains("action_guidance"), "{err}");
}

#[test]
fn a_warm_start_begins_at_the_last_frame_and_equals_offline_math() {
    let m = model();
    let config = StreamConfig { window: 2, warm_start: Some(0.6), ..StreamConfig::default() };
    let session = StreamSession::new(&m, SPEC, config.clone()).expect("session");
    let levels = session.frame_levels(1, 6);
    assert_eq!(levels[0], 0.6, "a later frame starts at the warm level");
    assert!(levels.windows(2).all(|w| w[1] < w[0]) && *levels.last().expect("levels") == 0.0);
    let cold = session.levels(6);
    assert_eq!(&levels[1..], &cold[cold.len() - (levels.len() - 1)..], "the cold schedule's steps below it");
    assert_eq!(session.frame_levels(0, 6).len(), config.first_frame_steps + 1, "the first frame starts cold");
    let plain = StreamConfig { warm_start: None, ..config.clone() };
    against_offline_and(&m, &config, &plain, "a warm start");
    for bad in [0.0, 1.5, f32::NAN] {
        let err = StreamSession::new(&m, SPEC, StreamConfig { warm_start: Some(bad), ..config.clone() })
            .expect_err("a level outside 0..=1");
        assert!(err.to_string().contains("warm_start"), "{err}");
    }
}

#[test]
fn guidance_focus_guides_fully_only_where_the_last_frame_was_pushed_and_equals_offline_math() {
    let m = model();
    let focused = StreamConfig { window: 2, ..StreamConfig::default() };
    let focus = focused.guidance_focus.expect("streams focus their guidance by default");
    let everywhere = StreamConfig { guidance_focus: None, ..focused.clone() };
    // The first frame is guided everywhere; later ones less away from the focus.
    let [_, plain] = against_offline_and(&m, &focused, &everywhere, "a guidance focus");
    let c = controls(None);
    let outside_as_inside =
        StreamConfig { guidance_focus: Some(GuidanceFocus { outside: c.guidance, ..focus }), ..focused.clone() };
    assert_eq!(
        max_diff(&streamed(&m, &outside_as_inside, &SCRIPT, &c), &plain),
        0,
        "a focus guided outside as inside is the unfocused stream, byte for byte"
    );
    for (bad, field) in [
        (GuidanceFocus { share: 0.0, ..focus }, "share"),
        (GuidanceFocus { share: 1.5, ..focus }, "share"),
        (GuidanceFocus { outside: f32::NAN, ..focus }, "outside"),
    ] {
        let err = StreamSession::new(&m, SPEC, StreamConfig { guidance_focus: Some(bad), ..focused.clone() })
            .expect_err("a bad focus");
        assert!(err.to_string().contains(field), "{err}");
    }
}

#[test]
fn a_generated_first_frame_takes_its_own_steps() {
    let m = model();
    let config = StreamConfig::default();
    let session = StreamSession::new(&m, SPEC, config.clone()).expect("session");
    assert_eq!(session.frame_levels(0, 4).len(), config.first_frame_steps + 1, "the first frame: its own steps");
    assert_eq!(session.frame_levels(0, 64).len(), 65, "at least its own steps, more when asked");
    assert_eq!(session.frame_levels(1, 4), session.levels(4), "later frames: the step's");
    let first = |first_frame_steps: usize| {
        let mut s =
            StreamSession::new(&m, SPEC, StreamConfig { first_frame_steps, ..config.clone() }).expect("session");
        s.step(&m, &controls(None)).expect("step").frames
    };
    assert!(max_diff(&first(4), &first(30)) > 0, "more steps, another picture");
}

#[test]
fn memory_is_bounded_by_the_window_and_streams_are_reproducible() {
    let m = model();
    let config = StreamConfig { window: 2, ..StreamConfig::default() };
    let mut a = StreamSession::new(&m, SPEC, config.clone()).expect("session");
    let mut b = StreamSession::new(&m, SPEC, config).expect("session");
    let mut frames = 0;
    for i in 0..6 {
        let step_a = a.step(&m, &controls(Some("the player moves left"))).expect("step");
        let step_b = b.step(&m, &controls(Some("the player moves left"))).expect("step");
        assert_eq!(step_a.first_frame, frames);
        assert_eq!(step_a.latent, i);
        frames += step_a.frames.len();
        assert_eq!(max_diff(&step_a.frames, &step_b.frames), 0, "same seed and controls ⇒ same bytes");
        assert!(a.cached_frames() <= 2, "step {i}: {} latent frames cached, window is 2", a.cached_frames());
    }
    assert_eq!(a.cached_frames(), 2);
    assert_eq!(a.frames(), 1 + 5 * 4);
}

#[test]
fn actions_and_prompts_steer_from_the_next_frame_and_unknown_words_are_reported() {
    let m = model();
    let run = |second: StreamControls| {
        let mut s = StreamSession::new(&m, SPEC, StreamConfig::default()).expect("session");
        let first = s.step(&m, &controls(Some("the player moves right"))).expect("step");
        (first, s.step(&m, &second).expect("step"))
    };
    let (first_a, right) = run(controls(Some("the player moves right")));
    let (first_b, left) = run(controls(Some("the player moves left")));
    assert_eq!(max_diff(&first_a.frames, &first_b.frames), 0, "the past does not change");
    assert!(max_diff(&right.frames, &left.frames) > 0, "another action makes other frames");
    let mut night = controls(Some("the player moves right"));
    night.prompt = "a zebra player at night".into();
    let (_, step) = run(night);
    assert_eq!(step.unknown, vec!["zebra".to_string()]);
}

#[test]
fn bad_streams_are_errors_that_name_the_field() {
    let m = model();
    let err = StreamSession::new(&m, StreamSpec { width: 30, height: 32, seed: 0 }, StreamConfig::default())
        .expect_err("30 is not a multiple of 8");
    assert!(matches!(err, ModelError::InvalidSize { field: "width", nearest: 32, .. }), "{err}");
    let err =
        StreamSession::new(&m, SPEC, StreamConfig { window: 0, ..StreamConfig::default() }).expect_err("window 0");
    assert!(err.to_string().contains("window"), "{err}");
    let mut s = StreamSession::new(&m, SPEC, StreamConfig::default()).expect("session");
    let mut c = controls(None);
    c.steps = 0;
    assert!(s.step(&m, &c).expect_err("0 steps").to_string().contains("steps"));
    c.steps = 2;
    c.prompt = String::new();
    assert!(s.step(&m, &c).is_err(), "an empty prompt is an error, not a panic");
    assert_eq!(s.latents(), 0, "failed steps change nothing");
}

#[test]
fn a_stream_can_start_from_a_picture_and_continues_it() {
    let m = model();
    let scene = worldsim_scenes::Scene::load(
        &PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("../scenes/night_snow.ron"),
    )
    .expect("scene")
    .with_overrides(Some((32, 32)), Some(1), Some(4242))
    .expect("valid");
    let picture = worldsim_scenes::Clip::render(&scene).frames.remove(0);
    let mut s = StreamSession::new(&m, SPEC, StreamConfig::default()).expect("session");
    let first = s.start_from(&m, &picture, &controls(None)).expect("start");
    let reconstructed =
        m.vae.model.roundtrip(&m.vae.meta.config, std::slice::from_ref(&picture), &m.device).expect("vae");
    assert!(max_diff(&first.frames, &reconstructed) <= 1, "the first frame is the picture as the VAE reconstructs it");
    let next = s.step(&m, &controls(Some("the player moves right"))).expect("step");
    assert_eq!((next.first_frame, next.frames.len()), (1, 4));
    // The continuation keeps the picture's world: closer to it than a stream started from text.
    let mean_diff = |a: &Frame, b: &Frame| {
        a.rgb.iter().zip(&b.rgb).map(|(p, q)| f64::from(p.abs_diff(*q))).sum::<f64>() / a.rgb.len() as f64
    };
    let mut free = StreamSession::new(&m, SPEC, StreamConfig::default()).expect("session");
    free.step(&m, &controls(None)).expect("step");
    let unanchored = free.step(&m, &controls(Some("the player moves right"))).expect("step");
    assert!(mean_diff(&next.frames[0], &picture) < mean_diff(&unanchored.frames[0], &picture));

    let err = s.start_from(&m, &picture, &controls(None)).expect_err("only before the first frame");
    assert!(err.to_string().contains("before its first frame"), "{err}");
    let mut t =
        StreamSession::new(&m, StreamSpec { width: 64, height: 32, seed: 0 }, StreamConfig::default()).expect("s");
    assert!(t.start_from(&m, &picture, &controls(None)).expect_err("size").to_string().contains("32×32"));
}
