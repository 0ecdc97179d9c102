//! The teacher-forced action probe: its cases and candidates, determinism, the same loss for the
//! same caption, clear errors for clips it cannot read, and — with the shipped weights — a DiT
//! that tells a standing player from a walking one and a walk's direction by the action caption.

use std::path::PathBuf;

use worldsim_model::dit::action_probe::ActionProbe;
use worldsim_model::dit::train::{CaptionKind, LatentSample, scene_sample};
use worldsim_model::dit::weights::load_denoiser;
use worldsim_model::vae::weights::load_vae;
use worldsim_model::{Cpu, ModelError};
use worldsim_scenes::Scene;
use worldsim_scenes::captions::action_caption;
use worldsim_scenes::scene::Action;

fn shipped() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("../assets/models/tiny")
}

/// A 9-frame clip: the player stands, then obeys `command` in the last latent frame.
fn clip(command: &str) -> LatentSample {
    let text = format!(
        "Scene(name: \"probe\", width: 32, height: 32, fps: 12, frames: 9, seed: 9, terrain: grass, sky: day, \
         player: Some(Player(color: red, x: 0.0, actions: [(0.0, stand), (0.33333, {command})])))"
    );
    let scene = Scene::parse(&text, "probe").expect("valid scene");
    let vae = load_vae::<Cpu>(&shipped(), &Default::default()).expect("shipped VAE");
    scene_sample(&scene, &vae, 2, true, CaptionKind::Steered).expect("valid size")
}

const CANDIDATES: [Action; 4] = [Action::Left, Action::Right, Action::Stand, Action::Jump];

#[test]
fn probe_cases_are_deterministic_and_a_repeated_caption_scores_the_same() {
    let device = Default::default();
    let d = load_denoiser::<Cpu>(&shipped(), &device).expect("shipped DiT");
    let sample = clip("left");
    assert_eq!(sample.frames, 3);
    let probe = ActionProbe { levels: vec![0.6, 0.9], draws: 2, ..ActionProbe::default() };
    let candidates = [action_caption(Action::Left), action_caption(Action::Right), action_caption(Action::Left)];
    let losses = probe.losses(&d.model, &d.meta.tokenizer, &sample, &candidates, &device).expect("probe");
    assert_eq!(losses.len(), 4, "levels × draws cases");
    for case in &losses {
        assert_eq!(case.len(), 3);
        assert!(case.iter().all(|l| l.is_finite() && *l > 0.0), "{case:?}");
        assert!((case[0] - case[2]).abs() < 1e-6, "the same caption, the same loss: {case:?}");
        assert!((case[0] - case[1]).abs() > 1e-6, "another caption, another prediction: {case:?}");
    }
    assert_ne!(losses[0], losses[1], "each draw its own noise");
    let again = probe.losses(&d.model, &d.meta.tokenizer, &sample, &candidates, &device).expect("probe");
    assert_eq!(losses, again, "a function of the clip and the probe");
}

#[test]
fn probe_names_what_a_clip_lacks() {
    let device = Default::default();
    let d = load_denoiser::<Cpu>(&shipped(), &device).expect("shipped DiT");
    let probe = ActionProbe::default();
    let candidates = [action_caption(Action::Left)];
    let mut one_frame = clip("left");
    let per_frame = one_frame.tokens.len() / one_frame.frames;
    one_frame.tokens.truncate(per_frame);
    one_frame.focus.truncate(one_frame.focus.len() / one_frame.frames);
    one_frame.actions.truncate(1);
    one_frame.frames = 1;
    let err = probe.losses(&d.model, &d.meta.tokenizer, &one_frame, &candidates, &device).unwrap_err();
    assert!(matches!(err, ModelError::Config { field: "frames", .. }), "{err}");
    let mut no_focus = clip("left");
    no_focus.focus.clear();
    let err = probe.losses(&d.model, &d.meta.tokenizer, &no_focus, &candidates, &device).unwrap_err();
    assert!(matches!(err, ModelError::Config { field: "focus", .. }), "{err}");
    let mut empty_last = clip("left");
    let n = empty_last.focus.len();
    empty_last.focus[n - n / empty_last.frames..].fill(0.0);
    let err = probe.losses(&d.model, &d.meta.tokenizer, &empty_last, &candidates, &device).unwrap_err();
    assert!(matches!(err, ModelError::Config { field: "focus", .. }), "{err}");
}

/// The shipped DiT reads "the player stands still" (`eval actions`: its own caption lowest in
/// 36 of 36 cases at 64×64); here on a small clip, at least 5 of 6.
#[test]
fn shipped_dit_tells_a_standing_player_from_a_walking_one() {
    let device = Default::default();
    let d = load_denoiser::<Cpu>(&shipped(), &device).expect("shipped DiT");
    let candidates: Vec<&str> = CANDIDATES.iter().map(|a| action_caption(*a)).collect();
    let losses = ActionProbe::default()
        .losses(&d.model, &d.meta.tokenizer, &clip("stand"), &candidates, &device)
        .expect("probe");
    let lowest = losses.iter().filter(|c| (0..4).all(|j| j == 2 || c[2] < c[j])).count();
    assert!(lowest >= 5, "stand's own caption lowest in {lowest} of {}: {losses:?}", losses.len());
}

/// A 64×64 clip of `eval actions`' first world: the player stands, then walks `command` in the
/// last latent frame.
fn walk_clip(command: &str) -> LatentSample {
    let text = format!(
        "Scene(name: \"probe\", width: 64, height: 64, fps: 12, frames: 9, seed: 6000, terrain: grass, sky: day, \
         player: Some(Player(color: blue, x: -0.5, facing: right, actions: [(0.0, stand), (0.33333, {command})])))"
    );
    let scene = Scene::parse(&text, "probe").expect("valid scene");
    let vae = load_vae::<Cpu>(&shipped(), &Default::default()).expect("shipped VAE");
    scene_sample(&scene, &vae, 2, true, CaptionKind::Steered).expect("valid size")
}

/// The shipped DiT reads the direction of a walk (`eval actions`: its own direction beats the
/// opposite one in 70 of 72 cases; stage 11, without action displacements, 35): here at least 5
/// of 6 cases for each direction.
#[test]
fn shipped_dit_reads_the_direction_of_a_walk() {
    let device = Default::default();
    let d = load_denoiser::<Cpu>(&shipped(), &device).expect("shipped DiT");
    let candidates = [action_caption(Action::Left), action_caption(Action::Right)];
    for (own, command) in [(0, "left"), (1, "right")] {
        let losses = ActionProbe::default()
            .losses(&d.model, &d.meta.tokenizer, &walk_clip(command), &candidates, &device)
            .expect("probe");
        let wins = losses.iter().filter(|c| c[own] < c[1 - own]).count();
        assert!(wins >= 5, "{command}: own direction lower in {wins} of {}: {losses:?}", losses.len());
    }
}
