//! The shipped `tiny` VAE (`assets/models/tiny`): it loads, streams exactly like a full decode
//! with its real weights, keeps its measured reconstruction quality on a fixed scene that
//! training never saw (a regression test: retraining must not ship worse weights), and its
//! periodic round trip of a loop is periodic.

use std::path::PathBuf;

use worldsim_model::Cpu;
use worldsim_model::ModelError;
use worldsim_model::quality::psnr;
use worldsim_model::vae::model::PERIODIC_WARMUP;
use worldsim_model::vae::weights::{LoadedVae, load_vae};
use worldsim_model::video::{VideoSample, frames_from_tensor};
use worldsim_scenes::{Clip, Frame, Scene};

/// This package's folder, from cargo at run time (a test binary built in another checkout that
/// shares the target folder must still read this checkout's files).
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
}

/// Mean PSNR the shipped weights reached on this scene when exported, minus 0.5 dB of slack for
/// floating-point differences between machines (see MODEL_CARD.md).
const FLOOR_DB: f64 = 28.9;

/// The shipped VAE and `scenes/bouncing_balls.ron` rendered at `size`² for `frames` frames with
/// a seed training never used.
fn shipped_vae_and_scene(size: u32, frames: u32) -> (LoadedVae<Cpu>, Vec<Frame>) {
    let root = manifest_dir().join("..");
    let vae = load_vae::<Cpu>(&root.join("assets/models/tiny"), &Default::default()).expect("the shipped VAE loads");
    let scene = Scene::load(&root.join("scenes/bouncing_balls.ron"))
        .expect("scene")
        .with_overrides(Some((size, size)), Some(frames), Some(4242))
        .expect("valid");
    (vae, Clip::render(&scene).frames)
}

#[test]
fn shipped_tiny_vae_holds_its_quality_on_a_fixed_scene() {
    let device = Default::default();
    let (vae, frames) = shipped_vae_and_scene(64, 9);
    let config = &vae.meta.config;
    let z =
        vae.model.encode(config, VideoSample::from_frames(&frames).tensor::<Cpu>(&device)).expect("valid size").mean;
    let full = vae.model.decode(config, z.clone()).expect("valid latent");

    let mut stream = vae.model.stream_decoder();
    let parts: Vec<_> =
        (0..z.dims()[2]).map(|i| stream.next(config, z.clone().narrow(2, i, 1)).expect("valid")).collect();
    let streamed = burn::tensor::Tensor::cat(parts, 2);
    let diff: f32 = (streamed - full.clone()).abs().max().into_scalar();
    assert!(diff < 1e-4, "streaming decode differs by {diff}");

    let recon = frames_from_tensor(full);
    let mean = frames.iter().zip(&recon).map(|(a, b)| psnr(a, b)).sum::<f64>() / frames.len() as f64;
    assert!(mean >= FLOOR_DB, "mean PSNR {mean:.2} dB is below the shipped weights' {FLOOR_DB:.2} dB");
}

#[test]
fn the_periodic_roundtrip_of_a_loop_is_its_steady_state() {
    let device = Default::default();
    let (vae, frames) = shipped_vae_and_scene(32, 5);
    let config = &vae.meta.config;
    // A ping-pong loop of 8 frames: 0, 1, 2, 3, 4, 3, 2, 1.
    let mut cycle = frames.clone();
    cycle.extend(frames[1..4].iter().rev().cloned());
    let period = vae.model.periodic_roundtrip(config, &cycle, &device).expect("valid cycle");
    assert_eq!(period.len(), 8);
    // The same clip played one period longer: its last two periods are the same frames (the
    // clip's start no longer reaches them) and they are the periodic round trip.
    let mut clip = vec![cycle[7].clone()];
    for _ in 0..2 + PERIODIC_WARMUP.div_ceil(8) {
        clip.extend_from_slice(&cycle);
    }
    let long = vae.model.roundtrip(config, &clip, &device).expect("valid clip");
    let n = long.len();
    let worst = |a: &[Frame], b: &[Frame]| {
        a.iter().zip(b).flat_map(|(f, g)| f.rgb.iter().zip(&g.rgb).map(|(x, y)| x.abs_diff(*y))).max().unwrap_or(0)
    };
    assert!(worst(&long[n - 8..], &long[n - 16..n - 8]) <= 1, "the last two periods differ");
    assert!(worst(&long[n - 8..], &period) <= 1, "the periodic round trip is not the steady state");
    // Still the VAE's reconstruction of the frames.
    let mean = period.iter().zip(&cycle).map(|(a, b)| psnr(a, b)).sum::<f64>() / 8.0;
    assert!(mean > 25.0, "periodic round trip at {mean:.2} dB");
    // A cycle that is not a whole number of latent frames is an error naming the fix.
    assert!(matches!(
        vae.model.periodic_roundtrip(config, &cycle[..7], &device),
        Err(ModelError::InvalidSize { field: "frames", nearest: 8, .. })
    ));
}

#[test]
fn shipped_tiny_dit_generates_deterministically_what_the_prompt_says() {
    use worldsim_model::diffusion::SamplerKind;
    use worldsim_model::dit::weights::load_denoiser;
    use worldsim_model::generate::{GenerateRequest, generate};
    use worldsim_scenes::fidelity::FidelityChecker;
    use worldsim_scenes::{Sky, Terrain};

    let root = manifest_dir().join("../assets/models/tiny");
    let device = Default::default();
    let vae = load_vae::<Cpu>(&root, &device).expect("the shipped VAE loads");
    let dit = load_denoiser::<Cpu>(&root, &device).expect("the shipped DiT loads");
    let checker = FidelityChecker::calibrate();
    for (prompt, terrain, sky) in
        [("blue box on grass", Terrain::Grass, Sky::Day), ("red ball on snow at night", Terrain::Snow, Sky::Night)]
    {
        let req = GenerateRequest {
            prompt: prompt.into(),
            frames: 1,
            width: 64,
            height: 64,
            seed: 0,
            steps: 20,
            guidance: 3.0,
            sampler: SamplerKind::Euler,
        };
        let a = generate(&vae, &dit, &req, &device).expect("generates");
        let b = generate(&vae, &dit, &req, &device).expect("generates");
        assert_eq!(a.frames[0].rgb, b.frames[0].rgb, "same seed, same image");
        let reading = checker.read(&a.frames);
        assert_eq!((reading.terrain, reading.sky), (terrain, sky), "{prompt}: read {reading:?}");
    }
}
