//! The prompt expander: a short prompt ("red ball bouncing on snow at night") becomes a scene of
//! the world (place, light, objects with colours, sizes and motions, player actions, camera),
//! and that scene's simulated clip is described by the captioner, so the expanded caption reads
//! exactly like the training captions and always describes something physically possible.
//! Words neither the world's vocabulary nor the expander knows are listed back; words it knows
//! but cannot place are ignored.

use crate::clip::Clip;
use crate::color::NamedColor;
use crate::rng::{Rng, mix64};
use crate::scene::{Action, Camera, Facing, Object, Occluder, Player, Scene, SizeClass, Sky, Terrain};
use crate::vocabulary::{vocabulary, words};

/// A short prompt turned into a scene and a caption.
#[derive(Clone, Debug, PartialEq)]
pub struct Expansion {
    /// The scene the prompt describes.
    pub scene: Scene,
    /// The descriptive caption of that scene's clip.
    pub caption: String,
    /// The same caption with the player's motion left out
    /// ([`steered_caption`](crate::captions::steered_caption)): what a stream steered by action
    /// captions is conditioned on.
    pub steered: String,
    /// Words outside the world's vocabulary that the expander did not understand either (it
    /// reads plurals such as "balls"), each once, in order.
    pub unknown: Vec<String>,
}

/// What kind of thing a noun names.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Ball,
    Box,
    Player,
    Tree,
    Pillar,
}

fn kind(word: &str) -> Option<Kind> {
    match word {
        "ball" | "balls" => Some(Kind::Ball),
        "box" | "boxes" => Some(Kind::Box),
        "player" => Some(Kind::Player),
        "tree" => Some(Kind::Tree),
        "pillar" => Some(Kind::Pillar),
        _ => None,
    }
}

fn count(word: &str) -> Option<usize> {
    match word {
        "one" | "a" | "an" => Some(1),
        "two" => Some(2),
        "three" => Some(3),
        "four" | "several" => Some(4),
        _ => None,
    }
}

fn terrain(word: &str) -> Option<Terrain> {
    match word {
        "grass" | "grassy" | "meadow" => Some(Terrain::Grass),
        "sand" | "sandy" | "beach" | "dunes" => Some(Terrain::Sand),
        "snow" | "snowy" => Some(Terrain::Snow),
        "water" | "calm" => Some(Terrain::Water),
        _ => None,
    }
}

fn sky(word: &str) -> Option<Sky> {
    match word {
        "day" | "sunny" => Some(Sky::Day),
        "dusk" => Some(Sky::Dusk),
        "night" => Some(Sky::Night),
        _ => None,
    }
}

fn size(word: &str) -> Option<SizeClass> {
    SizeClass::ALL.into_iter().find(|s| s.name() == word)
}

fn color(word: &str) -> Option<NamedColor> {
    NamedColor::ALL.into_iter().find(|c| c.name() == word)
}

/// One noun phrase: "two small red balls bouncing".
struct Phrase {
    kind: Kind,
    n: usize,
    size: Option<SizeClass>,
    color: Option<NamedColor>,
    motion: Vec<String>,
}

/// Expands `prompt` into a scene of `width × height` pixels and `frames` frames, then captions
/// it. `seed` fixes everything the prompt leaves open (positions, unnamed colours, scenery).
pub fn expand(prompt: &str, width: u32, height: u32, frames: u32, seed: u64) -> Expansion {
    let known = vocabulary();
    let all: Vec<String> = words(prompt).collect();
    let mut unknown: Vec<String> = Vec::new();
    for w in &all {
        let understood = kind(w).is_some() || count(w).is_some() || w == "big";
        if !known.contains(w) && !understood && !unknown.contains(w) {
            unknown.push(w.clone());
        }
    }
    let mut rng = Rng::new(mix64(seed ^ 0x5eed_9a0b));
    let mut scene_terrain = None;
    let mut scene_sky = None;
    let mut camera = None;
    let mut phrases: Vec<Phrase> = Vec::new();
    let (mut n, mut sz, mut col) = (None, None, None);
    for (i, w) in all.iter().enumerate() {
        let w = w.as_str();
        let next = all.get(i + 1).map(String::as_str);
        if let Some(k) = kind(w) {
            if k == Kind::Player && phrases.iter().any(|p| p.kind == Kind::Player) {
                continue; // "…, camera following the player": the same player again
            }
            phrases.push(Phrase {
                kind: k,
                n: n.take().unwrap_or(1),
                size: sz.take(),
                color: col.take(),
                motion: vec![],
            });
        } else if let Some(c) = count(w) {
            n = Some(c);
        } else if let Some(s) = size(w) {
            sz = Some(s);
        } else if w == "big" {
            sz = Some(SizeClass::Large);
        } else if let Some(c) = color(w) {
            // "green grassy meadow": a colour before a terrain word belongs to the place.
            if next.and_then(terrain).is_none() {
                col = Some(c);
            }
        } else if let Some(t) = terrain(w) {
            scene_terrain = Some(t);
        } else if let Some(s) = sky(w) {
            scene_sky = Some(s);
        } else if w == "following" {
            camera = Some(Camera::Follow);
        } else if w == "panning" {
            let speed = if next == Some("left") { -0.8 } else { 0.8 };
            camera = Some(Camera::Pan { x: 0.0, speed });
        } else if let Some(p) = phrases.last_mut() {
            p.motion.push(w.to_string());
        }
    }
    let terrain = scene_terrain.unwrap_or(Terrain::Grass);
    let sky = scene_sky.unwrap_or(Sky::Day);
    let half_view = crate::view::VIEW_HEIGHT * width as f32 / height as f32 / 2.0;
    let mut objects = Vec::new();
    let mut occluders = Vec::new();
    let mut player = None;
    let any_color = |rng: &mut Rng| rng.pick(&NamedColor::ALL);
    for p in &phrases {
        let has = |m: &str| p.motion.iter().any(|w| w == m);
        for k in 0..p.n.min(4) {
            let spread = if p.n > 1 { (k as f32 + 0.5) / p.n as f32 * 1.4 - 0.7 } else { rng.range(-0.3, 0.3) };
            let x = spread * half_view;
            let color = p.color.unwrap_or_else(|| any_color(&mut rng));
            let size = p.size.unwrap_or(SizeClass::Medium);
            let dir = if has("left") {
                -1.0
            } else if has("right") {
                1.0
            } else {
                rng.pick(&[-1.0, 1.0])
            };
            match p.kind {
                Kind::Ball => {
                    let (y, vx) = if has("resting") {
                        (0.0, 0.0)
                    } else if has("rolling") {
                        (0.0, dir * rng.range(0.8, 1.5))
                    } else if has("falling") {
                        (rng.range(2.0, 3.0), 0.0)
                    } else {
                        (rng.range(1.5, 3.0), dir * rng.range(0.0, 1.0))
                    };
                    objects.push(Object::Ball { color, size, x, y, vx, vy: 0.0 });
                }
                Kind::Box => {
                    let (y, vx) = if has("falling") {
                        (rng.range(1.0, 2.0), 0.0)
                    } else if has("sliding") {
                        (0.0, dir * rng.range(1.5, 3.0))
                    } else {
                        (0.0, 0.0)
                    };
                    objects.push(Object::Box { color, size, x, y, vx });
                }
                Kind::Player => {
                    let action = if has("jumping") {
                        Action::Jump
                    } else if has("painting") {
                        Action::Paint
                    } else if has("walking") && has("left") {
                        Action::Left
                    } else if has("walking") {
                        Action::Right
                    } else {
                        Action::Stand
                    };
                    player = Some(Player {
                        color,
                        paint: p.color.map_or(NamedColor::Pink, |_| any_color(&mut rng)),
                        x,
                        facing: if dir < 0.0 { Facing::Left } else { Facing::Right },
                        actions: vec![(0.0, action)],
                    });
                }
                Kind::Tree => occluders.push(Occluder::Tree { x, size }),
                Kind::Pillar => {
                    occluders.push(Occluder::Pillar { x, size, color: p.color.unwrap_or(NamedColor::Gray) })
                }
            }
        }
    }
    let camera = match camera {
        Some(Camera::Follow) if player.is_none() => Camera::Fixed { x: 0.0 },
        Some(c) => c,
        None => Camera::Fixed { x: 0.0 },
    };
    let scene = Scene {
        name: "prompt".into(),
        width,
        height,
        fps: 12,
        frames,
        seed: mix64(seed),
        terrain,
        sky,
        camera,
        stage: 10.0,
        objects,
        occluders,
        player,
        prompts: Vec::new(),
    };
    let (truth, captions) = Clip::truth(&scene);
    let steered = crate::captions::steered_caption(&scene, &truth);
    Expansion { scene, caption: captions.caption, steered, unknown }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_prompt_becomes_a_matching_scene_and_caption() {
        let e = expand("two small red balls bouncing on snow at night", 64, 64, 25, 1);
        assert_eq!((e.scene.terrain, e.scene.sky), (Terrain::Snow, Sky::Night));
        assert_eq!(e.scene.objects.len(), 2);
        assert!(e.scene.objects.iter().all(|o| o.color() == NamedColor::Red && o.size() == SizeClass::Small));
        assert!(e.caption.contains("snowy field") && e.caption.contains("Night"), "{}", e.caption);
        assert!(e.caption.contains("red ball"), "{}", e.caption);
        assert!(e.unknown.is_empty(), "{:?}", e.unknown);
        e.scene.validate().expect("a valid scene");
    }

    #[test]
    fn players_cameras_and_unknown_words() {
        let e = expand("blue player walking left on the beach, camera following the player, zorbs", 96, 64, 25, 2);
        let p = e.scene.player.as_ref().expect("a player");
        assert_eq!((p.color, p.actions[0].1), (NamedColor::Blue, Action::Left));
        assert_eq!((e.scene.terrain, e.scene.camera.clone()), (Terrain::Sand, Camera::Follow));
        assert_eq!(e.unknown, vec!["zorbs".to_string()]);
        assert!(e.caption.contains("walks left"), "{}", e.caption);
        // Same prompt and seed, same expansion; an empty prompt is an empty landscape.
        assert_eq!(
            e,
            expand("blue player walking left on the beach, camera following the player, zorbs", 96, 64, 25, 2)
        );
        let empty = expand("", 64, 64, 9, 3);
        assert!(empty.scene.objects.is_empty() && empty.scene.player.is_none());
    }
}
