//! The random clip generator: a seeded sampler of varied scenes (durations from one frame,
//! resolutions, aspect ratios, places, lights, objects, players and camera moves) for training
//! data.

use crate::color::NamedColor;
use crate::rng::{Rng, mix64};
use crate::scene::{Action, Camera, Facing, Object, Occluder, Player, Scene, SizeClass, Sky, Terrain};
use crate::view::VIEW_HEIGHT;

/// What the sampler may produce.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomSceneConfig {
    /// Pixel areas to choose from (a frame's width × height is near one of them).
    pub areas: Vec<u32>,
    /// Aspect ratios (width, height) to choose from.
    pub aspects: Vec<(u32, u32)>,
    /// Frame sides are multiples of this (the video VAE's spatial factor).
    pub multiple: u32,
    /// Share of clips that are a single frame (images).
    pub image_share: f32,
    /// Longest clip, as `1 + 4k` frames with `k ≤ max_k` (the VAE's temporal factor).
    pub max_k: u32,
    /// Frames per second of every clip.
    pub fps: u32,
    /// Share of scenes with a player.
    pub player_share: f32,
}

impl Default for RandomSceneConfig {
    fn default() -> Self {
        RandomSceneConfig {
            areas: vec![32 * 32, 48 * 48, 64 * 64, 96 * 96],
            aspects: vec![(1, 1), (4, 3), (3, 4), (3, 2), (2, 3), (16, 9), (9, 16), (2, 1), (1, 2)],
            multiple: 8,
            image_share: 0.2,
            max_k: 8,
            fps: 12,
            player_share: 0.5,
        }
    }
}

/// The size and duration of a clip: width, height, frames.
pub type ClipShape = (u32, u32, u32);

/// Draws a clip's shape (the first draws of a scene's generator).
fn draw_shape(rng: &mut Rng, config: &RandomSceneConfig) -> ClipShape {
    let area = rng.pick(&config.areas) as f32;
    let (aw, ah) = rng.pick(&config.aspects);
    let m = config.multiple.max(1);
    let side = |v: f32| ((v / m as f32).round() as u32 * m).clamp(16.max(m), 1024);
    let width = side((area * aw as f32 / ah as f32).sqrt());
    let height = side((area * ah as f32 / aw as f32).sqrt());
    let frames = if rng.chance(config.image_share) { 1 } else { 1 + 4 * rng.int(1, config.max_k.max(1)) };
    (width, height, frames)
}

/// The shape (width, height, frames) of the `index`-th scene of the stream fixed by `seed`.
pub fn random_shape(seed: u64, index: u64, config: &RandomSceneConfig) -> ClipShape {
    draw_shape(&mut Rng::new(mix64(seed ^ mix64(index.wrapping_add(1)))), config)
}

/// The `index`-th scene of the stream fixed by `seed`.
pub fn random_scene(seed: u64, index: u64, config: &RandomSceneConfig) -> Scene {
    random_scene_shaped(seed, index, config, None)
}

/// The `index`-th scene of the stream fixed by `seed`, with its shape replaced by `shape` when
/// one is given (everything else is drawn as usual): batches of one shape for fast training.
pub fn random_scene_shaped(seed: u64, index: u64, config: &RandomSceneConfig, shape: Option<ClipShape>) -> Scene {
    let mut rng = Rng::new(mix64(seed ^ mix64(index.wrapping_add(1))));
    let drawn = draw_shape(&mut rng, config);
    let (width, height, frames) = shape.unwrap_or(drawn);
    let duration = frames as f32 / config.fps as f32;
    let half_view = VIEW_HEIGHT * width as f32 / height as f32 / 2.0;
    let terrain = rng.pick(&Terrain::ALL);
    let sky = rng.pick(&[Sky::Day, Sky::Day, Sky::Dusk, Sky::Night]);
    let color = |rng: &mut Rng| rng.pick(&NamedColor::ALL);
    let size = |rng: &mut Rng| rng.pick(&SizeClass::ALL);
    let cam_x = rng.range(-1.0, 1.0);
    let near = |rng: &mut Rng| cam_x + rng.range(-0.85, 0.85) * half_view;

    let mut objects = Vec::new();
    for _ in 0..rng.int(0, 3) {
        let vx = if rng.chance(0.3) { 0.0 } else { rng.range(-1.5, 1.5) };
        objects.push(Object::Ball {
            color: color(&mut rng),
            size: size(&mut rng),
            x: near(&mut rng),
            y: rng.range(0.0, 3.0),
            vx,
            vy: 0.0,
        });
    }
    for _ in 0..rng.int(0, 2) {
        let y = if rng.chance(0.6) { 0.0 } else { rng.range(0.5, 2.0) };
        objects.push(Object::Box {
            color: color(&mut rng),
            size: size(&mut rng),
            x: near(&mut rng),
            y,
            vx: rng.range(-3.0, 3.0),
        });
    }
    let mut occluders = Vec::new();
    for _ in 0..rng.int(0, 2) {
        let x = near(&mut rng);
        occluders.push(if rng.chance(0.5) {
            Occluder::Tree { x, size: size(&mut rng) }
        } else {
            Occluder::Pillar {
                x,
                size: size(&mut rng),
                color: rng.pick(&[NamedColor::Gray, NamedColor::White, NamedColor::Brown]),
            }
        });
    }
    let player = rng.chance(config.player_share).then(|| {
        let mut actions = Vec::new();
        let mut t = 0.0;
        for _ in 0..rng.int(1, 4) {
            actions.push((t, rng.pick(&Action::ALL)));
            t += rng.range(0.25, 0.5) * duration;
        }
        Player {
            color: color(&mut rng),
            paint: color(&mut rng),
            x: near(&mut rng) * 0.8,
            facing: rng.pick(&[Facing::Left, Facing::Right]),
            actions,
        }
    });
    let camera = match rng.unit() {
        u if u < 0.5 => Camera::Fixed { x: cam_x },
        u if u < 0.75 => Camera::Pan { x: cam_x, speed: rng.range(0.3, 1.2) * rng.pick(&[-1.0, 1.0]) },
        u if u < 0.9 || player.is_none() => {
            let away = rng.range(1.0, 3.0) * rng.pick(&[-1.0, 1.0]);
            Camera::Path { keys: vec![(0.0, cam_x), (duration / 2.0, cam_x + away), (duration, cam_x)] }
        }
        _ => Camera::Follow,
    };
    Scene {
        name: format!("random_{seed}_{index}"),
        width,
        height,
        fps: config.fps,
        frames,
        seed: mix64(seed.wrapping_add(index)),
        terrain,
        sky,
        camera,
        stage: 10.0,
        objects,
        occluders,
        player,
        prompts: Vec::new(),
    }
}
