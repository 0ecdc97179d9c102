//! Image quality metrics between RGB8 frames: PSNR (of whole frames, or of the pixels a mask
//! picks, pooled over many frames) and SSIM (Wang et al. 2004: Gaussian 11×11 window, σ = 1.5,
//! K1 = 0.01, K2 = 0.03, on each colour channel, averaged).

use worldsim_scenes::Frame;

/// Peak signal-to-noise ratio in dB (infinite for identical frames).
pub fn psnr(a: &Frame, b: &Frame) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height), "PSNR needs frames of one size");
    let sum = a.rgb.iter().zip(&b.rgb).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum::<f64>();
    psnr_of_parts(sum, a.rgb.len()).unwrap_or(f64::INFINITY)
}

/// Squared error summed over the pixels of `a` and `b` where `mask` is non-zero (one mask entry
/// per pixel, row-major), and the number of values summed (3 per pixel): the parts of a PSNR
/// pooled over many frames with [`psnr_of_parts`].
pub fn masked_squared_error(a: &Frame, b: &Frame, mask: &[f32]) -> (f64, usize) {
    assert_eq!((a.width, a.height), (b.width, b.height), "a masked error needs frames of one size");
    assert_eq!(mask.len(), (a.width * a.height) as usize, "one mask entry per pixel");
    let mut sum = 0.0;
    let mut count = 0;
    for ((pa, pb), m) in a.rgb.chunks_exact(3).zip(b.rgb.chunks_exact(3)).zip(mask) {
        if *m != 0.0 {
            sum += pa.iter().zip(pb).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum::<f64>();
            count += 3;
        }
    }
    (sum, count)
}

/// PSNR in dB of a summed squared error over `count` values (`None` when nothing was counted;
/// infinite for no error).
pub fn psnr_of_parts(sum: f64, count: usize) -> Option<f64> {
    (count > 0).then(|| if sum == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 * count as f64 / sum).log10() })
}

const WINDOW: usize = 11;
const SIGMA: f64 = 1.5;

fn gaussian() -> [f64; WINDOW] {
    let mut g = [0.0; WINDOW];
    let c = (WINDOW / 2) as f64;
    for (i, v) in g.iter_mut().enumerate() {
        *v = (-((i as f64 - c).powi(2)) / (2.0 * SIGMA * SIGMA)).exp();
    }
    let sum: f64 = g.iter().sum();
    g.map(|v| v / sum)
}

/// Separable Gaussian blur with the window clipped (and renormalised) at the borders, so small
/// frames still get a value.
fn blur(x: &[f64], w: usize, h: usize) -> Vec<f64> {
    let g = gaussian();
    let r = (WINDOW / 2) as isize;
    let pass = |src: &[f64], horizontal: bool| -> Vec<f64> {
        let mut out = vec![0.0; w * h];
        for y in 0..h {
            for x0 in 0..w {
                let (mut acc, mut norm) = (0.0, 0.0);
                for k in -r..=r {
                    let (xx, yy) =
                        if horizontal { (x0 as isize + k, y as isize) } else { (x0 as isize, y as isize + k) };
                    if xx >= 0 && yy >= 0 && (xx as usize) < w && (yy as usize) < h {
                        let wgt = g[(k + r) as usize];
                        acc += wgt * src[yy as usize * w + xx as usize];
                        norm += wgt;
                    }
                }
                out[y * w + x0] = acc / norm;
            }
        }
        out
    };
    pass(&pass(x, true), false)
}

/// Structural similarity in `[-1, 1]` (1 for identical frames).
pub fn ssim(a: &Frame, b: &Frame) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height), "SSIM needs frames of one size");
    let (w, h) = (a.width as usize, a.height as usize);
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let mut total = 0.0;
    for ch in 0..3 {
        let x: Vec<f64> = a.rgb.iter().skip(ch).step_by(3).map(|v| f64::from(*v)).collect();
        let y: Vec<f64> = b.rgb.iter().skip(ch).step_by(3).map(|v| f64::from(*v)).collect();
        let prod = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(u, v)| u * v).collect::<Vec<f64>>();
        let (mx, my) = (blur(&x, w, h), blur(&y, w, h));
        let (sxx, syy, sxy) = (blur(&prod(&x, &x), w, h), blur(&prod(&y, &y), w, h), blur(&prod(&x, &y), w, h));
        let mut sum = 0.0;
        for i in 0..w * h {
            let (vx, vy, cov) = (sxx[i] - mx[i] * mx[i], syy[i] - my[i] * my[i], sxy[i] - mx[i] * my[i]);
            sum += ((2.0 * mx[i] * my[i] + c1) * (2.0 * cov + c2))
                / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
        }
        total += sum / (w * h) as f64;
    }
    total / 3.0
}
