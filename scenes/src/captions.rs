//! The language of the world: for each clip a descriptive caption (several sentences), a short
//! prompt (what a user would type) and one action caption per frame, all derived from the scene
//! and its ground truth, so the words always match what happens on screen.
//!
//! Every word these functions can write is in [`crate::vocabulary::vocabulary`]; a test keeps
//! the two in step.

use serde::{Deserialize, Serialize};

use crate::physics::BodyKind;
use crate::scene::{Action, Camera, Occluder, Scene, Sky, Terrain};
use crate::truth::{FrameTruth, ObjectTruth, Visibility};

/// Horizontal travel below this (m) counts as staying in place.
const MOVE_EPS: f32 = 0.25;
/// Camera travel per frame below this (m) counts as holding still.
const PAN_EPS: f32 = 1e-3;

/// The texts of one clip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Captions {
    /// Several sentences: place, light, every object with colour, size and motion, the camera.
    pub caption: String,
    /// A short prompt, e.g. "red ball bouncing on snow at night".
    pub prompt: String,
    /// One per frame: the command in force from that frame on, e.g. "the player moves left".
    pub actions: Vec<String>,
}

/// Writes the captions of a clip from its scene and per-frame truth.
pub fn describe(scene: &Scene, truth: &[FrameTruth]) -> Captions {
    Captions { caption: caption(scene, truth), prompt: prompt(scene, truth), actions: action_captions(scene, truth) }
}

/// The words for a count of bounces.
fn times(n: u32) -> &'static str {
    match n {
        1 => "once",
        2 => "twice",
        3 => "three times",
        4 => "four times",
        _ => "many times",
    }
}

fn count_word(n: usize) -> &'static str {
    match n {
        1 => "one",
        2 => "two",
        3 => "three",
        4 => "four",
        _ => "several",
    }
}

/// "A" or "An" before `word`.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "An" } else { "A" }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// Where a pixel x lies across the frame's width.
fn position(px: f32, width: u32) -> &'static str {
    let f = px / width as f32;
    if f < 1.0 / 3.0 {
        "on the left"
    } else if f > 2.0 / 3.0 {
        "on the right"
    } else {
        "in the middle"
    }
}

fn place(terrain: Terrain) -> &'static str {
    match terrain {
        Terrain::Grass => "on a green grassy meadow",
        Terrain::Sand => "on a sandy beach",
        Terrain::Snow => "on a snowy field",
        Terrain::Water => "over calm blue water",
    }
}

fn direction(dx: f32) -> &'static str {
    if dx > 0.0 { "to the right" } else { "to the left" }
}

/// "the large red ball", "the player".
fn name(o: &ObjectTruth) -> String {
    match o.kind {
        BodyKind::Player => "the player".into(),
        kind => format!("the {} {} {}", o.size.name(), o.color.name(), kind.noun()),
    }
}

fn caption(scene: &Scene, truth: &[FrameTruth]) -> String {
    caption_with(scene, truth, true)
}

/// The caption of a clip whose player is steered by action captions: the same sentences, but
/// the player's sentence names only its colour and place, never how it moves ("A blue player in the
/// middle."), so the motion is the per-frame actions' to say. A stream's prompt is expanded to
/// this caption (it holds for the stream's whole life while the actions change), and the DiT
/// sees it in training for part of the clips with a player (`steered_share`), so it learns
/// the player's motion from the actions alone.
pub fn steered_caption(scene: &Scene, truth: &[FrameTruth]) -> String {
    caption_with(scene, truth, false)
}

/// The caption, with or without the player's motion.
fn caption_with(scene: &Scene, truth: &[FrameTruth], with_player_motion: bool) -> String {
    let mut s: Vec<String> = Vec::new();
    let ground = scene.terrain.name();
    s.push(match scene.sky {
        Sky::Day => {
            format!("A sunny day {}, seen from the side. The sky is blue with white clouds.", place(scene.terrain))
        }
        Sky::Dusk => format!(
            "Dusk {}, seen from the side. The sun sets low under an orange and purple sky, and the light is warm.",
            place(scene.terrain)
        ),
        Sky::Night => format!(
            "Night {}, seen from the side. The sky is dark with stars and a pale moon, and everything is dim and blue.",
            place(scene.terrain)
        ),
    });
    s.push(
        match scene.terrain {
            Terrain::Grass => "Blue mountains and green hills stand in the background.",
            Terrain::Sand => "Brown mountains and sand dunes stand in the background.",
            Terrain::Snow => "Snowy mountains and white hills stand in the background.",
            Terrain::Water => "Blue mountains and a green shore stand in the background.",
        }
        .into(),
    );
    let (Some(first), Some(last)) = (truth.first(), truth.last()) else { return s.join(" ") };
    let still = truth.len() == 1;
    for (k, o0) in first.objects.iter().enumerate() {
        let o1 = &last.objects[k];
        let seen_at_start = o0.visibility != Visibility::OutOfView;
        let seen_ever = truth.iter().any(|f| f.objects[k].visibility != Visibility::OutOfView);
        let subject = match o0.kind {
            BodyKind::Player => format!("{} {} player", article(o0.color.name()), o0.color.name()),
            kind => format!("A {} {} {}", o0.size.name(), o0.color.name(), kind.noun()),
        };
        let subject = if seen_at_start { format!("{subject} {}", position(o0.pixel.x, scene.width)) } else { subject };
        let motion = if o0.kind == BodyKind::Player && !with_player_motion {
            String::new()
        } else if still {
            match (o0.kind, o0.on_ground) {
                (BodyKind::Player, true) => format!(" stands on the {ground}"),
                (_, true) => format!(" rests on the {ground}"),
                (_, false) => " is in the air".to_string(),
            }
        } else {
            let m = match o0.kind {
                BodyKind::Ball => ball_motion(o0, o1, ground),
                BodyKind::Box => box_motion(o0, o1, ground),
                BodyKind::Player => player_motion(scene, truth),
            };
            format!(" {m}")
        };
        let tail = if !seen_ever {
            ", out of view"
        } else if !seen_at_start {
            ", and comes into view"
        } else {
            ""
        };
        s.push(format!("{subject}{motion}{tail}."));
    }
    for occluder in &scene.occluders {
        let what = match occluder {
            Occluder::Tree { size, .. } => format!("A {} tree", size.name()),
            Occluder::Pillar { size, color, .. } => format!("A {} {} pillar", size.name(), color.name()),
        };
        let x = occluder.x();
        let (x0, x1) = first.view_x;
        let at = if x >= x0 && x <= x1 {
            format!(" {}", position((x - x0) / (x1 - x0) * scene.width as f32, scene.width))
        } else {
            String::new()
        };
        s.push(format!("{what} stands in the foreground{at}."));
    }
    for k in 0..first.objects.len() {
        s.extend(occlusion_event(scene, truth, k));
        s.extend(view_event(truth, k));
    }
    if let Some(stroke) = last.paint.first() {
        s.push(format!("The {} paint stays on the ground where it was put.", stroke.color.name()));
    }
    if !still {
        s.push(camera_sentence(scene, truth));
    }
    s.join(" ")
}

fn ball_motion(o0: &ObjectTruth, o1: &ObjectTruth, ground: &str) -> String {
    let dx = o1.world.x - o0.world.x;
    let travel = if dx.abs() > MOVE_EPS { format!(", moving {}", direction(dx)) } else { String::new() };
    if o1.bounces > 0 {
        let lower = if o1.bounces > 1 { ", lower each time" } else { "" };
        format!("falls and bounces {} on the {ground}{lower}{travel}", times(o1.bounces))
    } else if !o0.on_ground && !o1.on_ground {
        format!("falls through the air{travel}")
    } else if !o0.on_ground {
        format!("falls and lands on the {ground}{travel}")
    } else if dx.abs() > MOVE_EPS {
        let stop = if o1.world.vx.abs() < 1e-3 { " and stops" } else { "" };
        format!("rolls {}{stop}", direction(dx))
    } else {
        format!("rests on the {ground}")
    }
}

fn box_motion(o0: &ObjectTruth, o1: &ObjectTruth, ground: &str) -> String {
    let dx = o1.world.x - o0.world.x;
    let mut parts = Vec::new();
    if !o0.on_ground {
        parts.push(if o1.on_ground { format!("falls to the {ground}") } else { "falls through the air".to_string() });
    }
    if dx.abs() > MOVE_EPS {
        let stop = if o1.world.vx.abs() < 1e-3 && o1.on_ground { " and stops" } else { "" };
        parts.push(format!("slides {}{stop}", direction(dx)));
    }
    if parts.is_empty() { format!("stands still on the {ground}") } else { parts.join(", then ") }
}

fn action_phrase(action: Action, paint: &str) -> String {
    match action {
        Action::Left => "walks left".into(),
        Action::Right => "walks right".into(),
        Action::Jump => "jumps".into(),
        Action::Stand => "stands still".into(),
        Action::Paint => format!("paints a {paint} trail on the ground"),
    }
}

fn player_motion(scene: &Scene, truth: &[FrameTruth]) -> String {
    let paint = scene.player.as_ref().map_or("pink", |p| p.paint.name());
    let mut seq: Vec<Action> = Vec::new();
    for a in truth.iter().filter_map(|f| f.action) {
        if seq.last() != Some(&a) {
            seq.push(a);
        }
    }
    let phrases: Vec<String> = seq.iter().map(|a| action_phrase(*a, paint)).collect();
    match phrases.len() {
        0 => "stands still".into(),
        1 => phrases[0].clone(),
        _ => format!("first {}", phrases.join(", then ")),
    }
}

/// What happens between object `k` and the occluders, if anything.
fn occlusion_event(scene: &Scene, truth: &[FrameTruth], k: usize) -> Option<String> {
    let states: Vec<&ObjectTruth> = truth.iter().map(|f| &f.objects[k]).collect();
    let hidden = |o: &&ObjectTruth| o.visibility == Visibility::Occluded;
    let touched = states.iter().find(|o| matches!(o.visibility, Visibility::Occluded | Visibility::PartlyOccluded))?;
    let nearest = scene
        .occluders
        .iter()
        .min_by(|a, b| (a.x() - touched.world.x).abs().total_cmp(&(b.x() - touched.world.x).abs()))?
        .noun();
    let who = name(states[0]);
    let first_hidden = states.iter().position(hidden);
    let last_hidden = states.iter().rposition(hidden);
    Some(match (first_hidden, last_hidden) {
        (None, _) | (_, None) => format!("{} passes partly behind the {nearest}.", capitalise(&who)),
        (Some(0), Some(l)) if l + 1 == states.len() => {
            format!("{} stays hidden behind the {nearest}.", capitalise(&who))
        }
        (Some(0), Some(_)) => format!("{} starts hidden behind the {nearest} and comes out.", capitalise(&who)),
        (Some(_), Some(l)) if l + 1 == states.len() => {
            format!("{} goes behind the {nearest} and stays hidden.", capitalise(&who))
        }
        _ => format!("{} passes behind the {nearest} and comes out again.", capitalise(&who)),
    })
}

/// Whether object `k` leaves the frame (and comes back), when it starts in view.
fn view_event(truth: &[FrameTruth], k: usize) -> Option<String> {
    let out: Vec<bool> = truth.iter().map(|f| f.objects[k].visibility == Visibility::OutOfView).collect();
    if out[0] {
        return None;
    }
    let left = out.iter().position(|o| *o)?;
    let who = capitalise(&name(&truth[0].objects[k]));
    Some(if out[left..].iter().all(|o| *o) {
        format!("{who} leaves the view.")
    } else {
        format!("{who} leaves the view and comes back.")
    })
}

/// Per-frame camera travel, m (the last frame repeats the one before).
fn camera_steps(truth: &[FrameTruth]) -> Vec<f32> {
    let mut d: Vec<f32> = truth.windows(2).map(|w| w[1].camera_x - w[0].camera_x).collect();
    d.push(d.last().copied().unwrap_or(0.0));
    d
}

fn camera_sentence(scene: &Scene, truth: &[FrameTruth]) -> String {
    if scene.camera == Camera::Follow {
        return "The camera follows the player.".into();
    }
    let mut moves: Vec<&str> = Vec::new();
    for d in camera_steps(truth) {
        let m = if d > PAN_EPS {
            "to the right"
        } else if d < -PAN_EPS {
            "to the left"
        } else {
            "still"
        };
        if moves.last() != Some(&m) {
            moves.push(m);
        }
    }
    if moves.len() > 1 && moves.last() == Some(&"still") {
        moves.pop();
    }
    match moves.as_slice() {
        [] | ["still"] => "The camera is still.".into(),
        [m] => format!("The camera pans {m}."),
        _ => {
            // "pans back" when the camera reverses an earlier pan.
            let phrases: Vec<String> = moves
                .iter()
                .enumerate()
                .map(|(i, m)| match *m {
                    "still" => "holds still".to_string(),
                    m if moves[..i].iter().any(|e| *e != "still" && *e != m) => format!("pans back {m}"),
                    m => format!("pans {m}"),
                })
                .collect();
            format!("The camera {}.", phrases.join(", then "))
        }
    }
}

fn subject_phrase(truth: &[FrameTruth], k: usize) -> String {
    let (o0, o1) = (&truth[0].objects[k], &truth[truth.len() - 1].objects[k]);
    let dx = o1.world.x - o0.world.x;
    let color = o0.color.name();
    match o0.kind {
        BodyKind::Ball => {
            let verb = if o1.bounces > 0 {
                "bouncing"
            } else if !o0.on_ground {
                "falling"
            } else if dx.abs() > MOVE_EPS {
                "rolling"
            } else {
                "resting"
            };
            format!("{color} ball {verb}")
        }
        BodyKind::Box => {
            if !o0.on_ground {
                format!("{color} box falling")
            } else if dx.abs() > MOVE_EPS {
                format!("{color} box sliding")
            } else {
                format!("{color} box")
            }
        }
        BodyKind::Player => {
            let mut counts = [0usize; 5];
            for a in truth.iter().filter_map(|f| f.action) {
                counts[Action::ALL.iter().position(|b| *b == a).unwrap_or(3)] += 1;
            }
            let main = (0..5).max_by_key(|&i| (counts[i], usize::MAX - i)).map_or(Action::Stand, |i| Action::ALL[i]);
            let verb = match main {
                Action::Left => "walking left",
                Action::Right => "walking right",
                Action::Jump => "jumping",
                Action::Stand => "standing",
                Action::Paint => "painting",
            };
            format!("{color} player {verb}")
        }
    }
}

fn prompt(scene: &Scene, truth: &[FrameTruth]) -> String {
    let Some(first) = truth.first() else { return String::new() };
    let n = first.objects.len();
    // The player first, then the other objects in scene order; only things that are ever seen.
    let order =
        (0..n).rev().take(usize::from(scene.player.is_some())).chain(0..n - usize::from(scene.player.is_some()));
    let seen: Vec<usize> =
        order.filter(|&k| truth.iter().any(|f| f.objects[k].visibility != Visibility::OutOfView)).collect();
    let mut subjects: Vec<String> = seen.iter().take(2).map(|&k| subject_phrase(truth, k)).collect();
    if seen.len() > 2 {
        let more = seen.len() - 2;
        subjects.push(format!("{} more {}", count_word(more), if more == 1 { "thing" } else { "things" }));
    }
    let mut p = if subjects.is_empty() {
        format!("empty landscape of {}", scene.terrain.name())
    } else {
        format!("{} on {}", subjects.join(" and "), scene.terrain.name())
    };
    match scene.sky {
        Sky::Day => {}
        Sky::Dusk => p.push_str(" at dusk"),
        Sky::Night => p.push_str(" at night"),
    }
    if truth.len() > 1 {
        if scene.camera == Camera::Follow {
            p.push_str(", camera following the player");
        } else {
            let steps = camera_steps(truth);
            let (right, left) = (steps.iter().any(|d| *d > PAN_EPS), steps.iter().any(|d| *d < -PAN_EPS));
            match (right, left) {
                (true, false) => p.push_str(", camera panning right"),
                (false, true) => p.push_str(", camera panning left"),
                (true, true) => p.push_str(", camera panning back and forth"),
                (false, false) => {}
            }
        }
    }
    p
}

/// The caption of a player command, as game code and the action-conditioned model use it.
pub fn action_caption(action: Action) -> &'static str {
    match action {
        Action::Left => "the player moves left",
        Action::Right => "the player moves right",
        Action::Jump => "the player jumps",
        Action::Stand => "the player stands still",
        Action::Paint => "the player paints",
    }
}

fn action_captions(scene: &Scene, truth: &[FrameTruth]) -> Vec<String> {
    let steps = camera_steps(truth);
    truth
        .iter()
        .zip(steps)
        .map(|(f, d)| {
            let camera = if scene.camera == Camera::Follow && f.action.is_some() {
                None
            } else if d > PAN_EPS {
                Some("the camera pans right")
            } else if d < -PAN_EPS {
                Some("the camera pans left")
            } else {
                None
            };
            match (f.action.map(action_caption), camera) {
                (Some(p), Some(c)) => format!("{p} and {c}"),
                (Some(p), None) => p.to_string(),
                (None, Some(c)) => c.to_string(),
                (None, None) => "the camera holds still".to_string(),
            }
        })
        .collect()
}
