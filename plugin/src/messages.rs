//! Messages the plugin writes (read them with `MessageReader`) and the one it reads
//! ([`ResetStream`]).

use bevy::prelude::*;

/// A stream showed a new frame.
#[derive(Message, Clone, Debug)]
pub struct StreamFrameReady {
    /// The stream entity.
    pub stream: Entity,
    /// Index of the frame in the stream (0, 1, …).
    pub frame: u64,
}

/// Something failed: the model, a stream's request, a scene file, or the worker itself. The app
/// keeps running; a failed stream stops (see [`crate::StreamStats::status`]).
#[derive(Message, Clone, Debug, PartialEq)]
pub struct WorldSimError {
    /// The stream concerned, if any.
    pub stream: Option<Entity>,
    /// What went wrong and how to fix it.
    pub message: String,
}

/// The worker loaded the model.
#[derive(Message, Clone, Debug, PartialEq)]
pub struct ModelLoaded {
    /// The model folder.
    pub path: String,
    /// The device it runs on.
    pub device: String,
    /// Milliseconds the load took.
    pub load_ms: f64,
}

/// Write this to restart a stream from its first frame (a stopped one too).
#[derive(Message, Clone, Copy, Debug)]
pub struct ResetStream {
    /// The stream entity.
    pub stream: Entity,
}
