//! PSNR and SSIM against reference math.

use worldsim_model::quality::{masked_squared_error, psnr, psnr_of_parts, ssim};
use worldsim_scenes::Frame;

fn noisy(f: &Frame, amp: u8) -> Frame {
    let rgb = f
        .rgb
        .iter()
        .enumerate()
        .map(|(i, v)| if i % 2 == 0 { v.saturating_add(amp) } else { v.saturating_sub(amp) })
        .collect();
    Frame { rgb, ..f.clone() }
}

#[test]
fn psnr_matches_its_definition() {
    let a = Frame::filled(16, 8, [100, 100, 100]);
    assert_eq!(psnr(&a, &a), f64::INFINITY);
    // Every channel off by 5: MSE 25, PSNR = 10·log10(255² / 25).
    let b = noisy(&a, 5);
    assert!((psnr(&a, &b) - 10.0 * (255.0f64 * 255.0 / 25.0).log10()).abs() < 1e-9);
}

#[test]
fn ssim_is_one_for_equal_frames_and_falls_with_distortion() {
    let mut a = Frame::filled(24, 16, [0, 0, 0]);
    for (i, v) in a.rgb.iter_mut().enumerate() {
        *v = ((i * 37) % 251) as u8;
    }
    assert!((ssim(&a, &a) - 1.0).abs() < 1e-12);
    let (s1, s2) = (ssim(&a, &noisy(&a, 4)), ssim(&a, &noisy(&a, 40)));
    assert!(s1 < 1.0 && s2 < s1 && s2 > -1.0, "{s1} {s2}");
    // A constant shift of a flat frame only touches the luminance term.
    let flat = Frame::filled(16, 16, [100, 100, 100]);
    let shifted = Frame::filled(16, 16, [110, 110, 110]);
    let c1 = (0.01f64 * 255.0).powi(2);
    let expected = (2.0 * 100.0 * 110.0 + c1) / (100.0f64.powi(2) + 110.0f64.powi(2) + c1);
    assert!((ssim(&flat, &shifted) - expected).abs() < 1e-9);
}

#[test]
fn masked_psnr_counts_only_the_masked_pixels() {
    let a = Frame::filled(8, 4, [100, 100, 100]);
    // Pixels 0..4 off by 10 in every channel, the rest by 2.
    let mut b = noisy(&a, 2);
    for v in &mut b.rgb[..12] {
        *v = 110;
    }
    let mask: Vec<f32> = (0..32).map(|i| f32::from(u8::from(i < 4))).collect();
    let (sum, count) = masked_squared_error(&a, &b, &mask);
    assert_eq!((sum, count), (4.0 * 3.0 * 100.0, 12));
    let want = 10.0 * (255.0f64 * 255.0 / 100.0).log10();
    assert!((psnr_of_parts(sum, count).expect("counted") - want).abs() < 1e-9);
    // Pooled over two frames: the parts add.
    let (s2, c2) = masked_squared_error(&a, &a, &mask);
    assert!(
        (psnr_of_parts(sum + s2, count + c2).expect("counted") - 10.0 * (255.0f64 * 255.0 / 50.0).log10()).abs() < 1e-9
    );
    assert_eq!(psnr_of_parts(0.0, 0), None);
    assert_eq!(psnr_of_parts(0.0, 12), Some(f64::INFINITY));
}
