//! Motion supervision of the action displacements: the player's measured move per latent frame
//! has the walk's sign and size, and the motion loss is the squared error of the first heads'
//! displacements against the opposite move (reference math on a fresh network, whose
//! displacements are zero; the shipped DiT's are much closer).

use std::path::PathBuf;

use worldsim_model::Cpu;
use worldsim_model::dit::denoiser::Denoiser;
use worldsim_model::dit::motion::motion_loss;
use worldsim_model::dit::train::{CaptionKind, scene_sample};
use worldsim_model::dit::weights::load_denoiser;
use worldsim_model::vae::weights::load_vae;
use worldsim_scenes::Scene;

fn shipped() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("../assets/models/tiny")
}

/// 13 frames at 12 fps: the player stands for a latent frame, then walks `command` (left or right).
fn walk(command: &str) -> Scene {
    let text = format!(
        "Scene(name: \"motion\", width: 64, height: 32, fps: 12, frames: 13, seed: 3, terrain: grass, sky: day, \
         player: Some(Player(color: red, x: 0.0, actions: [(0.0, stand), (0.33333, {command})])))"
    );
    Scene::parse(&text, "motion").expect("valid scene")
}

#[test]
fn the_measured_move_follows_the_walk() {
    let device = Default::default();
    let vae = load_vae::<Cpu>(&shipped(), &device).expect("shipped VAE");
    let right = scene_sample(&walk("right"), &vae, 2, false, CaptionKind::Steered).expect("valid size");
    let left = scene_sample(&walk("left"), &vae, 2, false, CaptionKind::Steered).expect("valid size");
    assert_eq!(right.motion.len(), 4);
    assert!(right.motion[0].is_none(), "no move into the first frame");
    let [down, standing] = right.motion[1].expect("visible player");
    assert!(down.abs() < 0.05 && standing.abs() < 0.05, "standing: {:?}", right.motion[1]);
    for f in 2..4 {
        let [dy, dx] = right.motion[f].expect("visible player");
        let [_, back] = left.motion[f].expect("visible player");
        // 2 m/s at 12 fps over 4 frames, 32 px per 4.8 m of view height, 8 px patches: ~0.56.
        assert!(dy.abs() < 0.05 && (0.3..1.0).contains(&dx), "frame {f} right: {:?}", right.motion[f]);
        assert!((dx + back).abs() < 1e-3, "left mirrors right: {dx} vs {back}");
    }
}

#[test]
fn the_motion_loss_is_the_squared_error_of_the_first_heads() {
    let device = Default::default();
    let vae = load_vae::<Cpu>(&shipped(), &device).expect("shipped VAE");
    let loaded = load_denoiser::<Cpu>(&shipped(), &device).expect("shipped DiT");
    let heads = loaded.meta.model.heads;
    let none = motion_loss(&loaded.model, &loaded.meta.tokenizer, &[], heads, &device);
    assert!(none.is_none(), "nothing to measure");
    assert!(loaded.meta.model.displaces(), "the shipped DiT has displacements");
    // A fresh network of the shipped shape: displacements at zero.
    let fresh = Denoiser { dit: loaded.meta.model.init::<Cpu>(&device), text: loaded.meta.text.init(&device) };
    let sample = scene_sample(&walk("right"), &vae, 2, false, CaptionKind::Steered).expect("valid size");
    let loss = |d: &Denoiser<Cpu>| {
        motion_loss(d, &loaded.meta.tokenizer, std::slice::from_ref(&sample), heads, &device)
            .expect("moves measured")
            .into_scalar()
    };
    let got = loss(&fresh);
    // Displacements start at zero: the loss is the mean square of the measured moves.
    let moves: Vec<f32> = sample.motion.iter().flatten().flatten().copied().collect();
    let want = moves.iter().map(|m| m * m).sum::<f32>() / moves.len() as f32;
    assert!((got - want).abs() < 1e-6 && want > 0.05, "{got} vs {want}");
    // The shipped DiT learnt them: its first heads are closer to the moves than zero.
    let shipped_loss = loss(&loaded.model);
    assert!(shipped_loss < 0.5 * want, "shipped {shipped_loss} against zero displacements' {want}");
}
