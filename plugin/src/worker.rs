//! The worker thread that owns the model (DESIGN §5): it loads the [`Simulator`], takes
//! [`Request`]s from a bounded channel, steps the streams that have room in their display
//! buffer in turn, and sends [`Reply`]s back. Nothing here runs on a Bevy system's thread; a
//! model error stops one stream, a panic inside a step stops that stream, and a dead worker is
//! seen by the app as a closed channel.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded};
use worldsim_model::stream::{
    ComputeDevice, Simulator, StepTimings, StreamConfig, StreamControls, StreamId, StreamSpec,
};

use worldsim_scenes::Frame;

use crate::frame::StreamFrame;

/// Requests waiting for the worker at most (systems never block: a full queue is an error
/// message, not a wait).
pub const REQUEST_CAPACITY: usize = 256;
/// Replies waiting for the app at most (the worker waits when the app stops reading).
pub const REPLY_CAPACITY: usize = 64;

/// What steers a stream, with the moment it was sent (for latency).
#[derive(Clone, Debug)]
pub struct Steering {
    /// Prompt, action, steps, guidance, sampler.
    pub controls: StreamControls,
    /// When the app sent the change.
    pub sent_at: Instant,
}

/// From the app to the worker.
#[derive(Debug)]
pub enum Request {
    /// Start a stream (replacing one with the same id).
    Open {
        /// The stream.
        id: StreamId,
        /// Size and seed.
        spec: StreamSpec,
        /// What steers it at first.
        steering: Steering,
        /// Frames it may generate ahead of the display.
        buffer_frames: usize,
        /// A picture to start from instead of generating the first frame.
        start: Option<Frame>,
    },
    /// New prompt/action/settings for a stream, from its next step on.
    Steer {
        /// The stream.
        id: StreamId,
        /// The new steering.
        steering: Steering,
    },
    /// The app showed `frames` more frames of a stream (room in its buffer).
    Shown {
        /// The stream.
        id: StreamId,
        /// How many.
        frames: usize,
    },
    /// Stop a stream and free it.
    Close {
        /// The stream.
        id: StreamId,
    },
    /// Pause or resume every stream.
    Pause(bool),
    /// Fault injection for tests: the worker thread panics outside any step.
    #[doc(hidden)]
    Panic,
}

/// One step's output, as the app receives it.
#[derive(Debug)]
pub struct FrameBatch {
    /// The stream.
    pub id: StreamId,
    /// The new frames, in order.
    pub frames: Vec<StreamFrame>,
    /// The caption the prompt expanded to.
    pub caption: String,
    /// Unknown words of prompt and action.
    pub unknown: Vec<String>,
    /// Where the step's time went.
    pub timings: StepTimings,
    /// When the steering this step used was sent, if this is the first step under it.
    pub steering_sent_at: Option<Instant>,
}

/// From the worker to the app.
#[derive(Debug)]
pub enum Reply {
    /// The model is ready.
    Loaded {
        /// The folder.
        path: String,
        /// The device.
        device: ComputeDevice,
        /// How long loading took.
        load_ms: f64,
    },
    /// A stream made frames.
    Frames(FrameBatch),
    /// Something failed; with an id, that stream is closed.
    Failed {
        /// The stream, if one.
        id: Option<StreamId>,
        /// What and why.
        message: String,
    },
}

/// The app's ends of the worker's channels.
#[derive(Debug)]
pub struct WorkerHandle {
    /// Requests in.
    pub requests: Sender<Request>,
    /// Replies out.
    pub replies: Receiver<Reply>,
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Starts the worker: it loads `model` on `device`, then serves requests until the app drops
    /// its handle.
    pub fn spawn(model: PathBuf, device: ComputeDevice, config: StreamConfig) -> std::io::Result<Self> {
        let (requests, request_rx) = bounded(REQUEST_CAPACITY);
        let (reply_tx, replies) = bounded(REPLY_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("worldsim-worker".into())
            .spawn(move || Worker::new(request_rx, reply_tx, config).run(model, device))?;
        Ok(WorkerHandle { requests, replies, thread: Some(thread) })
    }
}

impl WorkerHandle {
    /// Whether the worker thread has ended (it only ends when the app lets go, or by a panic).
    pub fn thread_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        // Closing both channels ends the worker's loop after its current step (and frees it
        // if it is waiting to send).
        self.requests = bounded(0).0;
        self.replies = bounded(0).1;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A stream as the worker sees it.
struct Stream {
    steering: Steering,
    /// The picture the first step starts from, until it has.
    start: Option<Frame>,
    /// `Some` until the first step under the latest steering.
    fresh_since: Option<Instant>,
    /// Frames sent and not yet shown.
    ahead: usize,
    buffer: usize,
}

struct Worker {
    requests: Receiver<Request>,
    replies: Sender<Reply>,
    config: StreamConfig,
    streams: BTreeMap<StreamId, Stream>,
    paused: bool,
    /// The stream stepped last (round robin).
    last: Option<StreamId>,
    /// Why the model is missing, if it is.
    load_error: Option<String>,
}

impl Worker {
    fn new(requests: Receiver<Request>, replies: Sender<Reply>, config: StreamConfig) -> Self {
        Worker { requests, replies, config, streams: BTreeMap::new(), paused: false, last: None, load_error: None }
    }

    fn run(mut self, model: PathBuf, device: ComputeDevice) {
        let clock = Instant::now();
        let mut sim = match Simulator::load(&model, device) {
            Ok(sim) => {
                let path = model.display().to_string();
                self.send(Reply::Loaded { path, device, load_ms: clock.elapsed().as_secs_f64() * 1e3 });
                Some(sim)
            }
            Err(e) => {
                let message = format!("cannot load the model from {}: {e}", model.display());
                self.load_error = Some(message.clone());
                self.send(Reply::Failed { id: None, message });
                None
            }
        };
        loop {
            // Every waiting request is handled before the next step; the worker sleeps on the
            // channel only when no stream can run. A closed channel (the app dropped its
            // handle) ends the thread.
            let can_step = sim.is_some() && self.next_runnable().is_some();
            let request = if can_step {
                match self.requests.try_recv() {
                    Ok(r) => Some(r),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return,
                }
            } else {
                match self.requests.recv() {
                    Ok(r) => Some(r),
                    Err(_) => return,
                }
            };
            match (request, sim.as_mut()) {
                (Some(request), sim) => self.handle(request, sim),
                (None, Some(sim)) => {
                    if let Some(id) = self.next_runnable() {
                        self.step(sim, id);
                    }
                }
                (None, None) => {}
            }
        }
    }

    fn handle(&mut self, request: Request, sim: Option<&mut Simulator>) {
        match request {
            Request::Open { id, spec, steering, buffer_frames, start } => {
                let Some(sim) = sim else {
                    let why = self.load_error.clone().unwrap_or_default();
                    self.send(Reply::Failed { id: Some(id), message: format!("no model: {why}") });
                    return;
                };
                match sim.open(id, spec, self.config.clone()) {
                    Ok(()) => {
                        let fresh_since = Some(steering.sent_at);
                        let buffer = buffer_frames.max(1);
                        self.streams.insert(id, Stream { steering, start, fresh_since, ahead: 0, buffer });
                    }
                    Err(e) => self.send(Reply::Failed { id: Some(id), message: e.to_string() }),
                }
            }
            Request::Steer { id, steering } => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.fresh_since = Some(steering.sent_at);
                    s.steering = steering;
                }
            }
            Request::Shown { id, frames } => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.ahead = s.ahead.saturating_sub(frames);
                }
            }
            Request::Close { id } => {
                self.streams.remove(&id);
                if let Some(sim) = sim {
                    sim.close(id);
                }
            }
            Request::Pause(paused) => self.paused = paused,
            Request::Panic => panic!("worldsim worker: injected panic (test)"),
        }
    }

    /// The next stream (round robin after the last one stepped) with room in its buffer.
    fn next_runnable(&self) -> Option<StreamId> {
        if self.paused {
            return None;
        }
        let ready = |(id, s): (&StreamId, &Stream)| (s.ahead < s.buffer).then_some(*id);
        let after = self.last.map_or(self.streams.range(..), |last| {
            self.streams.range((std::ops::Bound::Excluded(last), std::ops::Bound::Unbounded))
        });
        after.filter_map(ready).next().or_else(|| self.streams.iter().filter_map(ready).next())
    }

    fn step(&mut self, sim: &mut Simulator, id: StreamId) {
        self.last = Some(id);
        let Some(stream) = self.streams.get_mut(&id) else { return };
        let controls = stream.steering.controls.clone();
        let start = stream.start.take();
        // The step runs on one of rayon's threads, which then takes part in its parallel ops
        // (`worldsim_model::threads`); waiting for requests never holds one.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            worldsim_model::threads::on_compute_pool(|| match &start {
                Some(image) => sim.start_from(id, image, &controls),
                None => sim.step(id, &controls),
            })
        }));
        let failure = match outcome {
            Ok(Ok(step)) => {
                let Some(stream) = self.streams.get_mut(&id) else { return };
                stream.ahead += step.frames.len();
                let sent_at = stream.fresh_since.take();
                let frames = step
                    .frames
                    .iter()
                    .enumerate()
                    .map(|(i, f)| StreamFrame::from_rgb(f, (step.first_frame + i) as u64))
                    .collect();
                self.send(Reply::Frames(FrameBatch {
                    id,
                    frames,
                    caption: step.caption,
                    unknown: step.unknown,
                    timings: step.timings,
                    steering_sent_at: sent_at,
                }));
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(panic) => format!("the model panicked: {}", panic_message(&panic)),
        };
        self.streams.remove(&id);
        sim.close(id);
        self.send(Reply::Failed { id: Some(id), message: failure });
    }

    /// Sends a reply, waiting while the app's queue is full (the app drains it every frame);
    /// gives up quietly when the app has gone.
    fn send(&self, reply: Reply) {
        let _ = self.replies.send(reply);
    }
}

/// The text of a panic payload.
fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
