//! The frame type every part of worldsim exchanges: 8-bit RGB pixels, row-major, top row first.

/// One video frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height × 3` bytes, RGB, row-major, top row first.
    pub rgb: Vec<u8>,
}

impl Frame {
    /// A frame of one colour.
    pub fn filled(width: u32, height: u32, color: [u8; 3]) -> Frame {
        Frame { width, height, rgb: color.repeat(width as usize * height as usize) }
    }

    /// The pixel at column `x`, row `y` (panics outside the frame).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Mean absolute difference per channel to another frame of the same size, in `0..=255`.
    pub fn mean_abs_diff(&self, other: &Frame) -> f64 {
        let sum: u64 = self.rgb.iter().zip(&other.rgb).map(|(a, b)| u64::from(a.abs_diff(*b))).sum();
        sum as f64 / self.rgb.len().max(1) as f64
    }
}
