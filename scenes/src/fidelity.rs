//! The fidelity checker: reads frames (rendered or generated) and tells, with simple pixel
//! statistics, the terrain, the sky, which named colours are present, and where the pixels of a
//! colour are centred (a ball's centre when one object has that colour). It calibrates itself
//! with the renderer: the typical ground and sky colours of every terrain × sky, the lit colour
//! of every named colour under every sky, and how often an empty landscape already shows each
//! colour (so hills are not taken for a green ball).

use crate::clip::Clip;
use crate::color::NamedColor;
use crate::frame::Frame;
use crate::scene::{Camera, Object, Scene, SizeClass, Sky, Terrain};

/// Pixel distance (RGB, 0–255 per channel) within which a pixel counts as a lit named colour.
const MATCH_DISTANCE: f32 = 40.0;
/// Least share of a frame's pixels a colour needs to count as present (a small ball at 64×64
/// covers about 0.4 %).
const MIN_SHARE: f32 = 0.002;
/// In a band, a colour must cover this many times its share in empty landscapes (plus
/// `BAND_SLACK` of the frame) to count.
const BACKGROUND_MARGIN: f32 = 2.0;
const BAND_SLACK: f32 = 0.0005;
/// Calibration size and seeds.
const CAL_SIZE: u32 = 64;
const CAL_SEEDS: u64 = 12;
/// Horizontal bands in which colours are counted separately (clouds high up do not hide a
/// white ball on the ground).
const BANDS: usize = 8;

/// What the checker read from a clip.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// The ground.
    pub terrain: Terrain,
    /// The time of day.
    pub sky: Sky,
    /// The named colours present (beyond what the landscape itself shows).
    pub colors: Vec<NamedColor>,
}

/// The calibrated checker.
#[derive(Clone, Debug)]
pub struct FidelityChecker {
    /// `(terrain, sky, [ground rgb, sky rgb])` typical colours.
    places: Vec<(Terrain, Sky, [f32; 6])>,
    /// Lit colour of each named colour under each sky: `[sky][colour]`.
    lit: Vec<Vec<[f32; 3]>>,
    /// Largest share of a frame's pixels matching each colour in each band of empty landscapes:
    /// `[terrain][sky][band · colours + colour]`.
    background: Vec<Vec<Vec<f32>>>,
}

fn sky_index(sky: Sky) -> usize {
    Sky::ALL.iter().position(|s| *s == sky).unwrap_or(0)
}

fn terrain_index(t: Terrain) -> usize {
    Terrain::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

fn median(mut v: Vec<f32>) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// Median colour of rows `[top, bottom)` (fractions of the height) of a frame.
fn band(frame: &Frame, top: f32, bottom: f32) -> [f32; 3] {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (y0, y1) =
        ((top * h as f32) as usize, ((bottom * h as f32) as usize).max((top * h as f32) as usize + 1).min(h));
    let mut out = [0.0; 3];
    for (c, o) in out.iter_mut().enumerate() {
        *o = median(
            (y0..y1)
                .flat_map(|y| (0..w).map(move |x| (y, x)))
                .map(|(y, x)| f32::from(frame.rgb[(y * w + x) * 3 + c]))
                .collect(),
        );
    }
    out
}

/// Ground band and sky band of a clip (medians over its frames).
fn place_features(frames: &[Frame]) -> [f32; 6] {
    let mut acc = [0.0; 6];
    for f in frames {
        let (g, s) = (band(f, 0.82, 1.0), band(f, 0.0, 0.18));
        for i in 0..3 {
            acc[i] += g[i] / frames.len() as f32;
            acc[3 + i] += s[i] / frames.len() as f32;
        }
    }
    acc
}

fn dist2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn empty_scene(terrain: Terrain, sky: Sky, seed: u64) -> Scene {
    Scene {
        name: "calibration".into(),
        width: CAL_SIZE,
        height: CAL_SIZE,
        fps: 12,
        frames: 1,
        seed,
        terrain,
        sky,
        camera: Camera::Fixed { x: seed as f32 * 3.0 },
        stage: 10.0,
        objects: vec![],
        occluders: vec![],
        player: None,
        prompts: Vec::new(),
    }
}

impl FidelityChecker {
    /// Calibrates on rendered reference scenes (a fraction of a second).
    pub fn calibrate() -> Self {
        let mut places = Vec::new();
        for terrain in Terrain::ALL {
            for sky in Sky::ALL {
                let mut acc = [0.0; 6];
                for seed in 0..CAL_SEEDS {
                    let f = place_features(&Clip::render(&empty_scene(terrain, sky, seed)).frames);
                    for i in 0..6 {
                        acc[i] += f[i] / CAL_SEEDS as f32;
                    }
                }
                places.push((terrain, sky, acc));
            }
        }
        let lit = Sky::ALL
            .iter()
            .map(|&sky| {
                NamedColor::ALL
                    .iter()
                    .map(|&color| {
                        let mut scene = empty_scene(Terrain::Grass, sky, 0);
                        scene.objects =
                            vec![Object::Ball { color, size: SizeClass::Large, x: 0.0, y: 1.5, vx: 0.0, vy: 0.0 }];
                        let clip = Clip::render(&scene);
                        let b = &clip.truth[0].objects[0].pixel;
                        let f = &clip.frames[0];
                        let (cx, cy) = (b.x, b.y);
                        let r = ((b.x1 - b.x0) * 0.25).max(1.0);
                        let mut px = [Vec::new(), Vec::new(), Vec::new()];
                        for y in (cy - r) as usize..=(cy + r) as usize {
                            for x in (cx - r) as usize..=(cx + r) as usize {
                                let i =
                                    (y.min(f.height as usize - 1) * f.width as usize + x.min(f.width as usize - 1)) * 3;
                                for (c, p) in px.iter_mut().enumerate() {
                                    p.push(f32::from(f.rgb[i + c]));
                                }
                            }
                        }
                        px.map(median)
                    })
                    .collect()
            })
            .collect();
        let mut checker = FidelityChecker { places, lit, background: Vec::new() };
        checker.background = Terrain::ALL
            .iter()
            .map(|&terrain| {
                Sky::ALL
                    .iter()
                    .map(|&sky| {
                        let mut worst = vec![0.0f32; BANDS * NamedColor::ALL.len()];
                        for seed in 0..CAL_SEEDS {
                            let frames = Clip::render(&empty_scene(terrain, sky, seed)).frames;
                            for (w, s) in worst.iter_mut().zip(checker.shares(&frames, sky)) {
                                *w = w.max(s);
                            }
                        }
                        worst
                    })
                    .collect()
            })
            .collect();
        checker
    }

    /// The terrain and sky of a clip.
    pub fn place(&self, frames: &[Frame]) -> (Terrain, Sky) {
        let f = place_features(frames);
        self.places
            .iter()
            .min_by(|a, b| dist2(&a.2, &f).total_cmp(&dist2(&b.2, &f)))
            .map_or((Terrain::Grass, Sky::Day), |p| (p.0, p.1))
    }

    /// Which lit colour under `sky` a pixel is, if any is near enough.
    fn classify(&self, rgb: [f32; 3], sky: Sky) -> Option<usize> {
        let lit = &self.lit[sky_index(sky)];
        let (best, d) = lit.iter().enumerate().map(|(i, c)| (i, dist2(c, &rgb))).min_by(|a, b| a.1.total_cmp(&b.1))?;
        (d <= MATCH_DISTANCE * MATCH_DISTANCE).then_some(best)
    }

    /// Mean share of a frame's pixels matching each named colour, per horizontal band:
    /// `[band · colours + colour]` (colours in `NamedColor::ALL` order).
    pub fn shares(&self, frames: &[Frame], sky: Sky) -> Vec<f32> {
        let colours = NamedColor::ALL.len();
        let mut shares = vec![0.0f32; BANDS * colours];
        for f in frames {
            let n = (f.width * f.height) as f32;
            for (i, px) in f.rgb.chunks_exact(3).enumerate() {
                let band = (i / f.width as usize) * BANDS / f.height as usize;
                if let Some(c) = self.classify([f32::from(px[0]), f32::from(px[1]), f32::from(px[2])], sky) {
                    shares[band * colours + c] += 1.0 / n / frames.len() as f32;
                }
            }
        }
        shares
    }

    /// Reads a clip: place, then the colours that stand out from that place's landscape.
    pub fn read(&self, frames: &[Frame]) -> Reading {
        let (terrain, sky) = self.place(frames);
        let background = &self.background[terrain_index(terrain)][sky_index(sky)];
        let shares = self.shares(frames, sky);
        let colours = NamedColor::ALL.len();
        let colors = NamedColor::ALL
            .into_iter()
            .enumerate()
            .filter(|(c, _)| {
                // Present: enough pixels overall in the bands where the landscape is clear of it.
                let clear: f32 = (0..BANDS)
                    .map(|b| b * colours + c)
                    .filter(|&k| shares[k] >= background[k] * BACKGROUND_MARGIN + BAND_SLACK)
                    .map(|k| shares[k] - background[k])
                    .sum();
                clear >= MIN_SHARE
            })
            .map(|(_, c)| c)
            .collect();
        Reading { terrain, sky, colors }
    }

    /// Centre (x, y in pixels) of the largest connected patch of `color` in each frame, if
    /// it has at least 3 pixels. Bands where the landscape itself shows the colour are searched
    /// only when the others hold no such patch.
    pub fn centres(&self, frames: &[Frame], terrain: Terrain, sky: Sky, color: NamedColor) -> Vec<Option<(f32, f32)>> {
        let want = NamedColor::ALL.iter().position(|c| *c == color);
        let background = &self.background[terrain_index(terrain)][sky_index(sky)];
        let colours = NamedColor::ALL.len();
        let clear_band: Vec<bool> =
            (0..BANDS).map(|b| want.is_some_and(|c| background[b * colours + c] < BAND_SLACK)).collect();
        frames
            .iter()
            .map(|f| {
                let matches: Vec<bool> = f
                    .rgb
                    .chunks_exact(3)
                    .map(|px| self.classify([f32::from(px[0]), f32::from(px[1]), f32::from(px[2])], sky) == want)
                    .collect();
                let (w, h) = (f.width as usize, f.height as usize);
                let clear: Vec<bool> =
                    matches.iter().enumerate().map(|(i, m)| *m && clear_band[(i / w) * BANDS / h]).collect();
                largest_patch(clear, w, h).or_else(|| largest_patch(matches, w, h))
            })
            .collect()
    }
}

/// Centre of the largest 4-connected patch of `true` pixels, if it has at least 3.
fn largest_patch(mut mask: Vec<bool>, w: usize, h: usize) -> Option<(f32, f32)> {
    let mut best: Option<(usize, f32, f32)> = None;
    for start in 0..w * h {
        if !mask[start] {
            continue;
        }
        mask[start] = false;
        let (mut stack, mut n, mut sx, mut sy) = (vec![start], 0usize, 0.0, 0.0);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            n += 1;
            sx += x as f32 + 0.5;
            sy += y as f32 + 0.5;
            let next = [
                (x > 0).then(|| i - 1),
                (x + 1 < w).then(|| i + 1),
                (y > 0).then(|| i - w),
                (y + 1 < h).then(|| i + w),
            ];
            for j in next.into_iter().flatten() {
                if mask[j] {
                    mask[j] = false;
                    stack.push(j);
                }
            }
        }
        if best.is_none_or(|(m, _, _)| n > m) {
            best = Some((n, sx / n as f32, sy / n as f32));
        }
    }
    best.filter(|(n, _, _)| *n >= 3).map(|(_, x, y)| (x, y))
}
