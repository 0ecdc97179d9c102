//! Output files: GIF, PNG, folder of PNGs and NPY are complete and correct, and failures leave
//! nothing behind.

mod common;

use common::{shipped, temp_dir};
use worldsim_scenes::media::{OutputKind, read_png, write_video};
use worldsim_scenes::{Clip, Frame};

fn clip() -> Clip {
    Clip::render(&shipped("bouncing_balls").with_overrides(Some((40, 24)), Some(5), None).expect("valid"))
}

#[test]
fn npy_holds_frames_height_width_rgb() {
    let dir = temp_dir("npy");
    let c = clip();
    let path = dir.join("v.npy");
    write_video(path.to_str().expect("utf8"), &c.frames, 12).expect("writes");
    let bytes = std::fs::read(&path).expect("read");
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0, "header is padded to 64 bytes");
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).expect("ascii");
    assert!(header.contains("'descr': '|u1'") && header.contains("'shape': (5, 24, 40, 3)"), "{header}");
    let data = &bytes[10 + header_len..];
    assert_eq!(data.len(), 5 * 24 * 40 * 3);
    assert_eq!(&data[data.len() - c.frames[4].rgb.len()..], &c.frames[4].rgb[..]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gif_has_every_frame_at_the_clip_rate() {
    let dir = temp_dir("gif");
    let c = clip();
    let path = dir.join("v.gif");
    write_video(path.to_str().expect("utf8"), &c.frames, 12).expect("writes");
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut dec = options.read_info(std::fs::File::open(&path).expect("open")).expect("gif");
    // Composite as a viewer does: transparent pixels keep what the previous frame showed.
    let mut canvas = vec![0u8; 40 * 24 * 4];
    let mut n = 0;
    while let Some(f) = dec.read_next_frame().expect("frame") {
        assert_eq!((f.width, f.height, f.delay), (40, 24, 8));
        for (c, p) in canvas.chunks_exact_mut(4).zip(f.buffer.chunks_exact(4)) {
            if p[3] != 0 {
                c.copy_from_slice(p);
            }
        }
        // Palette quantisation keeps colours close.
        let err: f64 = canvas
            .chunks(4)
            .zip(c.frames[n].rgb.chunks(3))
            .map(|(a, b)| (0..3).map(|i| f64::from(a[i].abs_diff(b[i]))).sum::<f64>())
            .sum::<f64>()
            / (40.0 * 24.0 * 3.0);
        assert!(err < 4.0, "frame {n}: mean error {err}");
        n += 1;
    }
    assert_eq!(n, 5);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn png_and_png_folders_round_trip_exactly() {
    let dir = temp_dir("png");
    let c = clip();
    let one = dir.join("first.png");
    assert_eq!(write_video(one.to_str().expect("utf8"), &c.frames, 12).expect("writes"), OutputKind::Png);
    assert_eq!(read_png(&one).expect("reads"), c.frames[0]);
    let folder = format!("{}/frames/", dir.display());
    assert_eq!(write_video(&folder, &c.frames, 12).expect("writes"), OutputKind::PngFolder);
    for (i, f) in c.frames.iter().enumerate() {
        assert_eq!(&read_png(&dir.join(format!("frames/{i:06}.png"))).expect("reads"), f);
    }
    // Writing again replaces the folder's content.
    write_video(&folder, &c.frames[..2], 12).expect("writes");
    assert_eq!(std::fs::read_dir(dir.join("frames")).expect("dir").count(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn failures_leave_no_partial_output() {
    let dir = temp_dir("fail");
    let c = clip();
    assert!(write_video(&format!("{}/v.mp4", dir.display()), &c.frames, 12).is_err());
    assert!(write_video(&format!("{}/missing/v.gif", dir.display()), &c.frames, 12).is_err());
    assert!(write_video(&format!("{}/v.gif", dir.display()), &[], 12).is_err());
    let huge = vec![Frame::filled(70_000, 1, [0, 0, 0])];
    assert!(write_video(&format!("{}/huge.gif", dir.display()), &huge, 12).is_err());
    assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0, "something was left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_written_format_reads_back() {
    use worldsim_scenes::media::read_video;
    let dir = temp_dir("readback");
    let c = clip();
    for name in ["v.npy", "v.png", "frames/"] {
        let out = format!("{}/{name}", dir.display());
        write_video(&out, &c.frames, 12).expect("writes");
        let back = read_video(std::path::Path::new(&out)).expect("reads");
        let n = if name.ends_with(".png") { 1 } else { c.frames.len() };
        assert_eq!(back, c.frames[..n], "{name}");
    }
    let gif = format!("{}/v.gif", dir.display());
    write_video(&gif, &c.frames, 12).expect("writes");
    let back = read_video(std::path::Path::new(&gif)).expect("reads");
    assert_eq!(back.len(), c.frames.len());
    assert!(back.iter().zip(&c.frames).all(|(a, b)| a.mean_abs_diff(b) < 4.0), "GIF frames drift from the originals");
    std::fs::write(dir.join("bad.npy"), b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'}").expect("write");
    let e = read_video(&dir.join("bad.npy")).expect_err("float npy").to_string();
    assert!(e.contains("needs dtype uint8"), "{e}");
    assert!(read_video(&dir.join("v.mp4")).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
