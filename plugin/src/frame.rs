//! The one type the model and the plugin share (DESIGN §2): a video frame as RGBA8 bytes with
//! its size, its index in the stream and when it was made.

use std::time::Instant;

use worldsim_scenes::Frame;

/// A generated video frame, ready to upload into an `Image`.
#[derive(Clone, Debug)]
pub struct StreamFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height × 4` bytes, RGBA, row-major, top row first.
    pub rgba: Vec<u8>,
    /// Index in the stream (0, 1, …).
    pub index: u64,
    /// When the worker finished it.
    pub made_at: Instant,
}

impl StreamFrame {
    /// An opaque RGBA copy of an RGB frame.
    pub fn from_rgb(frame: &Frame, index: u64) -> Self {
        let mut rgba = Vec::with_capacity(frame.rgb.len() / 3 * 4);
        for px in frame.rgb.chunks_exact(3) {
            rgba.extend_from_slice(&[px[0], px[1], px[2], 255]);
        }
        StreamFrame { width: frame.width, height: frame.height, rgba, index, made_at: Instant::now() }
    }

    /// The RGB frame again (alpha dropped), e.g. to write a GIF or score it with the
    /// ground-truth world.
    pub fn to_rgb(&self) -> Frame {
        let rgb = self.rgba.chunks_exact(4).flat_map(|px| [px[0], px[1], px[2]]).collect();
        Frame { width: self.width, height: self.height, rgb }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgb_rgba_round_trip_is_exact_and_opaque() {
        let rgb: Vec<u8> = (0..2 * 3 * 3).map(|i| (i * 13 % 256) as u8).collect();
        let frame = Frame { width: 3, height: 2, rgb: rgb.clone() };
        let s = StreamFrame::from_rgb(&frame, 7);
        assert_eq!(s.rgba.len(), 3 * 2 * 4);
        assert!(s.rgba.chunks_exact(4).all(|p| p[3] == 255));
        assert_eq!(s.to_rgb().rgb, rgb);
        assert_eq!(s.index, 7);
    }
}
