//! Training metrics as JSON lines (one object per logged step), kept consistent across resumes.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One logged step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsLine {
    /// Optimiser step (1-based: after this many updates).
    pub step: u64,
    /// Total loss.
    pub loss: f64,
    /// Reconstruction part of the loss.
    pub recon: f64,
    /// KL part of the loss (unweighted).
    pub kl: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Training clips per second over the last interval.
    pub clips_per_s: f64,
    /// Seconds of training so far (over all resumes).
    pub elapsed_s: f64,
}

/// Appends metric lines to `metrics.jsonl`.
pub struct MetricsLog {
    path: PathBuf,
}

impl MetricsLog {
    /// Opens the log of a run folder, dropping lines past `keep_through_step` (a resumed run
    /// rewrites what followed its checkpoint).
    pub fn open(dir: &Path, keep_through_step: u64) -> std::io::Result<Self> {
        let path = dir.join("metrics.jsonl");
        let kept: Vec<String> = MetricsLog::read(&path)
            .into_iter()
            .filter(|l| l.step <= keep_through_step)
            .filter_map(|l| serde_json::to_string(&l).ok())
            .collect();
        let mut text = kept.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        std::fs::write(&path, text)?;
        Ok(MetricsLog { path })
    }

    /// Appends one line.
    pub fn append(&mut self, line: &MetricsLine) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().append(true).create(true).open(&self.path)?;
        writeln!(f, "{}", serde_json::to_string(line).map_err(std::io::Error::other)?)
    }

    /// Every readable line of a metrics file (unreadable lines are skipped).
    pub fn read(path: &Path) -> Vec<MetricsLine> {
        std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}
