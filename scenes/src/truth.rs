//! Ground truth: per frame, where every object truly is (world metres and pixels), how it
//! moves, and how much of it is visible, hidden behind an occluder, or out of the frame.
//!
//! Visibility is measured with the same shapes the renderer draws, on a grid of sample points
//! inside each object. Objects drawn over each other do not count as occlusion; only the
//! foreground occluders (trees, pillars) and the frame's edges hide things.

use serde::Serialize;

use crate::color::NamedColor;
use crate::geometry::{Part, body_parts, occluder_parts};
use crate::physics::{BodyKind, WorldState};
use crate::scene::{Action, Scene, SizeClass};
use crate::view::View;

/// Sample points per side of an object's bounding box when measuring visibility.
const SAMPLES: usize = 16;

/// How visible an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Nothing hides it (it may be cut by the frame's edge: see `in_view_fraction`).
    Visible,
    /// An occluder hides part of it.
    PartlyOccluded,
    /// It is in the frame but occluders hide all of it.
    Occluded,
    /// It is entirely outside the frame.
    OutOfView,
}

/// An object's box in world metres.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorldBox {
    /// Centre x.
    pub x: f32,
    /// Centre y (above the ground line).
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
    /// Horizontal velocity, m/s.
    pub vx: f32,
    /// Vertical velocity, m/s.
    pub vy: f32,
}

/// An object's box in pixels (x right, y down, origin at the top-left corner of the frame).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PixelBox {
    /// Centre x.
    pub x: f32,
    /// Centre y.
    pub y: f32,
    /// Left edge.
    pub x0: f32,
    /// Top edge.
    pub y0: f32,
    /// Right edge.
    pub x1: f32,
    /// Bottom edge.
    pub y1: f32,
}

/// The truth about one object in one frame.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObjectTruth {
    /// Stable name within the clip: `ball0`, `box1`, `player`, numbered in scene order.
    pub id: String,
    /// What it is.
    pub kind: BodyKind,
    /// Its colour.
    pub color: NamedColor,
    /// Its size class.
    pub size: SizeClass,
    /// Where it is in the world.
    pub world: WorldBox,
    /// Where it is in the frame.
    pub pixel: PixelBox,
    /// Whether it stands on the ground.
    pub on_ground: bool,
    /// Ground bounces so far.
    pub bounces: u32,
    /// Share of its area inside the frame.
    pub in_view_fraction: f32,
    /// Share of its area behind occluders (inside the frame or not).
    pub occluded_fraction: f32,
    /// Share of its area that is inside the frame and not occluded.
    pub visible_fraction: f32,
    /// Summary of the three fractions.
    pub visibility: Visibility,
}

/// A stretch of paint in one frame.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PaintTruth {
    /// Its colour.
    pub color: NamedColor,
    /// Left end, world m.
    pub x0: f32,
    /// Right end, world m.
    pub x1: f32,
    /// Left end, pixels.
    pub px0: f32,
    /// Right end, pixels.
    pub px1: f32,
}

/// The truth about one frame.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameTruth {
    /// Frame index.
    pub frame: u32,
    /// Seconds since the clip started.
    pub time: f32,
    /// Centre of the view, world x.
    pub camera_x: f32,
    /// World x of the frame's left and right edges.
    pub view_x: (f32, f32),
    /// Pixel row of the ground line.
    pub ground_y: f32,
    /// The player's command in force from this frame on, if there is a player.
    pub action: Option<Action>,
    /// Every object (balls and boxes in scene order, then the player).
    pub objects: Vec<ObjectTruth>,
    /// Paint on the ground.
    pub paint: Vec<PaintTruth>,
}

/// Measures the truth of a scene's frames.
#[derive(Clone, Debug)]
pub struct TruthProbe {
    width: u32,
    height: u32,
    occluders: Vec<Part>,
}

impl TruthProbe {
    /// A probe for `scene`.
    pub fn new(scene: &Scene) -> TruthProbe {
        let occluders = scene
            .occluders
            .iter()
            .enumerate()
            .flat_map(|(i, o)| occluder_parts(o, scene.seed, i))
            .filter(|p| p.solid)
            .collect();
        TruthProbe { width: scene.width, height: scene.height, occluders }
    }

    /// The truth of frame `index` showing `state`.
    pub fn measure(&self, index: u32, state: &WorldState) -> FrameTruth {
        let view = View::new(self.width, self.height, state.camera_x);
        let objects = state
            .bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let id = if body.kind == BodyKind::Player {
                    "player".to_string()
                } else {
                    let n = state.bodies[..i].iter().filter(|b| b.kind == body.kind).count();
                    format!("{}{n}", body.kind.noun())
                };
                let facing = state.player.as_ref().filter(|p| p.body == i).map(|p| p.facing);
                let parts: Vec<Part> = body_parts(body, facing).into_iter().filter(|p| p.solid).collect();
                let (in_view, occluded, visible) =
                    self.fractions(&view, &parts, body.x, body.y, body.width, body.height);
                let visibility = if in_view == 0.0 {
                    Visibility::OutOfView
                } else if visible == 0.0 {
                    Visibility::Occluded
                } else if occluded > 0.0 {
                    Visibility::PartlyOccluded
                } else {
                    Visibility::Visible
                };
                let (cx, cy) = body.center();
                let (px, py) = view.to_pixel(cx, cy);
                let (px0, py0) = view.to_pixel(body.x - body.width / 2.0, body.y + body.height);
                let (px1, py1) = view.to_pixel(body.x + body.width / 2.0, body.y);
                ObjectTruth {
                    id,
                    kind: body.kind,
                    color: body.color,
                    size: body.size,
                    world: WorldBox { x: cx, y: cy, width: body.width, height: body.height, vx: body.vx, vy: body.vy },
                    pixel: PixelBox { x: px, y: py, x0: px0, y0: py0, x1: px1, y1: py1 },
                    on_ground: body.on_ground(),
                    bounces: body.bounces,
                    in_view_fraction: in_view,
                    occluded_fraction: occluded,
                    visible_fraction: visible,
                    visibility,
                }
            })
            .collect();
        let paint = state
            .paint
            .iter()
            .map(|s| PaintTruth {
                color: s.color,
                x0: s.x0,
                x1: s.x1,
                px0: view.to_pixel(s.x0, 0.0).0,
                px1: view.to_pixel(s.x1, 0.0).0,
            })
            .collect();
        FrameTruth {
            frame: index,
            time: state.time,
            camera_x: state.camera_x,
            view_x: (view.left(), view.right()),
            ground_y: view.to_pixel(0.0, 0.0).1,
            action: state.player.as_ref().map(|p| p.action),
            objects,
            paint,
        }
    }

    /// `(in view, occluded, visible)` shares of the area of `parts`, sampled on a grid over the
    /// box `x ± w/2, y..y+h`.
    fn fractions(&self, view: &View, parts: &[Part], x: f32, y: f32, w: f32, h: f32) -> (f32, f32, f32) {
        let (mut total, mut in_view, mut occluded, mut visible) = (0u32, 0u32, 0u32, 0u32);
        for a in 0..SAMPLES {
            for b in 0..SAMPLES {
                let sx = x - w / 2.0 + w * (a as f32 + 0.5) / SAMPLES as f32;
                let sy = y + h * (b as f32 + 0.5) / SAMPLES as f32;
                if !parts.iter().any(|p| p.shape.contains(sx, sy)) {
                    continue;
                }
                total += 1;
                let seen = view.contains(sx, sy);
                let hidden = self.occluders.iter().any(|p| p.shape.contains(sx, sy));
                in_view += u32::from(seen);
                occluded += u32::from(hidden);
                visible += u32::from(seen && !hidden);
            }
        }
        let share = |n: u32| if total == 0 { 0.0 } else { n as f32 / total as f32 };
        (share(in_view), share(occluded), share(visible))
    }
}
