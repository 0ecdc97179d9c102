//! What the prompting tasks promise, measured on frames: frame-to-frame differences, the ratio of
//! a seam's difference to the median difference inside the clip, and the loop point's.

use worldsim_scenes::Frame;

/// Mean absolute difference (0–255 per channel) between consecutive frames: `len − 1` values.
pub fn frame_differences(frames: &[Frame]) -> Vec<f64> {
    frames.windows(2).map(|w| w[0].mean_abs_diff(&w[1])).collect()
}

/// The median of `values` (0 for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The difference between frames `seam − 1` and `seam`, over the median of every other
/// consecutive difference in the clip (1.0: the seam moves like the rest of the clip).
pub fn seam_ratio(frames: &[Frame], seam: usize) -> f64 {
    let diffs = frame_differences(frames);
    let at = diffs[seam - 1];
    let inside: Vec<f64> = diffs.iter().enumerate().filter(|(i, _)| *i != seam - 1).map(|(_, d)| *d).collect();
    at / median(&inside).max(f64::MIN_POSITIVE)
}

/// The largest [`seam_ratio`] over every pair of consecutive frames: where a clip jumps most,
/// wherever that is (a task that moves its seam elsewhere is not continuous for it).
pub fn worst_ratio(frames: &[Frame]) -> f64 {
    (1..frames.len()).map(|seam| seam_ratio(frames, seam)).fold(0.0, f64::max)
}

/// The jump from the last frame back to the first, over the median consecutive difference.
pub fn loop_ratio(frames: &[Frame]) -> f64 {
    let (Some(first), Some(last)) = (frames.first(), frames.last()) else { return 0.0 };
    last.mean_abs_diff(first) / median(&frame_differences(frames)).max(f64::MIN_POSITIVE)
}

/// [`worst_ratio`] of a loop played on repeat: every step, the one from the last frame back to
/// the first included.
pub fn cyclic_worst_ratio(frames: &[Frame]) -> f64 {
    let Some(first) = frames.first() else { return 0.0 };
    let mut cycle = frames.to_vec();
    cycle.push(first.clone());
    worst_ratio(&cycle)
}
