//! [`Simulator`]: the streaming model behind one object with no backend type in sight, so a
//! game engine (the Bevy plugin's worker) or the CLI can load it on the device a user picks at
//! run time and run any number of streams on it.

use std::collections::HashMap;
use std::path::Path;

use burn::prelude::*;
use worldsim_scenes::Frame;

use super::session::{StreamConfig, StreamControls, StreamModel, StreamSession, StreamSpec, StreamStep};
use crate::device::ComputeDevice;
use crate::error::ModelError;

/// A stream of a [`Simulator`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

/// The streaming model on one device, with its open streams.
pub struct Simulator {
    engine: Box<dyn Engine>,
    device: ComputeDevice,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").field("device", &self.device).finish_non_exhaustive()
    }
}

impl Simulator {
    /// Loads a model folder onto `device`.
    pub fn load(dir: &Path, device: ComputeDevice) -> Result<Self, ModelError> {
        let engine: Box<dyn Engine> = match device {
            ComputeDevice::Cpu => Box::new(Streams::<crate::Cpu>::load(dir, Default::default())?),
            #[cfg(feature = "wgpu")]
            ComputeDevice::Wgpu => Box::new(Streams::<burn::backend::Wgpu>::load(dir, Default::default())?),
            #[cfg(feature = "cuda")]
            ComputeDevice::Cuda => Box::new(Streams::<burn::backend::Cuda>::load(dir, Default::default())?),
            #[allow(unreachable_patterns)]
            other => {
                let name = format!("{other:?}").to_ascii_lowercase();
                return Err(ModelError::Config {
                    field: "device",
                    message: format!("{name} is not compiled in; build with the `{name}` feature"),
                });
            }
        };
        Ok(Simulator { engine, device })
    }

    /// The device it runs on.
    pub fn device(&self) -> ComputeDevice {
        self.device
    }

    /// Frame sides must be multiples of this (VAE spatial factor × DiT patch).
    pub fn size_multiple(&self) -> usize {
        self.engine.size_multiple()
    }

    /// Opens a stream; errors (a size the model cannot make) name the field and the fix.
    pub fn open(&mut self, id: StreamId, spec: StreamSpec, config: StreamConfig) -> Result<(), ModelError> {
        self.engine.open(id, spec, config)
    }

    /// Generates the next latent frame of a stream and decodes it.
    pub fn step(&mut self, id: StreamId, controls: &StreamControls) -> Result<StreamStep, ModelError> {
        self.engine.step(id, controls, None)
    }

    /// Starts a stream from a known picture (see [`StreamSession::start_from`]).
    pub fn start_from(
        &mut self,
        id: StreamId,
        image: &Frame,
        controls: &StreamControls,
    ) -> Result<StreamStep, ModelError> {
        self.engine.step(id, controls, Some(image))
    }

    /// Closes a stream, freeing its caches (unknown ids are ignored).
    pub fn close(&mut self, id: StreamId) {
        self.engine.close(id);
    }

    /// Streams open.
    pub fn streams(&self) -> usize {
        self.engine.streams()
    }
}

/// The backend-erased face of [`Streams`].
trait Engine: Send {
    fn size_multiple(&self) -> usize;
    fn open(&mut self, id: StreamId, spec: StreamSpec, config: StreamConfig) -> Result<(), ModelError>;
    fn step(
        &mut self,
        id: StreamId,
        controls: &StreamControls,
        image: Option<&Frame>,
    ) -> Result<StreamStep, ModelError>;
    fn close(&mut self, id: StreamId);
    fn streams(&self) -> usize;
}

/// The model on backend `B` with its sessions.
struct Streams<B: Backend> {
    model: StreamModel<B>,
    sessions: HashMap<StreamId, StreamSession<B>>,
}

impl<B: Backend> Streams<B> {
    fn load(dir: &Path, device: B::Device) -> Result<Self, ModelError> {
        Ok(Streams { model: StreamModel::load(dir, device)?, sessions: HashMap::new() })
    }
}

impl<B: Backend> Engine for Streams<B> {
    fn size_multiple(&self) -> usize {
        self.model.vae.meta.config.spatial_factor() * self.model.dit.meta.model.patch
    }

    fn open(&mut self, id: StreamId, spec: StreamSpec, config: StreamConfig) -> Result<(), ModelError> {
        let session = StreamSession::new(&self.model, spec, config)?;
        self.sessions.insert(id, session);
        Ok(())
    }

    fn step(
        &mut self,
        id: StreamId,
        controls: &StreamControls,
        image: Option<&Frame>,
    ) -> Result<StreamStep, ModelError> {
        let session = self.sessions.get_mut(&id).ok_or_else(|| ModelError::Config {
            field: "stream",
            message: format!("stream {} is not open (open it first)", id.0),
        })?;
        match image {
            Some(image) => session.start_from(&self.model, image, controls),
            None => session.step(&self.model, controls),
        }
    }

    fn close(&mut self, id: StreamId) {
        self.sessions.remove(&id);
    }

    fn streams(&self) -> usize {
        self.sessions.len()
    }
}
