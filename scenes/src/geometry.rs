//! What each thing in the world is made of: the shapes (and their colours) of balls, boxes, the
//! player and the occluders, at a given state. The renderer draws these parts and the ground
//! truth measures visibility with them, so what is reported is what is drawn.

use crate::color::{NamedColor, Rgb};
use crate::physics::{Body, BodyKind};
use crate::rng::Rng;
use crate::scene::{Facing, Occluder};
use crate::shape::Shape;

/// How a part is coloured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    /// One colour with a gentle vertical gradient.
    Flat(Rgb),
    /// A lit sphere of a colour (balls): shaded by a light from the upper left.
    Sphere(Rgb),
}

/// One shape of a thing, with its fill.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Part {
    /// Where it is.
    pub shape: Shape,
    /// How it looks.
    pub fill: Fill,
    /// Whether it counts as the thing's body for visibility (eyes and outlines do not add area).
    pub solid: bool,
}

const TRUNK: Rgb = Rgb::from_u8(105, 72, 42);
const CROWN: Rgb = Rgb::from_u8(40, 112, 52);
const SKIN: Rgb = Rgb::from_u8(240, 200, 160);
const LEGS: Rgb = Rgb::from_u8(55, 55, 70);
const EYE: Rgb = Rgb::from_u8(20, 20, 25);

/// The parts of a body, back to front.
pub fn body_parts(body: &Body, facing: Option<Facing>) -> Vec<Part> {
    let c = body.color.rgb();
    let (x, y, w, h) = (body.x, body.y, body.width, body.height);
    match body.kind {
        BodyKind::Ball => {
            vec![Part {
                shape: Shape::Circle { cx: x, cy: y + h / 2.0, r: w / 2.0 },
                fill: Fill::Sphere(c),
                solid: true,
            }]
        }
        BodyKind::Box => {
            let inset = 0.12 * w;
            vec![
                Part {
                    shape: Shape::rect(x - w / 2.0, y, x + w / 2.0, y + h),
                    fill: Fill::Flat(c.scale(0.68)),
                    solid: true,
                },
                Part {
                    shape: Shape::rect(x - w / 2.0 + inset, y + inset, x + w / 2.0 - inset, y + h - inset),
                    fill: Fill::Flat(c),
                    solid: false,
                },
            ]
        }
        BodyKind::Player => {
            let dir = facing.map_or(1.0, Facing::sign);
            // Legs swing with the distance walked, so walking reads as walking.
            let swing = (x * 5.0).sin() * 0.07 * if y > 0.0 { 0.0 } else { 1.0 };
            let leg = |dx: f32| Part {
                shape: Shape::Rect { x0: x + dx - 0.07, y0: y, x1: x + dx + 0.07, y1: y + 0.36, round: 0.04 },
                fill: Fill::Flat(LEGS),
                solid: true,
            };
            vec![
                leg(-0.11 + swing),
                leg(0.11 - swing),
                Part {
                    shape: Shape::Rect { x0: x - w / 2.0, y0: y + 0.3, x1: x + w / 2.0, y1: y + 0.85, round: 0.12 },
                    fill: Fill::Flat(c),
                    solid: true,
                },
                Part { shape: Shape::Circle { cx: x, cy: y + h - 0.2, r: 0.2 }, fill: Fill::Flat(SKIN), solid: true },
                Part {
                    shape: Shape::Circle { cx: x + dir * 0.1, cy: y + h - 0.17, r: 0.045 },
                    fill: Fill::Flat(EYE),
                    solid: false,
                },
            ]
        }
    }
}

/// The parts of an occluder, back to front; `seed` varies tree crowns.
pub fn occluder_parts(occluder: &Occluder, seed: u64, index: usize) -> Vec<Part> {
    match *occluder {
        Occluder::Tree { x, size } => {
            let mut rng = Rng::new(seed ^ (index as u64 + 1).wrapping_mul(0x9E37));
            let r = size.pick(0.8, 1.1, 1.4);
            let trunk_h = size.pick(1.0, 1.4, 1.8);
            let tw = 0.12 + 0.06 * r;
            let jitter = |rng: &mut Rng| rng.range(-0.12, 0.12) * r;
            let mut parts = vec![Part {
                shape: Shape::rect(x - tw, 0.0, x + tw, trunk_h + r * 0.5),
                fill: Fill::Flat(TRUNK),
                solid: true,
            }];
            for (dx, dy, k) in [(-0.55, 0.25, 0.7), (0.55, 0.25, 0.7), (0.0, 0.65, 1.0)] {
                let (jx, jy) = (jitter(&mut rng), jitter(&mut rng));
                parts.push(Part {
                    shape: Shape::Circle { cx: x + dx * r + jx, cy: trunk_h + dy * r + jy, r: k * r },
                    fill: Fill::Flat(CROWN.scale(0.9 + 0.2 * k)),
                    solid: true,
                });
            }
            parts
        }
        Occluder::Pillar { x, size, color } => {
            let w = size.pick(0.7, 1.0, 1.3);
            let h = size.pick(2.0, 2.8, 3.6);
            let c = color.rgb();
            vec![
                Part { shape: Shape::rect(x - w / 2.0, 0.0, x + w / 2.0, h), fill: Fill::Flat(c), solid: true },
                Part {
                    shape: Shape::rect(x - w / 2.0 - 0.1, 0.0, x + w / 2.0 + 0.1, 0.16),
                    fill: Fill::Flat(c.scale(0.85)),
                    solid: true,
                },
                Part {
                    shape: Shape::rect(x - w / 2.0 - 0.14, h - 0.02, x + w / 2.0 + 0.14, h + 0.2),
                    fill: Fill::Flat(c.scale(0.85)),
                    solid: true,
                },
            ]
        }
    }
}

/// The colour of an occluder, for captions ("a gray pillar"); trees are green.
pub fn occluder_color(occluder: &Occluder) -> NamedColor {
    match occluder {
        Occluder::Tree { .. } => NamedColor::Green,
        Occluder::Pillar { color, .. } => *color,
    }
}
