//! Atomic, resumable checkpoints: model, EMA model, optimiser state and run state in one folder
//! that is written beside the old one and swapped in only when complete. A run killed at any
//! moment resumes from its last checkpoint and, with the same seed, follows the same trajectory
//! (data and noise are functions of seed and step).

use std::path::{Path, PathBuf};

use burn::module::{AutodiffModule, Module};
use burn::optim::Optimizer;
use burn::prelude::Backend;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder, RecorderError};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use worldsim_scenes::MediaError;
use worldsim_scenes::media::write_dir_atomic;

use super::Ema;

/// Why a checkpoint could not be written or read.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// A file operation failed.
    #[error("{path}: {message}")]
    Io {
        /// The file or folder.
        path: String,
        /// What failed.
        message: String,
    },
    /// A weights or optimiser file is missing, corrupt or for another architecture.
    #[error("{path}: cannot load ({message}); is it a checkpoint of this model and preset?")]
    Record {
        /// The file.
        path: String,
        /// The recorder's reason.
        message: String,
    },
}

impl From<MediaError> for CheckpointError {
    fn from(e: MediaError) -> Self {
        CheckpointError::Io { path: String::new(), message: e.to_string() }
    }
}

/// The run state saved with a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunState<C> {
    /// Optimiser steps done.
    pub step: u64,
    /// Seed of data and noise.
    pub seed: u64,
    /// Seconds of training so far.
    pub elapsed_s: f64,
    /// Everything else the run needs to continue identically (model config, schedule, …).
    pub config: C,
}

/// A checkpoint folder.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The folder (`RUN/checkpoint`).
    pub dir: PathBuf,
}

const MODEL: &str = "model.mpk";
const EMA: &str = "ema.mpk";
const OPTIMIZER: &str = "optimizer.mpk";
const STATE: &str = "state.json";

fn recorder() -> NamedMpkFileRecorder<FullPrecisionSettings> {
    NamedMpkFileRecorder::new()
}

fn record_err(path: &Path) -> impl FnOnce(RecorderError) -> CheckpointError + '_ {
    move |e| CheckpointError::Record { path: path.display().to_string(), message: e.to_string() }
}

impl Checkpoint {
    /// The checkpoint of run folder `run`.
    pub fn of_run(run: &Path) -> Self {
        Checkpoint { dir: run.join("checkpoint") }
    }

    /// Whether a complete checkpoint exists.
    pub fn exists(&self) -> bool {
        self.dir.join(STATE).is_file()
    }

    /// Writes model, EMA model, optimiser and state atomically (replacing the previous one).
    pub fn save<B, M, O, C>(
        &self,
        model: &M,
        ema: &M::InnerModule,
        optim: &O,
        state: &RunState<C>,
    ) -> Result<(), CheckpointError>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B> + Clone,
        O: Optimizer<M, B>,
        C: Serialize,
    {
        let rec = recorder();
        write_dir_atomic(&self.dir, |tmp| {
            model.clone().save_file(tmp.join(MODEL), &rec).map_err(record_err(&self.dir.join(MODEL)))?;
            ema.clone().save_file(tmp.join(EMA), &rec).map_err(record_err(&self.dir.join(EMA)))?;
            Recorder::<B>::record(&rec, optim.to_record(), tmp.join(OPTIMIZER))
                .map_err(record_err(&self.dir.join(OPTIMIZER)))?;
            let json = serde_json::to_string_pretty(state).map_err(|e| CheckpointError::Io {
                path: self.dir.join(STATE).display().to_string(),
                message: e.to_string(),
            })?;
            std::fs::write(tmp.join(STATE), json).map_err(|e| CheckpointError::Io {
                path: self.dir.join(STATE).display().to_string(),
                message: e.to_string(),
            })
        })
    }

    /// Reads the run state.
    pub fn state<C: for<'de> Deserialize<'de>>(&self) -> Result<RunState<C>, CheckpointError> {
        let path = self.dir.join(STATE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| CheckpointError::Io { path: path.display().to_string(), message: e.to_string() })?;
        serde_json::from_str(&text)
            .map_err(|e| CheckpointError::Record { path: path.display().to_string(), message: e.to_string() })
    }

    /// Loads only the EMA weights (what gets exported and shipped) into a freshly built module
    /// of the same architecture, on any backend.
    pub fn load_ema<B: Backend, M: Module<B>>(&self, module: M, device: &B::Device) -> Result<M, CheckpointError> {
        module.load_file(self.dir.join(EMA), &recorder(), device).map_err(record_err(&self.dir.join(EMA)))
    }

    /// Loads only the live (not averaged) weights into a freshly built module, on any backend
    /// (for comparing them with the EMA before shipping).
    pub fn load_live<B: Backend, M: Module<B>>(&self, module: M, device: &B::Device) -> Result<M, CheckpointError> {
        module.load_file(self.dir.join(MODEL), &recorder(), device).map_err(record_err(&self.dir.join(MODEL)))
    }

    /// Continues a run: loads model, EMA (its warm-up set to the saved step) and optimiser into
    /// freshly built ones, and returns them with the saved run state.
    #[allow(clippy::type_complexity)]
    pub fn resume<B, M, O, C>(
        &self,
        model: M,
        ema: Ema<M::InnerModule>,
        optim: O,
        device: &B::Device,
    ) -> Result<(M, Ema<M::InnerModule>, O, RunState<C>), CheckpointError>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B>,
        O: Optimizer<M, B>,
        C: for<'de> Deserialize<'de>,
    {
        let state: RunState<C> = self.state()?;
        let (model, averaged, optim) = self.load(model, ema.module, optim, device)?;
        let ema = Ema { module: averaged, decay: ema.decay, updates: state.step };
        Ok((model, ema, optim, state))
    }

    /// Loads model, EMA model and optimiser into freshly built ones of the same architecture.
    pub fn load<B, M, O>(
        &self,
        model: M,
        ema: M::InnerModule,
        optim: O,
        device: &B::Device,
    ) -> Result<(M, M::InnerModule, O), CheckpointError>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B>,
        O: Optimizer<M, B>,
    {
        let rec = recorder();
        let model = model.load_file(self.dir.join(MODEL), &rec, device).map_err(record_err(&self.dir.join(MODEL)))?;
        let ema = ema.load_file(self.dir.join(EMA), &rec, device).map_err(record_err(&self.dir.join(EMA)))?;
        let record = Recorder::<B>::load(&rec, self.dir.join(OPTIMIZER), device)
            .map_err(record_err(&self.dir.join(OPTIMIZER)))?;
        Ok((model, ema, optim.load_record(record)))
    }
}
