//! Which latent tokens of a video hold what moves in it, for an edit that changes a video's
//! setting and keeps its action (`Prompter::edit_keeping_motion`). A pixel moves in a frame when
//! it differs from the video's per-pixel temporal median (its still background, as long as
//! nothing covers a pixel for half the video) by more than a threshold in some channel; a token
//! moves when one of its pixels moves in one of the frames its latent frame covers, and the
//! tokens next to a moving one (the VAE spreads an object's edge into them) move too.

use worldsim_scenes::Frame;

use super::roles::pixel_span;

/// How moving tokens are found.
#[derive(Clone, Debug, PartialEq)]
pub struct MotionMaskConfig {
    /// A pixel moves when a channel differs from its temporal median by more than this (0–255).
    pub threshold: u8,
    /// Rings of neighbouring tokens added around each moving token.
    pub dilate: usize,
}

impl Default for MotionMaskConfig {
    fn default() -> Self {
        MotionMaskConfig { threshold: 32, dilate: 1 }
    }
}

/// The moving tokens of `frames` (`1 + temporal·k` frames of one size), latent frame by latent
/// frame, each latent frame's `rows × cols` tokens row by row (the order of
/// [`crate::dit::patch::patchify`]); a token covers `token_px × token_px` pixels.
pub fn moving_tokens(frames: &[Frame], temporal: usize, token_px: usize, config: &MotionMaskConfig) -> Vec<bool> {
    let Some(first) = frames.first() else {
        return Vec::new();
    };
    let (w, h) = (first.width as usize, first.height as usize);
    let (rows, cols) = (h / token_px.max(1), w / token_px.max(1));
    let latents = 1 + (frames.len() - 1) / temporal.max(1);
    // The per-pixel, per-channel temporal median.
    let mut column = Vec::with_capacity(frames.len());
    let median: Vec<u8> = (0..w * h * 3)
        .map(|i| {
            column.clear();
            column.extend(frames.iter().map(|f| f.rgb[i]));
            column.sort_unstable();
            column[column.len() / 2]
        })
        .collect();
    let mut moving = vec![false; latents * rows * cols];
    for l in 0..latents {
        for f in &frames[pixel_span(l, temporal)] {
            for (p, px) in f.rgb.chunks_exact(3).enumerate() {
                let (y, x) = (p / w, p % w);
                let (r, c) = (y / token_px, x / token_px);
                if r < rows
                    && c < cols
                    && px.iter().zip(&median[p * 3..p * 3 + 3]).any(|(a, b)| a.abs_diff(*b) > config.threshold)
                {
                    moving[(l * rows + r) * cols + c] = true;
                }
            }
        }
    }
    for _ in 0..config.dilate {
        let before = moving.clone();
        for l in 0..latents {
            for r in 0..rows {
                for c in 0..cols {
                    let near = |dr: isize, dc: isize| {
                        let (rr, cc) = (r as isize + dr, c as isize + dc);
                        (0..rows as isize).contains(&rr)
                            && (0..cols as isize).contains(&cc)
                            && before[(l * rows + rr as usize) * cols + cc as usize]
                    };
                    if [(-1, 0), (1, 0), (0, -1), (0, 1)].iter().any(|&(dr, dc)| near(dr, dc)) {
                        moving[(l * rows + r) * cols + c] = true;
                    }
                }
            }
        }
    }
    moving
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16×16 grey video of `n` frames with a white 2×2 square at column `x(f)`, row 4.
    fn square(n: usize, x: impl Fn(usize) -> usize) -> Vec<Frame> {
        (0..n)
            .map(|f| {
                let mut frame = Frame::filled(16, 16, [100, 100, 100]);
                for y in 4..6 {
                    for xx in x(f)..x(f) + 2 {
                        frame.rgb[(y * 16 + xx) * 3..(y * 16 + xx) * 3 + 3].copy_from_slice(&[255, 255, 255]);
                    }
                }
                frame
            })
            .collect()
    }

    #[test]
    fn a_still_video_has_no_moving_token() {
        let config = MotionMaskConfig::default();
        assert!(moving_tokens(&square(5, |_| 3), 4, 8, &config).iter().all(|m| !m));
    }

    #[test]
    fn a_moving_square_marks_the_tokens_it_crosses_frame_by_frame() {
        // Frame 0 at x 0–1 (token column 0), frames 1–4 at x 9–10 (column 1); row 4 is token row 0.
        let frames = square(5, |f| if f == 0 { 0 } else { 9 });
        let config = MotionMaskConfig { dilate: 0, ..MotionMaskConfig::default() };
        let m = moving_tokens(&frames, 4, 8, &config);
        assert_eq!(m.len(), 2 * 2 * 2, "2 latent frames of 2 × 2 tokens");
        // Latent 0 (frame 0): the square at column 0, and the median (square at 9) differs at column 1.
        assert_eq!(&m[0..4], &[true, true, false, false]);
        // Latent 1 (frames 1–4): the square sits where the median has it: nothing moves.
        assert_eq!(&m[4..8], &[false, false, false, false]);
        let dilated = moving_tokens(&frames, 4, 8, &MotionMaskConfig::default());
        assert_eq!(&dilated[0..4], &[true, true, true, true], "one ring of neighbours added");
        assert_eq!(&dilated[4..8], &[false; 4]);
    }
}
