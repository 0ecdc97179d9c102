//! Where a training clip's objects are, token by token: the mask that lets a loss weight the
//! few tokens holding balls, boxes and the player above the many of terrain and sky
//! (`DitTrainConfig::object_weight`, `VaeTrainConfig::object_weight`), so the large, easy
//! background does not drown the things prompts name and actions move.
//!
//! A token covers a `cell × cell` pixel square of the pixel frames of its latent frame
//! (`prompting::roles::pixel_span`): frame 0 alone, then `temporal` frames each. The DiT's
//! tokens are patch side × the VAE's spatial factor wide; the VAE's are single pixels of single
//! frames (`cell` 1, `temporal` 1).

use worldsim_scenes::truth::FrameTruth;

use crate::prompting::roles::pixel_span;

/// 1 for every token whose pixel square meets the box of an object that is at least partly
/// visible in one of its latent frame's pixel frames, else 0.
///
/// # Shapes
/// - `truth`: one entry per pixel frame (`1 + temporal · (latent_frames − 1)` of them)
/// - output `[latent_frames · gh · gw]`, in the token order of `patchify`
pub fn object_focus(
    truth: &[FrameTruth],
    latent_frames: usize,
    grid: (usize, usize),
    cell: usize,
    temporal: usize,
) -> Vec<f32> {
    let (gh, gw) = grid;
    let mut focus = vec![0.0; latent_frames * gh * gw];
    let cells = |lo: f32, hi: f32, n: usize| -> Option<(usize, usize)> {
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let side = (n * cell) as f32;
        if hi <= 0.0 || lo >= side {
            return None;
        }
        let first = (lo.max(0.0) / cell as f32).floor() as usize;
        let last = ((hi.min(side) / cell as f32).ceil() as usize).max(first + 1);
        Some((first, last.min(n)))
    };
    for f in 0..latent_frames {
        let span = pixel_span(f, temporal);
        let frames = truth.get(span.start..span.end.min(truth.len())).unwrap_or_default();
        for object in frames.iter().flat_map(|t| &t.objects).filter(|o| o.visible_fraction > 0.0) {
            let b = &object.pixel;
            let (Some((y0, y1)), Some((x0, x1))) = (cells(b.y0, b.y1, gh), cells(b.x0, b.x1, gw)) else {
                continue;
            };
            for gy in y0..y1 {
                for gx in x0..x1 {
                    focus[(f * gh + gy) * gw + gx] = 1.0;
                }
            }
        }
    }
    focus
}
