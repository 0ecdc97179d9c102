//! Bringing inputs of any size and length to ones the model accepts: the nearest valid frame
//! size, resampling with cover-and-centre-crop (aspect kept, antialiased when shrinking), and
//! padding a video to `1 + 4k` frames. Every change is reported as a note for the user.

use worldsim_scenes::Frame;

/// The nearest size whose sides are positive multiples of `multiple`, at most `max_side`.
pub fn nearest_valid_size(width: u32, height: u32, multiple: u32, max_side: u32) -> (u32, u32) {
    let round =
        |v: u32| ((v as f64 / multiple as f64).round() as u32).clamp(1, (max_side / multiple).max(1)) * multiple;
    (round(width), round(height))
}

/// Resamples one frame to `width × height`: scaled to cover the target (aspect ratio kept), then
/// centre-cropped. Shrinking averages with a triangle filter as wide as the scale (antialiased).
pub fn fit_frame(frame: &Frame, width: u32, height: u32) -> Frame {
    if (frame.width, frame.height) == (width, height) {
        return frame.clone();
    }
    let scale = (width as f64 / frame.width as f64).max(height as f64 / frame.height as f64);
    let (cw, ch) = (
        ((frame.width as f64 * scale).round() as u32).max(width),
        ((frame.height as f64 * scale).round() as u32).max(height),
    );
    let covered = resample(frame, cw, ch);
    let (x0, y0) = ((cw - width) / 2, (ch - height) / 2);
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for y in y0..y0 + height {
        let row = ((y * cw + x0) * 3) as usize;
        rgb.extend_from_slice(&covered.rgb[row..row + (width * 3) as usize]);
    }
    Frame { width, height, rgb }
}

/// Every frame of a video fitted to `width × height`, and a note when anything changed.
pub fn fit_video(frames: &[Frame], width: u32, height: u32, what: &str) -> (Vec<Frame>, Option<String>) {
    let Some(first) = frames.first() else { return (Vec::new(), None) };
    let note = ((first.width, first.height) != (width, height))
        .then(|| format!("{what}: {}×{} resized and centre-cropped to {width}×{height}", first.width, first.height));
    (frames.iter().map(|f| fit_frame(f, width, height)).collect(), note)
}

/// Pads a video to the next `1 + temporal·k` frames by repeating its last frame; returns the
/// padded video and a note when frames were added (the caller trims its output back).
pub fn pad_length(frames: &[Frame], temporal: usize, what: &str) -> (Vec<Frame>, Option<String>) {
    let len = frames.len();
    let want = 1 + (len.max(1) - 1).div_ceil(temporal) * temporal;
    let mut out = frames.to_vec();
    if let Some(last) = frames.last() {
        out.resize(want, last.clone());
    }
    let note = (want != len).then(|| {
        format!("{what}: {len} frames padded to {want} (the model works on 1 + {temporal}k frames); the output is trimmed back")
    });
    (out, note)
}

/// Separable triangle-filter resampling to `width × height` (no crop).
fn resample(frame: &Frame, width: u32, height: u32) -> Frame {
    let (sw, sh) = (frame.width as usize, frame.height as usize);
    let (dw, dh) = (width as usize, height as usize);
    let horizontal = weights(sw, dw);
    let vertical = weights(sh, dh);
    // Rows first: [sh, dw, 3]
    let mut rows = vec![0f32; sh * dw * 3];
    for y in 0..sh {
        for (x, taps) in horizontal.iter().enumerate() {
            for c in 0..3 {
                rows[(y * dw + x) * 3 + c] =
                    taps.iter().map(|(i, w)| w * f32::from(frame.rgb[(y * sw + i) * 3 + c])).sum();
            }
        }
    }
    let mut rgb = vec![0u8; dh * dw * 3];
    for (y, taps) in vertical.iter().enumerate() {
        for x in 0..dw {
            for c in 0..3 {
                let v: f32 = taps.iter().map(|(i, w)| w * rows[(i * dw + x) * 3 + c]).sum();
                rgb[(y * dw + x) * 3 + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Frame { width, height, rgb }
}

/// For each of `dst` output samples, the source indices and normalised weights of a triangle
/// filter centred on it, widened by the scale when shrinking.
fn weights(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = src as f32 / dst as f32;
    let support = scale.max(1.0);
    (0..dst)
        .map(|o| {
            let centre = (o as f32 + 0.5) * scale - 0.5;
            let lo = (centre - support).floor().max(0.0) as usize;
            let hi = ((centre + support).ceil() as usize).min(src - 1);
            let mut taps: Vec<(usize, f32)> =
                (lo..=hi).map(|i| (i, (1.0 - (i as f32 - centre).abs() / support).max(0.0))).collect();
            let total: f32 = taps.iter().map(|t| t.1).sum();
            if total <= 0.0 {
                let nearest = centre.round().clamp(0.0, (src - 1) as f32) as usize;
                taps = vec![(nearest, 1.0)];
            } else {
                taps.iter_mut().for_each(|t| t.1 /= total);
            }
            taps
        })
        .collect()
}
