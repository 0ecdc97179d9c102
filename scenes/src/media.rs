//! Writing and reading video files: animated GIF, PNG (one frame or a folder of frames) and
//! NumPy `.npy` (`uint8 [frames, height, width, 3]`). Every write is atomic: output goes to a
//! temporary name beside the target and is renamed into place only when complete, so a failure
//! never leaves a partial file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::MediaError;
use crate::frame::Frame;

/// What kind of output a path asks for, by its extension (or a trailing `/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// Animated GIF.
    Gif,
    /// The first frame as one PNG.
    Png,
    /// A folder of `000000.png`, `000001.png`, …
    PngFolder,
    /// NumPy array `uint8 [frames, height, width, 3]`.
    Npy,
}

impl OutputKind {
    /// The kind `path` asks for.
    pub fn of(path: &str) -> Result<OutputKind, MediaError> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with('/') || lower.ends_with(std::path::MAIN_SEPARATOR) {
            Ok(OutputKind::PngFolder)
        } else if lower.ends_with(".gif") {
            Ok(OutputKind::Gif)
        } else if lower.ends_with(".png") {
            Ok(OutputKind::Png)
        } else if lower.ends_with(".npy") {
            Ok(OutputKind::Npy)
        } else {
            Err(MediaError::UnknownKind { path: path.to_string() })
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> MediaError + '_ {
    move |source| MediaError::Io { path: path.display().to_string(), source }
}

/// A sibling path for temporary output: `.NAME.tmp-PID`.
fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes a file atomically: `write` fills a temporary sibling, which is synced and renamed
/// onto `path` only if `write` succeeds.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), MediaError>,
) -> Result<(), MediaError> {
    let tmp = temp_sibling(path);
    let result = (|| {
        let file = File::create(&tmp).map_err(io_err(path))?;
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| MediaError::Io { path: path.display().to_string(), source: e.into_error() })?;
        file.sync_all().map_err(io_err(path))?;
        std::fs::rename(&tmp, path).map_err(io_err(path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Fills a folder atomically: `fill` writes into a temporary sibling folder, which replaces
/// `dir` only if `fill` succeeds.
pub fn write_dir_atomic<E: From<MediaError>>(dir: &Path, fill: impl FnOnce(&Path) -> Result<(), E>) -> Result<(), E> {
    let tmp = temp_sibling(dir);
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| {
        std::fs::create_dir_all(&tmp).map_err(io_err(dir))?;
        fill(&tmp)?;
        if dir.exists() {
            let old = dir.with_file_name(format!(
                ".{}.old-{}",
                dir.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                std::process::id()
            ));
            std::fs::rename(dir, &old).map_err(io_err(dir))?;
            std::fs::rename(&tmp, dir).map_err(io_err(dir))?;
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&tmp, dir).map_err(io_err(dir))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Writes `frames` to `path` in the format its name asks for (see [`OutputKind`]).
pub fn write_video(path: &str, frames: &[Frame], fps: u32) -> Result<OutputKind, MediaError> {
    let kind = OutputKind::of(path)?;
    if frames.is_empty() {
        return Err(MediaError::Empty { path: path.to_string() });
    }
    let p = Path::new(path.trim_end_matches(['/', std::path::MAIN_SEPARATOR]));
    match kind {
        OutputKind::Gif => write_atomic(p, |w| encode_gif(w, frames, fps, p))?,
        OutputKind::Png => write_atomic(p, |w| encode_png(w, &frames[0], p))?,
        OutputKind::Npy => write_atomic(p, |w| encode_npy(w, frames, p))?,
        OutputKind::PngFolder => write_dir_atomic(p, |dir| write_png_frames(dir, frames))?,
    }
    Ok(kind)
}

/// The file name of frame `i` in a folder of PNGs and in a dataset clip.
pub fn frame_file_name(i: usize) -> String {
    format!("{i:06}.png")
}

/// Writes frames as `000000.png`, `000001.png`, … into an existing folder.
pub fn write_png_frames(dir: &Path, frames: &[Frame]) -> Result<(), MediaError> {
    for (i, f) in frames.iter().enumerate() {
        let path = dir.join(frame_file_name(i));
        let file = File::create(&path).map_err(io_err(&path))?;
        let mut out = BufWriter::new(file);
        encode_png(&mut out, f, &path)?;
        out.flush().map_err(io_err(&path))?;
    }
    Ok(())
}

fn codec(path: &Path, e: impl std::fmt::Display) -> MediaError {
    MediaError::Codec { path: path.display().to_string(), message: e.to_string() }
}

/// Encodes one frame as an 8-bit RGB PNG.
pub fn encode_png(w: &mut dyn Write, frame: &Frame, path: &Path) -> Result<(), MediaError> {
    let mut enc = png::Encoder::new(w, frame.width, frame.height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|e| codec(path, e))?;
    writer.write_image_data(&frame.rgb).map_err(|e| codec(path, e))?;
    writer.finish().map_err(|e| codec(path, e))
}

/// Palette size of GIF output; the last index of 256 is reserved for "unchanged".
const GIF_COLORS: usize = 255;
/// NeuQuant sampling factor (1 = every pixel, 30 = fastest).
const GIF_QUANT_SAMPLING: i32 = 10;

/// Encodes frames as an endlessly looping GIF at `fps` (GIF delays are whole centiseconds).
///
/// One palette is learnt from all frames, and pixels whose palette entry did not change since
/// the previous frame are written as transparent, so a mostly static clip costs little more
/// than its first frame.
pub fn encode_gif(w: &mut dyn Write, frames: &[Frame], fps: u32, path: &Path) -> Result<(), MediaError> {
    let (width, height) = (frames[0].width, frames[0].height);
    let too_big = |v: u32| u16::try_from(v).map_err(|_| codec(path, format!("{v} pixels is too large for GIF")));
    let (w16, h16) = (too_big(width)?, too_big(height)?);
    // NeuQuant learns from RGBA; sample frames evenly so long clips stay fast.
    let stride = frames.len().div_ceil(16).max(1);
    let sample: Vec<u8> = frames
        .iter()
        .step_by(stride)
        .flat_map(|f| f.rgb.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]))
        .collect();
    let quant = color_quant::NeuQuant::new(GIF_QUANT_SAMPLING, GIF_COLORS, &sample);
    let mut palette = quant.color_map_rgb();
    palette.extend_from_slice(&[0, 0, 0]);
    let transparent = GIF_COLORS as u8;
    let mut enc = gif::Encoder::new(w, w16, h16, &palette).map_err(|e| codec(path, e))?;
    enc.set_repeat(gif::Repeat::Infinite).map_err(|e| codec(path, e))?;
    let delay = (100.0 / fps.max(1) as f32).round() as u16;
    let mut previous: Option<Vec<u8>> = None;
    for f in frames {
        let indices: Vec<u8> = f.rgb.chunks_exact(3).map(|p| quant.index_of(&[p[0], p[1], p[2], 255]) as u8).collect();
        let mut g =
            gif::Frame { width: w16, height: h16, delay, dispose: gif::DisposalMethod::Keep, ..gif::Frame::default() };
        match &previous {
            Some(prev) => {
                g.transparent = Some(transparent);
                g.buffer = indices
                    .iter()
                    .zip(prev)
                    .map(|(&i, &p)| if i == p { transparent } else { i })
                    .collect::<Vec<u8>>()
                    .into();
            }
            None => g.buffer = indices.clone().into(),
        }
        enc.write_frame(&g).map_err(|e| codec(path, e))?;
        previous = Some(indices);
    }
    Ok(())
}

/// Encodes frames as a NumPy v1.0 `.npy` array, `uint8 [frames, height, width, 3]`.
pub fn encode_npy(w: &mut dyn Write, frames: &[Frame], path: &Path) -> Result<(), MediaError> {
    let (width, height) = (frames[0].width, frames[0].height);
    let dict =
        format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({}, {height}, {width}, 3), }}", frames.len());
    // Magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64.
    let unpadded = 10 + dict.len() + 1;
    let header = format!("{dict}{}\n", " ".repeat((64 - unpadded % 64) % 64));
    let io = io_err(path);
    let result: std::io::Result<()> = (|| {
        w.write_all(b"\x93NUMPY\x01\x00")?;
        w.write_all(&(header.len() as u16).to_le_bytes())?;
        w.write_all(header.as_bytes())?;
        for f in frames {
            w.write_all(&f.rgb)?;
        }
        Ok(())
    })();
    result.map_err(io)
}

/// Reads a PNG as an RGB frame (RGBA drops alpha; grey is expanded). Other bit depths and
/// palettes are expanded to 8-bit.
pub fn read_png(path: &Path) -> Result<Frame, MediaError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut dec = png::Decoder::new(std::io::BufReader::new(file));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec.read_info().map_err(|e| codec(path, e))?;
    let size = reader.output_buffer_size().ok_or_else(|| codec(path, "image too large"))?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| codec(path, e))?;
    buf.truncate(info.buffer_size());
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Indexed => return Err(codec(path, "indexed colour was not expanded")),
    };
    let rgb = match channels {
        3 => buf,
        4 => buf.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        _ => buf.chunks_exact(channels).flat_map(|p| [p[0]; 3]).collect(),
    };
    Ok(Frame { width: info.width, height: info.height, rgb })
}

/// Reads a video: an animated `.gif`, a `.png` (one frame), a folder of PNGs (sorted by name),
/// or a `.npy` array `uint8 [frames, height, width, 3]`.
pub fn read_video(path: &Path) -> Result<Vec<Frame>, MediaError> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io_err(path))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(MediaError::Empty { path: path.display().to_string() });
        }
        let frames = files.iter().map(|f| read_png(f)).collect::<Result<Vec<_>, _>>()?;
        if let Some(odd) = frames.iter().position(|f| (f.width, f.height) != (frames[0].width, frames[0].height)) {
            return Err(codec(
                &files[odd],
                format!(
                    "is {}×{} but the first frame is {}×{}",
                    frames[odd].width, frames[odd].height, frames[0].width, frames[0].height
                ),
            ));
        }
        Ok(frames)
    } else if name.ends_with(".png") {
        Ok(vec![read_png(path)?])
    } else if name.ends_with(".gif") {
        read_gif(path)
    } else if name.ends_with(".npy") {
        read_npy(path)
    } else {
        Err(MediaError::UnknownKind { path: path.display().to_string() })
    }
}

/// Reads every frame of a GIF, composited as a viewer shows it.
pub fn read_gif(path: &Path) -> Result<Vec<Frame>, MediaError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut dec = options.read_info(std::io::BufReader::new(file)).map_err(|e| codec(path, e))?;
    let (w, h) = (u32::from(dec.width()), u32::from(dec.height()));
    let mut canvas = vec![0u8; w as usize * h as usize * 3];
    let mut frames = Vec::new();
    while let Some(f) = dec.read_next_frame().map_err(|e| codec(path, e))? {
        for y in 0..u32::from(f.height) {
            for x in 0..u32::from(f.width) {
                let (cx, cy) = (x + u32::from(f.left), y + u32::from(f.top));
                if cx >= w || cy >= h {
                    continue;
                }
                let s = (y as usize * f.width as usize + x as usize) * 4;
                if f.buffer[s + 3] != 0 {
                    let d = (cy as usize * w as usize + cx as usize) * 3;
                    canvas[d..d + 3].copy_from_slice(&f.buffer[s..s + 3]);
                }
            }
        }
        frames.push(Frame { width: w, height: h, rgb: canvas.clone() });
    }
    if frames.is_empty() {
        return Err(MediaError::Empty { path: path.display().to_string() });
    }
    Ok(frames)
}

/// Reads a `uint8 [frames, height, width, 3]` NumPy array (C order).
pub fn read_npy(path: &Path) -> Result<Vec<Frame>, MediaError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(codec(path, "not a .npy file (bad magic)"));
    }
    let (len_bytes, start) = if bytes[6] == 1 { (2, 10) } else { (4, 12) };
    let header_len = if len_bytes == 2 {
        u16::from_le_bytes([bytes[8], bytes[9]]) as usize
    } else {
        u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
    };
    let header = bytes
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| codec(path, "truncated header"))?;
    if !(header.contains("'|u1'") || header.contains("'<u1'")) || header.contains("'fortran_order': True") {
        return Err(codec(path, format!("needs dtype uint8 in C order, found header {header}")));
    }
    let shape: Vec<usize> = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split(['(', ')']).nth(1))
        .map(|s| s.split(',').filter_map(|v| v.trim().parse().ok()).collect())
        .unwrap_or_default();
    let [n, h, w, c] = shape[..] else {
        return Err(codec(path, format!("needs shape (frames, height, width, 3), found {shape:?}")));
    };
    let data = &bytes[start + header_len..];
    if c != 3 || data.len() != n * h * w * 3 || n == 0 {
        return Err(codec(path, format!("shape {shape:?} does not match {} data bytes of RGB frames", data.len())));
    }
    Ok(data.chunks_exact(h * w * 3).map(|f| Frame { width: w as u32, height: h as u32, rgb: f.to_vec() }).collect())
}
