//! Prompting with images and videos: roles follow the known frames, sampling never moves a
//! given frame and moves every other frame exactly from its start level to 0, SDEdit at
//! strength 0 is the VAE round-trip, given frames come back as the VAE reconstructs them, the
//! tasks keep their seams on a fixed held-out scene, inputs of any size are fitted, and bad
//! requests are errors that name the field; tokens pinned to the input end as its latent.

use std::path::PathBuf;

use burn::prelude::*;
use worldsim_model::diffusion::flow::schedule;
use worldsim_model::diffusion::sampler::FrameTokens;
use worldsim_model::diffusion::{Euler, Heun, Sampler, SamplerKind};
use worldsim_model::dit::weights::{LoadedDenoiser, load_denoiser};
use worldsim_model::prompting::fit::{fit_frame, nearest_valid_size, pad_length};
use worldsim_model::prompting::roles::{frame_schedule, pixel_span, roles_from_known};
use worldsim_model::prompting::seams::{frame_differences, loop_ratio, median, seam_ratio, worst_ratio};
use worldsim_model::prompting::tasks::{BACKWARD_FADE, Prompter, PromptingConfig};
use worldsim_model::prompting::{FrameRole, PromptRequest, SamplingSettings, run_request, sample_latent};
use worldsim_model::quality::psnr;
use worldsim_model::vae::weights::{LoadedVae, load_vae};
use worldsim_model::video::VideoSample;
use worldsim_model::{Cpu, ModelError};
use worldsim_scenes::{Clip, Frame, Scene};

/// This package's folder, from cargo at run time (a test binary built in another checkout that
/// shares the target folder must still read this checkout's files).
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
}

type B = Cpu;

fn shipped() -> PathBuf {
    manifest_dir().join("../assets/models/tiny")
}

fn models() -> (LoadedVae<B>, LoadedDenoiser<B>) {
    let device = Default::default();
    (load_vae::<B>(&shipped(), &device).expect("vae"), load_denoiser::<B>(&shipped(), &device).expect("dit"))
}

fn settings(prompt: &str, steps: usize) -> SamplingSettings {
    SamplingSettings { prompt: prompt.into(), seed: 3, steps, guidance: 3.0, sampler: SamplerKind::Euler }
}

fn prompter<'a>(vae: &'a LoadedVae<B>, dit: &'a LoadedDenoiser<B>, prompt: &str, steps: usize) -> Prompter<'a, B> {
    Prompter {
        vae,
        dit,
        settings: settings(prompt, steps),
        config: PromptingConfig::default(),
        device: Default::default(),
    }
}

/// A held-out scene (seed 4242, not used in training) at 32×32.
fn scene_frames(frames: u32) -> (Vec<Frame>, String) {
    let root = manifest_dir().join("..");
    let scene = Scene::load(&root.join("scenes/bouncing_balls.ron"))
        .expect("scene")
        .with_overrides(Some((32, 32)), Some(frames), Some(4242))
        .expect("valid");
    let clip = Clip::render(&scene);
    (clip.frames, clip.captions.prompt)
}

/// A 32×32 request with nothing pinned.
fn request(frames: Vec<Option<Frame>>, roles: Vec<FrameRole>, prompt: &str, steps: usize) -> PromptRequest {
    PromptRequest { width: 32, height: 32, frames, roles, settings: settings(prompt, steps), pinned: Vec::new() }
}

/// Mean PSNR of `out` against `reference`, frame by frame.
fn mean_psnr(out: &[Frame], reference: &[Frame]) -> f64 {
    out.iter().zip(reference).map(|(a, b)| psnr(a, b).min(99.0)).sum::<f64>() / out.len().max(1) as f64
}

#[test]
fn roles_follow_which_pixel_frames_are_known() {
    assert_eq!((pixel_span(0, 4), pixel_span(1, 4), pixel_span(2, 4)), (0..1, 1..5, 5..9));
    let known = |n: usize, k: &[usize]| (0..n).map(|i| k.contains(&i)).collect::<Vec<bool>>();
    let g = FrameRole::Generated;
    let given = FrameRole::Given;
    let partial = FrameRole::Noised { strength: 0.7 };
    // Animate: the image alone is given.
    assert_eq!(roles_from_known(&known(9, &[0]), 4, given, g, 0.7), vec![given, g, g]);
    // Extend forward by 4 from a 5-frame context.
    assert_eq!(roles_from_known(&known(9, &[0, 1, 2, 3, 4]), 4, given, g, 0.7), vec![given, given, g]);
    // A known frame sharing its latent frame with unknown ones is re-noised.
    assert_eq!(roles_from_known(&known(9, &[4, 5, 6, 7, 8]), 4, given, g, 0.7), vec![g, partial, given]);
    // SDEdit: every known latent frame starts at the strength (partial ones never below it).
    let edit = FrameRole::Noised { strength: 0.8 };
    assert_eq!(roles_from_known(&known(5, &[0, 1, 2, 3, 4]), 4, edit, g, 0.7), vec![edit, edit]);
    assert_eq!(roles_from_known(&known(5, &[0, 1]), 4, edit, g, 0.7), vec![edit, FrameRole::Noised { strength: 0.8 }]);
}

#[test]
fn sampling_keeps_given_frames_and_moves_the_others_from_their_start_level() {
    let roles = [FrameRole::Given, FrameRole::Noised { strength: 0.45 }, FrameRole::Generated];
    let steps = frame_schedule(&schedule(10, 2.0), &roles);
    assert_eq!(steps[0], vec![0.0, 0.45, 1.0]);
    assert_eq!(steps.last(), Some(&vec![0.0, 0.0, 0.0]));
    assert!(steps.iter().all(|l| l[0] == 0.0 && l[1] <= 0.45), "{steps:?}");
    assert!(steps.iter().any(|l| l[1] == 0.45 && l[2] == 0.45), "the strength is a step of the schedule");
    // Only steps that move something: 0.45 is inserted, nothing repeats.
    assert!(steps.windows(2).all(|w| w[0] != w[1]));

    // A constant velocity of 1 moves each frame by exactly minus its start level, whatever
    // the solver; the given frame does not move at all.
    let device = Default::default();
    let x0: Tensor<B, 2> =
        Tensor::from_floats([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0], [9.0, 10.0], [11.0, 12.0]], &device);
    for sampler in [SamplerKind::Euler, SamplerKind::Heun] {
        let start = FrameTokens { tokens: x0.clone(), per_frame: 2 };
        let mut seen = Vec::new();
        let out = sampler.integrate(start, &steps, |x: FrameTokens<B>, levels: &Vec<f32>| {
            seen.push(levels.clone());
            FrameTokens { tokens: x.tokens.ones_like(), per_frame: x.per_frame }
        });
        let moved: Vec<f32> = (out.tokens - x0.clone()).into_data().to_vec().unwrap();
        let want = [0.0, 0.0, 0.0, 0.0, -0.45, -0.45, -0.45, -0.45, -1.0, -1.0, -1.0, -1.0];
        for (m, w) in moved.iter().zip(want) {
            assert!((m - w).abs() < 1e-5, "{sampler:?}: moved {moved:?}");
        }
        assert!(seen.iter().all(|l| l[0] == 0.0), "the network sees given frames at level 0");
    }
    // Scalar states still integrate as before.
    let x: Tensor<B, 1> = Tensor::ones([3], &device);
    let y = Euler.integrate(x.clone(), &schedule(4, 1.0), |x: Tensor<B, 1>, _t: &f32| x.ones_like());
    let z = Heun.integrate(x, &schedule(4, 1.0), |x: Tensor<B, 1>, _t: &f32| x.ones_like());
    assert_eq!(
        (y.into_data().to_vec::<f32>().unwrap(), z.into_data().to_vec::<f32>().unwrap()),
        (vec![0.0; 3], vec![0.0; 3])
    );
}

#[test]
fn held_frames_are_seen_noised_and_come_out_as_the_reconstruction() {
    // The schedule: a held frame starts at its level and follows the base schedule below it.
    let roles = [FrameRole::Held { level: 0.05 }, FrameRole::Generated];
    let steps = frame_schedule(&schedule(10, 2.0), &roles);
    assert_eq!(steps[0], vec![0.05, 1.0]);
    assert!(steps.iter().all(|l| l[0] == l[1].min(0.05)), "{steps:?}");
    assert!(FrameRole::Held { level: 0.05 }.is_kept() && !FrameRole::Noised { strength: 0.05 }.is_kept());

    let (vae, dit) = models();
    let (frames, prompt) = scene_frames(9);
    let p = prompter(&vae, &dit, &prompt, 4);
    let rt5 = p.roundtrip(&frames[..5]).expect("round-trip");
    let mut timeline: Vec<Option<Frame>> = frames[..5].iter().cloned().map(Some).collect();
    timeline.resize(9, None);
    let run = |known: FrameRole| {
        let req = request(timeline.clone(), vec![known, known, FrameRole::Generated], &prompt, 4);
        run_request(&vae, &dit, &req, &Default::default())
    };
    let given = run(FrameRole::Given).expect("given");
    let held = run(FrameRole::Held { level: 0.05 }).expect("held");
    for (a, b) in held.frames[..5].iter().zip(&rt5) {
        let worst = a.rgb.iter().zip(&b.rgb).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
        assert!(worst <= 1, "a held frame differs from its reconstruction by {worst} levels");
    }
    // The DiT saw the held frames noised, so what it made from them differs.
    let made = held.frames[5..].iter().zip(&given.frames[5..]).map(|(a, b)| a.mean_abs_diff(b)).sum::<f64>();
    assert!(made > 0.0, "held and given frames led to the same new frames");
    for level in [1.0, -0.1] {
        let bad = run(FrameRole::Held { level });
        assert!(
            matches!(&bad, Err(ModelError::Config { field: "roles", message }) if message.contains("held level")),
            "{bad:?}"
        );
    }
}

#[test]
fn warm_frames_start_from_the_last_known_frame_held_still() {
    // The schedule: a warm frame starts at its level, not at 1.
    let roles = [FrameRole::Given, FrameRole::Warm { level: 0.8 }];
    let steps = frame_schedule(&schedule(10, 2.0), &roles);
    assert_eq!(steps[0], vec![0.0, 0.8]);
    assert!(!roles[1].is_kept() && !roles[1].needs_own_frames() && roles[1].uses_input());

    let (vae, dit) = models();
    let (frames, prompt) = scene_frames(9);
    let mut timeline: Vec<Option<Frame>> = frames[..5].iter().cloned().map(Some).collect();
    timeline.resize(9, None);
    let run = |last: FrameRole| {
        let req = request(timeline.clone(), vec![FrameRole::Given, FrameRole::Given, last], &prompt, 6);
        run_request(&vae, &dit, &req, &Default::default())
    };
    // How far the new frames stray from the last known frame (as reconstructed).
    let stray = |out: &[Frame]| out[5..].iter().map(|f| f.mean_abs_diff(&out[4])).sum::<f64>() / 4.0;
    let cold = stray(&run(FrameRole::Generated).expect("generated").frames);
    let warm = stray(&run(FrameRole::Warm { level: 0.3 }).expect("warm").frames);
    let full = stray(&run(FrameRole::Warm { level: 1.0 }).expect("warm at 1").frames);
    // Started a little way from the held frame, the new frames stay near it; at level 1 the
    // start is pure noise, as for a generated frame.
    assert!(warm < 0.6 * cold, "warm start strays {warm:.2} levels from the last frame, generated {cold:.2}");
    assert!((full - cold).abs() < 1e-9, "a warm start at level 1 is generation from noise: {full} vs {cold}");
    for level in [0.0, 1.5] {
        let bad = run(FrameRole::Warm { level });
        assert!(
            matches!(&bad, Err(ModelError::Config { field: "roles", message }) if message.contains("warm start level")),
            "{bad:?}"
        );
    }
    let nothing = request(
        vec![None; 9],
        vec![FrameRole::Generated, FrameRole::Generated, FrameRole::Warm { level: 0.5 }],
        &prompt,
        2,
    );
    let nothing = run_request(&vae, &dit, &nothing, &Default::default());
    assert!(
        matches!(&nothing, Err(ModelError::Config { field: "roles", message }) if message.contains("no frame is known")),
        "{nothing:?}"
    );
}

#[test]
fn warm_frames_between_known_frames_start_from_their_cross_fade() {
    // A dark frame, a gap of 4, then 4 bright frames: started near the bridge (level 0.1), the
    // gap's frames brighten step by step from one to the other.
    let (vae, dit) = models();
    let (dark, bright) = (Frame::filled(32, 32, [20, 30, 40]), Frame::filled(32, 32, [220, 210, 200]));
    let mut timeline = vec![Some(dark.clone())];
    timeline.extend([None, None, None, None]);
    timeline.extend(vec![Some(bright.clone()); 4]);
    let req = request(
        timeline,
        vec![FrameRole::Given, FrameRole::Warm { level: 0.1 }, FrameRole::Given],
        "a plain picture",
        4,
    );
    let out = run_request(&vae, &dit, &req, &Default::default()).expect("bridged");
    let mean = |f: &Frame| f.rgb.iter().map(|v| f64::from(*v)).sum::<f64>() / f.rgb.len() as f64;
    let levels: Vec<f64> = out.frames[..6].iter().map(mean).collect();
    assert!(levels.windows(2).all(|w| w[1] > w[0] + 5.0), "the gap does not brighten step by step: {levels:.0?}");
    let (lo, hi) = (mean(&dark), mean(&bright));
    assert!(levels[2] > lo + 0.2 * (hi - lo) && levels[3] < hi - 0.2 * (hi - lo), "{levels:.0?}");
}

#[test]
fn extending_forward_decodes_one_latent_sequence() {
    // The new frames of each window are appended to the video's own latent and the sequence is
    // decoded at once, so frames made by a first window do not change when a second window
    // follows (the causal decoder), and the output is as long as asked for any input length.
    let (vae, dit) = models();
    let (frames, prompt) = scene_frames(11);
    let p = prompter(&vae, &dit, &prompt, 3);
    let rt = p.roundtrip(&frames).expect("round-trip");
    let four = p.extend_forward(&frames, 4).expect("extend by 4");
    let twelve = p.extend_forward(&frames, 12).expect("extend by 12");
    assert_eq!((four.frames.len(), twelve.frames.len()), (15, 23));
    // The first window remakes the last latent frame of the video's 9-frame prefix (frames 5–8,
    // SEAM_STRENGTH); the rest of the input is kept as the VAE reconstructs it.
    assert_eq!(twelve.frames[..5], rt[..5], "input frames kept as the VAE reconstructs them");
    assert_eq!(twelve.frames[9..11], rt[9..11], "input frames kept as the VAE reconstructs them");
    for (i, (a, b)) in four.frames.iter().zip(&twelve.frames).enumerate() {
        let worst = a.rgb.iter().zip(&b.rgb).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
        assert!(worst <= 1, "frame {i} changed by {worst} levels when the video was extended further");
    }
}

#[test]
fn edit_at_strength_zero_is_the_round_trip_and_given_frames_are_the_reconstruction() {
    let (vae, dit) = models();
    let (frames, prompt) = scene_frames(9);
    let p = prompter(&vae, &dit, &prompt, 4);
    let rt = p.roundtrip(&frames).expect("round-trip");
    let same = p.edit(&frames, 0.0).expect("edit");
    assert_eq!(same.network_calls, 0, "nothing to denoise at strength 0");
    assert_eq!(same.frames, rt);

    // A request whose first 5 frames are given returns them as the VAE reconstructs them
    // (the causal decoder's output there depends on the given latents only).
    let mut timeline: Vec<Option<Frame>> = frames[..5].iter().cloned().map(Some).collect();
    timeline.resize(9, None);
    let req = request(timeline, vec![FrameRole::Given, FrameRole::Given, FrameRole::Generated], &prompt, 4);
    let out = run_request(&vae, &dit, &req, &Default::default()).expect("runs");
    let rt5 = p.roundtrip(&frames[..5]).expect("round-trip");
    for (a, b) in out.frames[..5].iter().zip(&rt5) {
        let worst = a.rgb.iter().zip(&b.rgb).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
        assert!(worst <= 1, "a given frame differs from its reconstruction by {worst} levels");
    }
    assert_eq!(out.network_calls, 4);
}

/// Seam and loop ratios on this fixed case with the shipped stage-14 DiT and new frames
/// started warm (`WARM_START`; from pure noise they were 1.37 / 0.89 / 1.16 / 1.19, and the
/// loop's video frames −2.05 dB; backward 0.66 is with a 1-frame fade, 0.70 with the 2-frame
/// `BACKWARD_FADE`), plus 25 % for floating-point differences between machines.
/// Issue 5's bar is 1.5 for each, which every one of them meets here (not everywhere:
/// MODEL_CARD.md, *Prompting*) — these guard against regressions.
const SHIPPED_FORWARD_SEAM: f64 = 0.91;
const SHIPPED_BACKWARD_SEAM: f64 = 0.66;
const SHIPPED_LOOP: f64 = 1.10;
const SHIPPED_PROMPT_LOOP: f64 = 1.16;
/// The loop's video frames against the clip's round trip (dB) on this case.
const SHIPPED_LOOP_KEPT_DB: f64 = -1.82;
const SLACK: f64 = 1.25;

#[test]
fn tasks_keep_their_inputs_and_seams_on_a_fixed_held_out_scene() {
    let (vae, dit) = models();
    let (frames, prompt) = scene_frames(9);
    let p = prompter(&vae, &dit, &prompt, 12);
    let rt = p.roundtrip(&frames).expect("rt");
    let db = |out: &[Frame]| mean_psnr(out, &frames) - mean_psnr(&rt, &frames);
    // Without re-noising the seam or fading, the input comes back as its round trip, bit for bit.
    let mut exact = prompter(&vae, &dit, &prompt, 12);
    exact.config.seam_strength = 0.0;
    exact.config.backward_fade = 0;
    assert_eq!(exact.extend_forward(&frames, 8).expect("extend forward").frames[..9], rt[..]);
    assert_eq!(exact.extend_backward(&frames, 5).expect("extend backward").frames[5..], rt[..]);
    // By default the first window remakes the video's last latent frame (its last 4 frames) at
    // a low noise level: the frames before it are the round trip's, all within 1 dB of it.
    let fwd = p.extend_forward(&frames, 8).expect("extend forward");
    assert_eq!(fwd.frames.len(), 17);
    assert_eq!(fwd.frames[..5], rt[..5], "input frames before the re-noised latent frame kept");
    assert_ne!(fwd.frames[5..9], rt[5..9], "the re-noised latent frame remade");
    let kept = db(&fwd.frames[..9]);
    assert!(kept >= -1.0, "input frames {kept:.2} dB against the round trip");
    // Backwards: new frames made by extending the reversed video, then the video's round trip,
    // faded in from the reversed decode over its first BACKWARD_FADE frames.
    let bwd = p.extend_backward(&frames, 5).expect("extend backward");
    assert_eq!(bwd.frames.len(), 14);
    assert_eq!(bwd.frames[5 + BACKWARD_FADE..], rt[BACKWARD_FADE..], "input frames kept as the VAE reconstructs them");
    let faded = db(&bwd.frames[5..]);
    assert!(faded >= -1.0, "input frames {faded:.2} dB against the round trip");
    let mut unfaded = prompter(&vae, &dit, &prompt, 12);
    unfaded.config.backward_fade = 0;
    let plain = unfaded.extend_backward(&frames, 5).expect("extend backward");
    assert_eq!(plain.frames[5..], rt[..], "no fade: the round trip itself");
    assert_eq!(plain.frames[..5], bwd.frames[..5], "the fade touches only the input's frames");
    assert_ne!(plain.frames[5], bwd.frames[5]);
    // Both ways: the backward part and the forward part, around the round trip.
    let both = p.extend(&frames, 8, 5).expect("extend both ways");
    assert_eq!(both.frames.len(), 22);
    // (forwards, the video's last latent frame is remade; backwards, it is kept)
    assert_eq!(both.frames[..10], bwd.frames[..10]);
    assert_eq!(both.frames[5 + BACKWARD_FADE..], fwd.frames[BACKWARD_FADE..]);
    // A loop's length is a multiple of 4: 9 frames and 3 new ones. The video's frames are its
    // reconstruction as a loop, near the clip's round trip.
    let closed = p.close_loop(&frames, 4).expect("loop");
    assert_eq!(closed.frames.len(), 12);
    assert!(closed.notes.iter().any(|n| n.contains("4 frames leading back to the start rounded to 3")));
    let as_loop = mean_psnr(&closed.frames[..9], &frames) - mean_psnr(&rt, &frames);
    assert!(as_loop >= SHIPPED_LOOP_KEPT_DB - 0.5, "the video's frames {as_loop:.2} dB against its round trip");
    let from_prompt = p.loop_from_prompt(9, 32, 32).expect("loop from a prompt");
    assert_eq!(from_prompt.frames.len(), 12);
    assert!(from_prompt.notes.iter().any(|n| n.contains("9 frames rounded up to 12")));
    let animated = p.animate(&frames[0], 9).expect("animate");
    assert_eq!(animated.frames.len(), 9);
    assert_eq!(animated.frames[0], p.roundtrip(&frames[..1]).expect("rt")[0]);

    let (f, b, l) = (seam_ratio(&fwd.frames, 9), seam_ratio(&bwd.frames, 5), loop_ratio(&closed.frames));
    let lp = loop_ratio(&from_prompt.frames);
    let (wf, wb) = (worst_ratio(&fwd.frames), worst_ratio(&bwd.frames));
    eprintln!(
        "forward seam {f:.3} (worst {wf:.3}), backward seam {b:.3} (worst {wb:.3}), loop {l:.3}, loop from a prompt {lp:.3}, kept {as_loop:.2} dB, extension's input frames {kept:.2} / {faded:.2} dB"
    );
    assert!(f <= SHIPPED_FORWARD_SEAM * SLACK, "forward seam ratio {f}");
    assert!(b <= SHIPPED_BACKWARD_SEAM * SLACK, "backward seam ratio {b}");
    assert!(l <= SHIPPED_LOOP * SLACK, "loop ratio {l}");
    assert!(lp <= SHIPPED_PROMPT_LOOP * SLACK, "loop from a prompt ratio {lp}");
}

#[test]
fn bad_requests_are_errors_naming_the_field() {
    let (vae, dit) = models();
    let (frames, prompt) = scene_frames(9);
    let device = Default::default();
    let req = |timeline: Vec<Option<Frame>>, roles: Vec<FrameRole>| request(timeline, roles, &prompt, 2);
    let none = vec![None; 9];
    let given_nothing = run_request(&vae, &dit, &req(none.clone(), vec![FrameRole::Given; 3]), &device);
    assert!(
        matches!(&given_nothing, Err(ModelError::Config { field: "roles", message }) if message.contains("latent frame 0"))
    );
    let two_roles = run_request(&vae, &dit, &req(none.clone(), vec![FrameRole::Generated; 2]), &device);
    assert!(matches!(two_roles, Err(ModelError::Config { field: "roles", .. })));
    let mut wrong = none.clone();
    wrong[0] = Some(Frame::filled(16, 16, [0; 3]));
    let wrong_size = run_request(&vae, &dit, &req(wrong, vec![FrameRole::Generated; 3]), &device);
    assert!(
        matches!(&wrong_size, Err(ModelError::Config { field: "frames", message }) if message.contains("frame 0 is 16×16"))
    );
    let eight = run_request(&vae, &dit, &req(vec![None; 8], vec![FrameRole::Generated; 2]), &device);
    assert!(matches!(eight, Err(ModelError::InvalidSize { field: "frames", nearest: 9, .. })));
    let p = prompter(&vae, &dit, &prompt, 2);
    assert!(matches!(p.edit(&frames, 1.5), Err(ModelError::Config { field: "strength", .. })));
    assert!(matches!(p.loop_from_prompt(5, 32, 32), Err(ModelError::InvalidSize { field: "frames", nearest: 8, .. })));
    assert!(matches!(p.close_loop(&frames[..3], 4), Err(ModelError::Config { field: "video", .. })));
    assert!(matches!(p.connect(&frames, &frames[..2], 4), Err(ModelError::Config { field: "to", .. })));
    let mut short = req(frames.iter().cloned().map(Some).collect(), vec![FrameRole::Noised { strength: 0.5 }; 3]);
    short.pinned = vec![true; 5];
    let short = run_request(&vae, &dit, &short, &device);
    assert!(
        matches!(&short, Err(ModelError::Config { field: "pinned", message }) if message.contains("5 pinned flags"))
    );
    let mut unknown = req(none.clone(), vec![FrameRole::Generated; 3]);
    unknown.pinned = vec![true; 3 * 16];
    let unknown = run_request(&vae, &dit, &unknown, &device);
    assert!(
        matches!(&unknown, Err(ModelError::Config { field: "pinned", message }) if message.contains("latent frame 0"))
    );
}

#[test]
fn connect_starts_as_a_ends_and_fades_into_bs_round_trip() {
    let (vae, dit) = models();
    let (a, prompt) = scene_frames(9);
    let b = Clip::render(
        &Scene::load(&manifest_dir().join("../scenes/night_snow.ron"))
            .expect("scene")
            .with_overrides(Some((32, 32)), Some(9), Some(4242))
            .expect("valid"),
    )
    .frames;
    let p = prompter(&vae, &dit, &prompt, 12);
    let out = p.connect(&a, &b, 4).expect("connects").frames;
    assert_eq!(out.len(), 1 + 4 + 4, "A's last frame, 4 new, B's head");
    let rt_b = p.roundtrip(&b).expect("rt");
    assert_eq!(out[8], rt_b[3], "B's last head frame is its round trip's");
    let mut unfaded = prompter(&vae, &dit, &prompt, 12);
    unfaded.config.connect_fade = 0;
    let plain = unfaded.connect(&a, &b, 4).expect("connects").frames;
    assert_eq!(out[..6], plain[..6], "the fade touches only B's head after its first frame");
    let head_db = |frames: &[Frame]| mean_psnr(&frames[5..], &b[..4]) - mean_psnr(&rt_b[..4], &b[..4]);
    let (faded, window) = (head_db(&out), head_db(&plain));
    eprintln!("B's head {faded:.2} dB (window's decode {window:.2} dB), worst ratio {:.2}", worst_ratio(&out));
    assert!(faded > window + 1.0, "B's head {faded:.2} dB, not above the window's own {window:.2} dB");
    // The fade must add no jump: its largest frame-to-frame step against the unfaded clip's.
    // (Not their worst ratios: the fade smooths B's head, which lowers the clip's median step
    // and so raises its own ratio; with warm-started new frames and a 3-frame fade that alone
    // gave 3.38 against 2.61 here while the largest step grew from 31.2 to 33.5 levels (2-frame
    // fade: 3.64, 35.9), and at 64×64 the fade lowers the worst ratio, `eval prompting --scenes
    // 6 --connect-fade 0`, 4242 / 4343: 1.82 / 2.06 → 1.67 / 1.95 with 2 frames.)
    let largest = |frames: &[Frame]| frame_differences(frames).into_iter().fold(0.0, f64::max);
    let (step, unfaded_step) = (largest(&out), largest(&plain));
    assert!(step <= unfaded_step * SLACK, "the fade adds a jump: largest step {step:.1} against {unfaded_step:.1}");
}

#[test]
fn pinned_tokens_end_as_the_input_latent_and_the_rest_is_redrawn() {
    let (vae, dit) = models();
    let (frames, prompt) = scene_frames(5);
    let device = Default::default();
    // 32×32 pixels: an 8×8 latent, 4×4 tokens of 2×2 latent pixels per latent frame. Pin the
    // left half of every latent frame and redraw the whole video (strength 1).
    let pinned: Vec<bool> = (0..2 * 16).map(|t| t % 4 < 2).collect();
    let mut req =
        request(frames.iter().cloned().map(Some).collect(), vec![FrameRole::Noised { strength: 1.0 }; 2], &prompt, 6);
    req.pinned = pinned;
    let out = sample_latent(&vae, &dit, &req, &device).expect("samples").latent; // [1, C, 2, 8, 8]
    let input = vae
        .model
        .encode(&vae.meta.config, VideoSample::from_frames(&frames).tensor::<B>(&device))
        .expect("encodes")
        .mean; // [1, C, 2, 8, 8]
    let diff = |range: std::ops::Range<usize>| -> f32 {
        let a = out.clone().slice(s![.., .., .., .., range.clone()]);
        let b = input.clone().slice(s![.., .., .., .., range]);
        (a - b).abs().max().into_scalar()
    };
    let scale: f32 = input.clone().abs().max().into_scalar();
    assert!(diff(0..4) <= 1e-3 * scale, "pinned tokens moved by {} (latent scale {scale})", diff(0..4));
    assert!(diff(4..8) > 0.1 * scale, "the unpinned half was not redrawn ({})", diff(4..8));
}

#[test]
fn inputs_of_any_size_and_length_are_fitted() {
    assert_eq!(nearest_valid_size(70, 50, 8, 1024), (72, 48));
    assert_eq!(nearest_valid_size(3, 5000, 8, 1024), (8, 1024));
    // A flat colour stays that colour; a wide frame is cropped at its centre.
    let flat = fit_frame(&Frame::filled(100, 70, [10, 200, 30]), 64, 64);
    assert_eq!((flat.width, flat.height), (64, 64));
    assert!(flat.rgb.chunks_exact(3).all(|p| p == [10, 200, 30]));
    let mut wide = Frame::filled(128, 64, [0, 0, 0]);
    for y in 0..64 {
        for x in 32..96 {
            let i = (y * 128 + x) * 3;
            wide.rgb[i..i + 3].copy_from_slice(&[255, 255, 255]);
        }
    }
    // Cover: 128×64 → 64×32, then the middle 32 columns, the white half (the outermost
    // columns blend with the black beyond them, as antialiasing should).
    let centre = fit_frame(&wide, 32, 32);
    for y in 0..32 {
        for x in 1..31 {
            assert_eq!(centre.pixel(x, y), [255; 3], "pixel {x},{y}");
        }
    }
    let (padded, note) = pad_length(&vec![Frame::filled(8, 8, [1, 2, 3]); 7], 4, "video");
    assert_eq!(padded.len(), 9);
    assert!(note.is_some_and(|n| n.contains("7 frames padded to 9")));
    assert!(pad_length(&vec![Frame::filled(8, 8, [1, 2, 3]); 9], 4, "video").1.is_none());
}

#[test]
fn seam_and_loop_ratios_compare_a_jump_with_the_clip_motion() {
    // Brightness steps of 2 per frame, with a jump of 6 between frames 3 and 4.
    let levels = [0u8, 2, 4, 6, 12, 14, 16];
    let frames: Vec<Frame> = levels.iter().map(|v| Frame::filled(4, 4, [*v; 3])).collect();
    assert_eq!(median(&[1.0, 5.0, 2.0]), 2.0);
    assert!((seam_ratio(&frames, 4) - 3.0).abs() < 1e-9);
    assert!((seam_ratio(&frames, 2) - 1.0).abs() < 1e-9);
    assert!((loop_ratio(&frames) - 8.0).abs() < 1e-9, "16 back to 0 over a median step of 2");
}
