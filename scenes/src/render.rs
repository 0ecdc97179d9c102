//! The software renderer: draws a world state into an anti-aliased RGB frame of any size.
//!
//! Back to front: sky, sun or moon, stars, clouds, mountains, hills, ground, paint, contact
//! shadows, bodies, occluders. Edges are anti-aliased analytically: a pixel's coverage of a shape is estimated
//! from the signed distance at its centre, so sharp shapes stay sharp and sub-pixel ones fade
//! instead of flickering.

use crate::color::Rgb;
use crate::frame::Frame;
use crate::geometry::{Fill, Part, body_parts, occluder_parts};
use crate::physics::WorldState;
use crate::scene::Scene;
use crate::scenery::{HILL_PARALLAX, MOUNTAIN_PARALLAX, Scenery};
use crate::shape::Shape;
use crate::view::View;

/// Thickness of a paint stripe on the ground, m.
const PAINT_DEPTH: f32 = 0.13;
/// Half the thickness of a contact shadow, m.
const SHADOW_DEPTH: f32 = 0.06;
/// Opacity of the shadow of a thing touching the ground.
const SHADOW_OPACITY: f32 = 0.35;
/// Height at which a thing's shadow has faded away, m.
const SHADOW_FADE_HEIGHT: f32 = 3.0;
/// Share of the horizon's colour mixed into the far mountains (aerial haze).
const MOUNTAIN_HAZE: f32 = 0.35;

/// Renders the states of one scene. Holds what does not change from frame to frame.
#[derive(Clone, Debug)]
pub struct Renderer {
    width: u32,
    height: u32,
    scenery: Scenery,
    occluders: Vec<Part>,
}

/// A float RGB image being composited.
struct Canvas {
    view: View,
    px: Vec<[f32; 3]>,
}

impl Canvas {
    fn blend(&mut self, i: usize, c: Rgb, alpha: f32) {
        for (p, c) in self.px[i].iter_mut().zip(c.0) {
            *p += (c - *p) * alpha;
        }
    }

    /// Pixel range `(i0, j0, i1, j1)` (exclusive ends) covering a world box plus one pixel.
    fn pixel_box(&self, (x0, y0, x1, y1): (f32, f32, f32, f32)) -> (usize, usize, usize, usize) {
        let (px0, py0) = self.view.to_pixel(x0, y1);
        let (px1, py1) = self.view.to_pixel(x1, y0);
        let clamp_w = |v: f32| v.clamp(0.0, self.view.width as f32) as usize;
        let clamp_h = |v: f32| v.clamp(0.0, self.view.height as f32) as usize;
        (clamp_w(px0 - 1.0), clamp_h(py0 - 1.0), clamp_w(px1 + 2.0), clamp_h(py1 + 2.0))
    }

    /// Fills a shape, colouring each covered pixel with `color(x, y)` at its world centre.
    fn fill(&mut self, shape: &Shape, opacity: f32, color: impl Fn(f32, f32) -> Rgb) {
        let (i0, j0, i1, j1) = self.pixel_box(shape.bounds());
        let mpp = self.view.mpp;
        for j in j0..j1 {
            for i in i0..i1 {
                let (x, y) = self.view.to_world(i as f32 + 0.5, j as f32 + 0.5);
                let coverage = (0.5 - shape.sd(x, y) / mpp).clamp(0.0, 1.0);
                if coverage > 0.0 {
                    let idx = j * self.view.width as usize + i;
                    self.blend(idx, color(x, y), coverage * opacity);
                }
            }
        }
    }

    fn draw_part(&mut self, part: &Part, light: Rgb) {
        let (_, by0, _, by1) = part.shape.bounds();
        match part.fill {
            Fill::Flat(c) => {
                let c = c.tint(light);
                self.fill(&part.shape, 1.0, |_, y| c.scale(0.94 + 0.12 * ((y - by0) / (by1 - by0)).clamp(0.0, 1.0)))
            }
            Fill::Sphere(c) => {
                let Shape::Circle { cx, cy, r } = part.shape else {
                    return self.draw_part(&Part { fill: Fill::Flat(c), ..*part }, light);
                };
                let c = c.tint(light);
                // Light from the upper left and front: (-0.35, 0.45, 0.82), normalised.
                let l = [-0.35f32, 0.45, 0.82];
                let norm = (l[0] * l[0] + l[1] * l[1] + l[2] * l[2]).sqrt();
                self.fill(&part.shape, 1.0, |x, y| {
                    let (nx, ny) = ((x - cx) / r, (y - cy) / r);
                    let nz = (1.0 - nx * nx - ny * ny).max(0.0).sqrt();
                    let lambert = ((nx * l[0] + ny * l[1] + nz * l[2]) / norm).max(0.0);
                    c.scale(0.76 + 0.28 * lambert)
                })
            }
        }
    }
}

impl Renderer {
    /// A renderer for `scene` at the scene's own size.
    pub fn new(scene: &Scene) -> Renderer {
        let occluders =
            scene.occluders.iter().enumerate().flat_map(|(i, o)| occluder_parts(o, scene.seed, i)).collect();
        Renderer {
            width: scene.width,
            height: scene.height,
            scenery: Scenery::new(scene.seed, scene.sky, scene.terrain),
            occluders,
        }
    }

    /// The view of a state.
    pub fn view(&self, state: &WorldState) -> View {
        View::new(self.width, self.height, state.camera_x)
    }

    /// Draws one state.
    pub fn render(&self, state: &WorldState) -> Frame {
        let view = self.view(state);
        let mut canvas = Canvas { view, px: vec![[0.0; 3]; self.width as usize * self.height as usize] };
        let light = self.scenery.light();
        self.sky(&mut canvas, state);
        self.land(&mut canvas, state.time, light);
        for stroke in &state.paint {
            let shape = Shape::Rect { x0: stroke.x0, y0: -PAINT_DEPTH, x1: stroke.x1, y1: 0.0, round: 0.04 };
            let c = stroke.color.rgb().tint(light);
            canvas.fill(&shape, 1.0, |_, _| c);
        }
        for body in &state.bodies {
            // A soft contact shadow that shrinks and fades with height: a cue for how high
            // things are.
            let lift = (body.y / SHADOW_FADE_HEIGHT).clamp(0.0, 1.0);
            let half = body.width / 2.0 * (1.0 - 0.5 * lift);
            let shape = Shape::Rect {
                x0: body.x - half,
                y0: -SHADOW_DEPTH,
                x1: body.x + half,
                y1: SHADOW_DEPTH,
                round: SHADOW_DEPTH,
            };
            canvas.fill(&shape, SHADOW_OPACITY * (1.0 - lift), |_, _| Rgb([0.0, 0.0, 0.0]));
        }
        for (i, body) in state.bodies.iter().enumerate() {
            let facing = state.player.as_ref().filter(|p| p.body == i).map(|p| p.facing);
            for part in body_parts(body, facing) {
                canvas.draw_part(&part, light);
            }
        }
        for part in &self.occluders {
            canvas.draw_part(part, light);
        }
        let mut rgb = Vec::with_capacity(canvas.px.len() * 3);
        for p in &canvas.px {
            rgb.extend_from_slice(&Rgb(*p).to_u8());
        }
        Frame { width: self.width, height: self.height, rgb }
    }

    /// Sky gradient, sun or moon, stars and clouds.
    fn sky(&self, canvas: &mut Canvas, state: &WorldState) {
        let view = canvas.view;
        let w = view.width as usize;
        for j in 0..view.height as usize {
            let (_, y) = view.to_world(0.0, j as f32 + 0.5);
            let c = self.scenery.sky_color(y, view.top()).0;
            canvas.px[j * w..(j + 1) * w].fill(c);
        }
        let (left, right) = (view.left(), view.right());
        for (shape, brightness) in self.scenery.stars(left, right, state.camera_x, view.top()) {
            canvas.fill(&shape, brightness, |_, _| Rgb([1.0, 1.0, 0.95]));
        }
        let (disc, color) = self.scenery.celestial(state.camera_x);
        canvas.fill(&disc, 1.0, |_, _| color);
        for (shape, color) in self.scenery.clouds(left, right, state.camera_x, state.time) {
            canvas.fill(&shape, 0.92, |_, _| color);
        }
    }

    /// Mountains, hills and ground, column by column.
    fn land(&self, canvas: &mut Canvas, time: f32, light: Rgb) {
        let view = canvas.view;
        let (w, mpp) = (view.width as usize, view.mpp);
        let horizon = self.scenery.sky_color(0.0, view.top());
        let hill_color = self.scenery.hill_color().tint(light);
        // Coverage of pixel row centred at `y` by everything below height `top`.
        let below = |top: f32, y: f32| ((top - y) / mpp + 0.5).clamp(0.0, 1.0);
        for i in 0..w {
            let (x, _) = view.to_world(i as f32 + 0.5, 0.0);
            let mountain_top = self.scenery.mountain_height(x - view.center_x * (1.0 - MOUNTAIN_PARALLAX));
            let hill_top = self.scenery.hill_height(x - view.center_x * (1.0 - HILL_PARALLAX));
            for j in 0..view.height as usize {
                let (_, y) = view.to_world(0.0, j as f32 + 0.5);
                if y - mpp > mountain_top {
                    continue;
                }
                let idx = j * w + i;
                let mountain = self.scenery.mountain_color(y).lerp(horizon, MOUNTAIN_HAZE).tint(light);
                canvas.blend(idx, mountain, below(mountain_top, y));
                canvas.blend(idx, hill_color, below(hill_top, y));
                let ground = below(0.0, y);
                if ground > 0.0 {
                    canvas.blend(idx, self.scenery.ground_color(x, y.min(-1e-3), time).tint(light), ground);
                }
            }
        }
    }
}
