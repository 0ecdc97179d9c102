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

    /// This frame with `right` to its right, one frame as wide as both (`None` when their
    /// heights differ).
    pub fn beside(&self, right: &Frame) -> Option<Frame> {
        if self.height != right.height {
            return None;
        }
        let (a, b) = (self.width as usize * 3, right.width as usize * 3);
        let mut rgb = Vec::with_capacity(self.rgb.len() + right.rgb.len());
        for (l, r) in self.rgb.chunks_exact(a).zip(right.rgb.chunks_exact(b)) {
            rgb.extend_from_slice(l);
            rgb.extend_from_slice(r);
        }
        Some(Frame { width: self.width + right.width, height: self.height, rgb })
    }

    /// Moves every channel the fraction `w` of the way to `other`'s (a frame of the same size):
    /// `(1 − w) · self + w · other`, rounded.
    pub fn mix(&mut self, other: &Frame, w: f32) {
        for (y, x) in self.rgb.iter_mut().zip(&other.rgb) {
            *y = (w * f32::from(*x) + (1.0 - w) * f32::from(*y)).round() as u8;
        }
    }

    /// Mean absolute difference per channel to another frame of the same size, in `0..=255`.
    pub fn mean_abs_diff(&self, other: &Frame) -> f64 {
        let sum: u64 = self.rgb.iter().zip(&other.rgb).map(|(a, b)| u64::from(a.abs_diff(*b))).sum();
        sum as f64 / self.rgb.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::Frame;

    #[test]
    fn beside_puts_rows_side_by_side() {
        let (l, r) = (Frame::filled(2, 3, [1, 2, 3]), Frame::filled(1, 3, [9, 9, 9]));
        let both = l.beside(&r).expect("same height");
        assert_eq!((both.width, both.height), (3, 3));
        for y in 0..3 {
            assert_eq!((both.pixel(0, y), both.pixel(1, y), both.pixel(2, y)), ([1, 2, 3], [1, 2, 3], [9, 9, 9]));
        }
        assert!(l.beside(&Frame::filled(1, 2, [0; 3])).is_none(), "heights differ");
    }
}
