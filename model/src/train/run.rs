//! The pieces of a training run that every model's loop shares: when it stops, what it reports,
//! its optimiser, its progress bar and its loss plot.

use std::path::{Path, PathBuf};

use burn::module::AutodiffModule;
use burn::optim::Optimizer;
use burn::tensor::backend::AutodiffBackend;
use indicatif::{ProgressBar, ProgressStyle};

use super::MetricsLog;
use super::adamw::FusedAdamWConfig;

/// When a run stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    /// After this many optimiser steps in total.
    Steps(u64),
    /// After this many minutes of this invocation (then a checkpoint).
    Minutes(f64),
}

impl Stop {
    /// The step count the progress bar runs to: the given steps, or the schedule's length.
    pub fn total(self, schedule_total: u64) -> u64 {
        match self {
            Stop::Steps(n) => n,
            Stop::Minutes(_) => schedule_total,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// Steps done in total.
    pub step: u64,
    /// Seconds of training in total.
    pub elapsed_s: f64,
    /// Mean loss over the last logged interval.
    pub last_loss: f64,
    /// The run folder.
    pub dir: PathBuf,
}

/// AdamW with decoupled weight decay and per-tensor gradient-norm clipping.
pub fn adamw<B: AutodiffBackend, M: AutodiffModule<B>>(weight_decay: f32, grad_clip: f32) -> impl Optimizer<M, B> {
    FusedAdamWConfig::new().with_weight_decay(weight_decay).with_max_grad_norm(Some(grad_clip)).init::<B, M>()
}

/// A progress bar from `step` to `total` with loss, throughput and ETA (hidden when `show` is
/// false).
pub fn progress_bar(total: u64, step: u64, show: bool) -> ProgressBar {
    let bar = if show { ProgressBar::new(total) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(step);
    bar
}

/// Redraws a run folder's `loss.png` from its `metrics.jsonl`; a plotting failure only warns
/// (training goes on).
pub fn plot_run(dir: &Path, title: &str, second: &str) {
    let lines = MetricsLog::read(&dir.join("metrics.jsonl"));
    if let Err(e) = super::plot::plot_losses(&lines, title, second, &dir.join("loss.png")) {
        eprintln!("warning: loss plot not drawn: {e}");
    }
}
