//! The scenery behind the action: sky colours, sun, moon, stars, clouds, and the two parallax
//! layers (far mountains, near hills), all fixed by the scene's seed.
//!
//! A layer with parallax `p` moves `p` times as fast as the camera: a thing at layer coordinate
//! `u` appears at world x `u + camera_x · (1 − p)`.

use crate::color::Rgb;
use crate::rng::{Rng, hash2};
use crate::scene::{Sky, Terrain};
use crate::shape::Shape;

/// Parallax of the far mountains.
pub const MOUNTAIN_PARALLAX: f32 = 0.25;
/// Parallax of the near hills.
pub const HILL_PARALLAX: f32 = 0.5;
/// Parallax of clouds.
pub const CLOUD_PARALLAX: f32 = 0.12;
/// Parallax of the sun, moon and stars.
pub const SKY_PARALLAX: f32 = 0.03;
/// Horizontal drift of clouds, m/s.
const CLOUD_DRIFT: f32 = 0.12;
/// Width of the cells that each hold at most one cloud, m.
const CLOUD_CELL: f32 = 3.2;
/// Width of the cells that each hold at most one star, m.
const STAR_CELL: f32 = 0.45;

/// The seeded shapes of one scene's scenery.
#[derive(Clone, Debug)]
pub struct Scenery {
    seed: u64,
    sky: Sky,
    terrain: Terrain,
    mountain_phase: [f32; 3],
    hill_phase: [f32; 2],
    sun_u: f32,
}

impl Scenery {
    /// The scenery of a scene.
    pub fn new(seed: u64, sky: Sky, terrain: Terrain) -> Scenery {
        let mut rng = Rng::new(seed ^ 0xA5A5_0F0F);
        let tau = std::f32::consts::TAU;
        Scenery {
            seed,
            sky,
            terrain,
            mountain_phase: [rng.range(0.0, tau), rng.range(0.0, tau), rng.range(0.0, tau)],
            hill_phase: [rng.range(0.0, tau), rng.range(0.0, tau)],
            sun_u: rng.range(-2.5, 2.5),
        }
    }

    /// The light falling on the world: multiplies the colours of ground and things.
    pub fn light(&self) -> Rgb {
        match self.sky {
            Sky::Day => Rgb([1.0, 1.0, 1.0]),
            Sky::Dusk => Rgb([1.0, 0.8, 0.7]),
            Sky::Night => Rgb([0.52, 0.56, 0.74]),
        }
    }

    /// Sky colour at height `y` (world metres above the ground line; the view's top is `top`).
    pub fn sky_color(&self, y: f32, top: f32) -> Rgb {
        let (horizon, zenith) = match self.sky {
            Sky::Day => (Rgb::from_u8(175, 212, 245), Rgb::from_u8(62, 125, 215)),
            Sky::Dusk => (Rgb::from_u8(250, 150, 80), Rgb::from_u8(70, 50, 115)),
            Sky::Night => (Rgb::from_u8(32, 42, 82), Rgb::from_u8(6, 9, 30)),
        };
        horizon.lerp(zenith, (y / top).clamp(0.0, 1.0).powf(0.8))
    }

    /// Top of the mountains at layer coordinate `u`, m.
    pub fn mountain_height(&self, u: f32) -> f32 {
        let p = self.mountain_phase;
        1.45 + 0.7 * (0.33 * u + p[0]).sin() + 0.38 * (0.87 * u + p[1]).sin() + 0.14 * (2.3 * u + p[2]).sin()
    }

    /// Top of the hills at layer coordinate `u`, m.
    pub fn hill_height(&self, u: f32) -> f32 {
        let p = self.hill_phase;
        0.55 + 0.3 * (0.55 * u + p[0]).sin() + 0.13 * (1.45 * u + p[1]).sin()
    }

    /// Colour of the mountains at height `y` (before haze and light).
    pub fn mountain_color(&self, y: f32) -> Rgb {
        let rock = match self.terrain {
            Terrain::Sand => Rgb::from_u8(185, 140, 100),
            _ => Rgb::from_u8(110, 124, 156),
        };
        let snowline = if self.terrain == Terrain::Snow { 1.5 } else { 2.1 };
        if y > snowline { Rgb::from_u8(236, 240, 248) } else { rock }
    }

    /// Colour of the hills (before light).
    pub fn hill_color(&self) -> Rgb {
        match self.terrain {
            Terrain::Grass => Rgb::from_u8(62, 128, 66),
            Terrain::Sand => Rgb::from_u8(210, 176, 118),
            Terrain::Snow => Rgb::from_u8(214, 222, 238),
            Terrain::Water => Rgb::from_u8(56, 112, 74),
        }
    }

    /// Colour of the ground at world point `(x, y)`, `y < 0`, at time `t` (before light).
    pub fn ground_color(&self, x: f32, y: f32, t: f32) -> Rgb {
        let n = crate::rng::value_noise(self.seed, x * 2.5, y * 2.5) - 0.5;
        let depth = (-y / 1.25).clamp(0.0, 1.0);
        let c = match self.terrain {
            Terrain::Grass => {
                let blade = hash2(self.seed, (x / 0.09).floor() as i32, 7) > 0.72 && y > -0.15;
                if y > -0.09 || blade { Rgb::from_u8(108, 186, 70) } else { Rgb::from_u8(78, 160, 58) }
            }
            Terrain::Sand => {
                let speck = hash2(self.seed, (x / 0.06).floor() as i32, (y / 0.06).floor() as i32) > 0.9;
                Rgb::from_u8(224, 200, 142).scale(if speck { 0.86 } else { 1.0 })
            }
            Terrain::Snow => Rgb::from_u8(240, 244, 252).lerp(Rgb::from_u8(200, 212, 236), depth * 0.6),
            Terrain::Water => {
                let deep = Rgb::from_u8(48, 118, 192).lerp(Rgb::from_u8(24, 68, 138), depth);
                let ripple = (x * 6.5 + t * 2.2 + (y * 11.0).sin() * 1.3).sin() > 0.9 && n > -0.1;
                if y > -0.06 {
                    Rgb::from_u8(150, 198, 240)
                } else if ripple {
                    deep.lerp(Rgb::from_u8(140, 190, 235), 0.5)
                } else {
                    deep
                }
            }
        };
        c.scale(1.0 + 0.16 * n)
    }

    /// Sun or moon: a disc in the sky layer, with its colour.
    pub fn celestial(&self, camera_x: f32) -> (Shape, Rgb) {
        let cx = self.sun_u + camera_x * (1.0 - SKY_PARALLAX);
        match self.sky {
            Sky::Day => (Shape::Circle { cx, cy: 3.05, r: 0.34 }, Rgb::from_u8(255, 244, 190)),
            Sky::Dusk => (Shape::Circle { cx, cy: 0.95, r: 0.46 }, Rgb::from_u8(255, 170, 80)),
            Sky::Night => (Shape::Circle { cx, cy: 3.0, r: 0.27 }, Rgb::from_u8(232, 232, 214)),
        }
    }

    /// Clouds visible between world x `left` and `right` at time `t` (day and dusk only): discs
    /// with their colour.
    pub fn clouds(&self, left: f32, right: f32, camera_x: f32, t: f32) -> Vec<(Shape, Rgb)> {
        let color = match self.sky {
            Sky::Day => Rgb::from_u8(250, 250, 252),
            Sky::Dusk => Rgb::from_u8(238, 168, 160),
            Sky::Night => return Vec::new(),
        };
        let shift = camera_x * (1.0 - CLOUD_PARALLAX) + CLOUD_DRIFT * t;
        let (u0, u1) = (left - shift - 2.0, right - shift + 2.0);
        let mut out = Vec::new();
        for cell in (u0 / CLOUD_CELL).floor() as i32..=(u1 / CLOUD_CELL).floor() as i32 {
            if hash2(self.seed, cell, 101) > 0.55 {
                continue;
            }
            let u = (cell as f32 + hash2(self.seed, cell, 102)) * CLOUD_CELL + shift;
            let y = 2.5 + 1.0 * hash2(self.seed, cell, 103);
            let s = 0.28 + 0.22 * hash2(self.seed, cell, 104);
            for (dx, dy, k) in [(-1.0, 0.0, 0.8), (0.0, 0.2, 1.0), (1.0, 0.0, 0.75)] {
                out.push((Shape::Circle { cx: u + dx * s * 1.2, cy: y + dy * s, r: k * s }, color));
            }
        }
        out
    }

    /// Stars visible between world x `left` and `right` (night only): tiny discs with their
    /// brightness in `0..1`.
    pub fn stars(&self, left: f32, right: f32, camera_x: f32, top: f32) -> Vec<(Shape, f32)> {
        if self.sky != Sky::Night {
            return Vec::new();
        }
        let shift = camera_x * (1.0 - SKY_PARALLAX);
        let mut out = Vec::new();
        for cell in ((left - shift) / STAR_CELL).floor() as i32..=((right - shift) / STAR_CELL).floor() as i32 {
            for row in 0..3 {
                if hash2(self.seed, cell, 200 + row) > 0.3 {
                    continue;
                }
                let cx = (cell as f32 + hash2(self.seed, cell, 210 + row)) * STAR_CELL + shift;
                let cy = 1.4 + (top - 1.4) * (row as f32 + hash2(self.seed, cell, 220 + row)) / 3.0;
                out.push((Shape::Circle { cx, cy, r: 0.025 }, 0.5 + 0.5 * hash2(self.seed, cell, 230 + row)));
            }
        }
        out
    }
}
