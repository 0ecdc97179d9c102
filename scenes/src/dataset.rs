//! The on-disk dataset format, its writer and its validating reader.
//!
//! A dataset is a folder of clip folders. A clip folder holds `clip.json` (see [`ClipMeta`])
//! and its frames as `000000.png`, `000001.png`, … (8-bit RGB or RGBA, all the same size);
//! generated clips also hold `truth.jsonl`, one [`crate::truth::FrameTruth`] per line. Users can
//! fill the same format with their own footage: only `clip.json` and the PNGs are required.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clip::Clip;
use crate::error::{DatasetError, MediaError};
use crate::frame::Frame;
use crate::media::{frame_file_name, read_png, write_dir_atomic, write_png_frames};
use crate::scene::{FPS_RANGE, SIZE_RANGE, Scene};

/// The value of `format` in every `clip.json` of this version.
pub const CLIP_FORMAT: &str = "worldsim-clip/1";
/// The metadata file of a clip folder.
pub const META_FILE: &str = "clip.json";
/// The optional ground-truth file of a clip folder.
pub const TRUTH_FILE: &str = "truth.jsonl";

/// `clip.json`: what a clip is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipMeta {
    /// Always [`CLIP_FORMAT`].
    pub format: String,
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Number of frames (PNG files).
    pub frames: u32,
    /// Descriptive caption (several sentences).
    pub caption: String,
    /// Short prompt; may be empty for user footage.
    #[serde(default)]
    pub prompt: String,
    /// One action caption per frame, or absent when the footage has no actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<String>>,
    /// The scene that generated the clip, when it was generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene: Option<Scene>,
}

impl ClipMeta {
    /// The metadata of a generated clip.
    pub fn of(clip: &Clip) -> ClipMeta {
        let s = &clip.scene;
        ClipMeta {
            format: CLIP_FORMAT.into(),
            width: s.width,
            height: s.height,
            fps: s.fps,
            frames: clip.frames.len() as u32,
            caption: clip.captions.caption.clone(),
            prompt: clip.captions.prompt.clone(),
            actions: Some(clip.captions.actions.clone()),
            scene: Some(s.clone()),
        }
    }
}

/// One thing wrong with a dataset: where and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file or folder at fault.
    pub path: PathBuf,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// A clip read back from disk.
#[derive(Clone, Debug)]
pub struct DatasetClip {
    /// Its folder.
    pub dir: PathBuf,
    /// Its metadata.
    pub meta: ClipMeta,
    /// Its frames.
    pub frames: Vec<Frame>,
}

/// Writes a generated clip into folder `dir` atomically (replacing an older one).
pub fn write_clip(dir: &Path, clip: &Clip) -> Result<(), DatasetError> {
    let meta = serde_json::to_string_pretty(&ClipMeta::of(clip))
        .map_err(|e| MediaError::Codec { path: dir.display().to_string(), message: e.to_string() })?;
    let truth: Vec<String> = clip.truth.iter().map(|t| serde_json::to_string(t).unwrap_or_default()).collect();
    let io = |path: PathBuf| move |source| MediaError::Io { path: path.display().to_string(), source };
    write_dir_atomic(dir, |tmp| {
        std::fs::write(tmp.join(META_FILE), meta + "\n").map_err(io(dir.join(META_FILE)))?;
        std::fs::write(tmp.join(TRUTH_FILE), truth.join("\n") + "\n").map_err(io(dir.join(TRUTH_FILE)))?;
        write_png_frames(tmp, &clip.frames)
    })?;
    Ok(())
}

/// Reads and validates one clip folder; every problem found is reported, not just the first.
pub fn read_clip(dir: &Path) -> Result<DatasetClip, DatasetError> {
    let mut problems = Vec::new();
    let mut problem = |path: &Path, message: String| problems.push(Problem { path: path.to_path_buf(), message });
    let meta_path = dir.join(META_FILE);
    let text = match std::fs::read_to_string(&meta_path) {
        Ok(t) => t,
        Err(e) => {
            problem(&meta_path, format!("cannot read ({e}); every clip folder needs a {META_FILE}"));
            return Err(DatasetError::Invalid(problems));
        }
    };
    let meta: ClipMeta = match serde_json::from_str(&text) {
        Ok(m) => m,
        Err(e) => {
            problem(&meta_path, format!("line {}, column {}: {e}", e.line(), e.column()));
            return Err(DatasetError::Invalid(problems));
        }
    };
    if meta.format != CLIP_FORMAT {
        problem(&meta_path, format!("`format` is {:?}; this reader understands {CLIP_FORMAT:?}", meta.format));
    }
    if !SIZE_RANGE.contains(&meta.width) || !SIZE_RANGE.contains(&meta.height) {
        problem(
            &meta_path,
            format!(
                "`width`×`height` is {}×{}; each side must be in {}..={}",
                meta.width,
                meta.height,
                SIZE_RANGE.start(),
                SIZE_RANGE.end()
            ),
        );
    }
    if !FPS_RANGE.contains(&meta.fps) {
        problem(
            &meta_path,
            format!("`fps` is {}; use a rate in {}..={}", meta.fps, FPS_RANGE.start(), FPS_RANGE.end()),
        );
    }
    if meta.frames == 0 {
        problem(&meta_path, "`frames` is 0; a clip has at least one frame".into());
    }
    if meta.caption.trim().is_empty() {
        problem(&meta_path, "`caption` is empty; describe the clip in a sentence or more".into());
    }
    if let Some(actions) = meta.actions.as_ref().filter(|a| a.len() != meta.frames as usize) {
        problem(
            &meta_path,
            format!(
                "`actions` has {} entries but `frames` is {}; give one action caption per frame",
                actions.len(),
                meta.frames
            ),
        );
    }
    let mut frames = Vec::with_capacity(meta.frames as usize);
    let mut missing = Vec::new();
    for i in 0..meta.frames as usize {
        let path = dir.join(frame_file_name(i));
        if !path.exists() {
            missing.push(frame_file_name(i));
            continue;
        }
        match read_png(&path) {
            Ok(f) if (f.width, f.height) != (meta.width, meta.height) => {
                problem(
                    &path,
                    format!(
                        "is {}×{} but {META_FILE} says {}×{}; every frame must have the clip's size",
                        f.width, f.height, meta.width, meta.height
                    ),
                );
            }
            Ok(f) => frames.push(f),
            Err(e) => problem(&path, format!("not a readable PNG: {e}")),
        }
    }
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(5).map(String::as_str).collect();
        let more = if missing.len() > 5 { format!(" and {} more", missing.len() - 5) } else { String::new() };
        problem(dir, format!("{} of {} frames are missing: {}{more}", missing.len(), meta.frames, shown.join(", ")));
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut extra: Vec<String> = entries
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| {
                n.ends_with(".png")
                    && n.trim_end_matches(".png").parse::<usize>().is_ok_and(|i| i >= meta.frames as usize)
            })
            .collect();
        extra.sort();
        if !extra.is_empty() {
            problem(
                dir,
                format!(
                    "frames beyond `frames` = {}: {}; raise `frames` or remove them",
                    meta.frames,
                    extra.join(", ")
                ),
            );
        }
    }
    if problems.is_empty() {
        Ok(DatasetClip { dir: dir.to_path_buf(), meta, frames })
    } else {
        Err(DatasetError::Invalid(problems))
    }
}

/// What [`check_dataset`] found.
#[derive(Clone, Debug, Default)]
pub struct DatasetReport {
    /// Clip folders that passed.
    pub clips: usize,
    /// Frames in the clips that passed.
    pub frames: usize,
    /// Clips per `(width, height)`.
    pub sizes: BTreeMap<(u32, u32), usize>,
    /// Clips per frame count.
    pub lengths: BTreeMap<u32, usize>,
    /// Everything wrong, in folder order.
    pub problems: Vec<Problem>,
}

/// The clip folders of a dataset, sorted: its sub-folders not starting with `.`.
pub fn clip_dirs(root: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let io = |source| DatasetError::Io { path: root.display().to_string(), source };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(io)?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir() && !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Validates every clip of a dataset folder.
pub fn check_dataset(root: &Path) -> Result<DatasetReport, DatasetError> {
    let mut report = DatasetReport::default();
    let dirs = clip_dirs(root)?;
    if dirs.is_empty() {
        report.problems.push(Problem {
            path: root.to_path_buf(),
            message: format!("has no clip folders; each clip is a sub-folder with {META_FILE} and PNG frames"),
        });
    }
    for dir in dirs {
        match read_clip(&dir) {
            Ok(clip) => {
                report.clips += 1;
                report.frames += clip.frames.len();
                *report.sizes.entry((clip.meta.width, clip.meta.height)).or_default() += 1;
                *report.lengths.entry(clip.meta.frames).or_default() += 1;
            }
            Err(DatasetError::Invalid(p)) => report.problems.extend(p),
            Err(e) => report.problems.push(Problem { path: dir, message: e.to_string() }),
        }
    }
    Ok(report)
}
