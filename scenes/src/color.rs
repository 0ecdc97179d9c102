//! Named colours of the world and the RGB arithmetic the renderer needs.
//!
//! Every object colour is one of [`NamedColor`]; its sRGB value is chosen to read as its common
//! name ("red looks red"). Lighting (day, dusk, night) multiplies these values in the renderer.

use serde::{Deserialize, Serialize};

/// A colour in sRGB space, each channel in `0.0..=1.0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rgb(pub [f32; 3]);

impl Rgb {
    /// From 8-bit sRGB channels.
    pub const fn from_u8(r: u8, g: u8, b: u8) -> Self {
        Rgb([r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0])
    }

    /// Channel-wise product (lighting, tints).
    pub fn tint(self, o: Rgb) -> Rgb {
        Rgb([self.0[0] * o.0[0], self.0[1] * o.0[1], self.0[2] * o.0[2]])
    }

    /// Multiplies every channel by `k` (shading).
    pub fn scale(self, k: f32) -> Rgb {
        Rgb([self.0[0] * k, self.0[1] * k, self.0[2] * k])
    }

    /// Linear interpolation: `t = 0` gives `self`, `t = 1` gives `o`.
    pub fn lerp(self, o: Rgb, t: f32) -> Rgb {
        Rgb([
            self.0[0] + (o.0[0] - self.0[0]) * t,
            self.0[1] + (o.0[1] - self.0[1]) * t,
            self.0[2] + (o.0[2] - self.0[2]) * t,
        ])
    }

    /// Rounds to 8-bit sRGB, clamping out-of-range channels.
    pub fn to_u8(self) -> [u8; 3] {
        self.0.map(|c| (c.clamp(0.0, 1.0) * 255.0 + 0.5) as u8)
    }
}

/// The named colours objects, players, paint and pillars can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamedColor {
    /// sRGB (220, 35, 35).
    Red,
    /// sRGB (245, 130, 20).
    Orange,
    /// sRGB (245, 215, 40).
    Yellow,
    /// sRGB (45, 165, 60).
    Green,
    /// sRGB (35, 90, 215).
    Blue,
    /// sRGB (135, 60, 185).
    Purple,
    /// sRGB (240, 120, 175).
    Pink,
    /// sRGB (240, 240, 240).
    White,
    /// sRGB (25, 25, 30).
    Black,
    /// sRGB (125, 80, 45).
    Brown,
    /// sRGB (130, 130, 130).
    Gray,
    /// sRGB (40, 195, 215).
    Cyan,
}

impl NamedColor {
    /// Every named colour, in a fixed order.
    pub const ALL: [NamedColor; 12] = [
        NamedColor::Red,
        NamedColor::Orange,
        NamedColor::Yellow,
        NamedColor::Green,
        NamedColor::Blue,
        NamedColor::Purple,
        NamedColor::Pink,
        NamedColor::White,
        NamedColor::Black,
        NamedColor::Brown,
        NamedColor::Gray,
        NamedColor::Cyan,
    ];

    /// The word used in captions and prompts.
    pub fn name(self) -> &'static str {
        match self {
            NamedColor::Red => "red",
            NamedColor::Orange => "orange",
            NamedColor::Yellow => "yellow",
            NamedColor::Green => "green",
            NamedColor::Blue => "blue",
            NamedColor::Purple => "purple",
            NamedColor::Pink => "pink",
            NamedColor::White => "white",
            NamedColor::Black => "black",
            NamedColor::Brown => "brown",
            NamedColor::Gray => "gray",
            NamedColor::Cyan => "cyan",
        }
    }

    /// The 8-bit sRGB value rendered in full daylight.
    pub fn srgb8(self) -> [u8; 3] {
        match self {
            NamedColor::Red => [220, 35, 35],
            NamedColor::Orange => [245, 130, 20],
            NamedColor::Yellow => [245, 215, 40],
            NamedColor::Green => [45, 165, 60],
            NamedColor::Blue => [35, 90, 215],
            NamedColor::Purple => [135, 60, 185],
            NamedColor::Pink => [240, 120, 175],
            NamedColor::White => [240, 240, 240],
            NamedColor::Black => [25, 25, 30],
            NamedColor::Brown => [125, 80, 45],
            NamedColor::Gray => [130, 130, 130],
            NamedColor::Cyan => [40, 195, 215],
        }
    }

    /// The daylight value as an [`Rgb`].
    pub fn rgb(self) -> Rgb {
        let [r, g, b] = self.srgb8();
        Rgb::from_u8(r, g, b)
    }

    /// The named colour nearest to an 8-bit sRGB pixel (squared distance): the inverse of
    /// rendering, used by probes and tests to ask "what colour is this?".
    pub fn nearest(pixel: [u8; 3]) -> NamedColor {
        let dist = |c: NamedColor| -> i32 {
            let v = c.srgb8();
            (0..3).map(|i| (v[i] as i32 - pixel[i] as i32).pow(2)).sum()
        };
        NamedColor::ALL.into_iter().min_by_key(|&c| dist(c)).unwrap_or(NamedColor::Gray)
    }
}
