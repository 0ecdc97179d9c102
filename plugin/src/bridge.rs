//! The ECS side of the worker: systems that turn component changes into requests, replies into
//! queued frames, stats and messages, and due frames into image updates. None of them waits
//! for the model: requests use `try_send`, replies are drained with `try_iter`.

use std::collections::HashMap;
use std::time::Instant;

use bevy::prelude::*;
use crossbeam_channel::TrySendError;
use worldsim_model::stream::{StreamControls, StreamId, StreamSpec};

use crate::components::{StreamAction, StreamPrompt, StreamStats, StreamStatus, WorldStream};
use crate::messages::{ModelLoaded, ResetStream, StreamFrameReady, WorldSimError};
use crate::playback::{Playback, Queued};
use crate::settings::WorldSimSettings;
use crate::worker::{Reply, Request, Steering, WorkerHandle};

/// The app's link to the worker.
#[derive(Resource)]
pub struct WorkerLink {
    /// `None` once the worker is gone.
    handle: Option<WorkerHandle>,
    /// Which entity each open stream id belongs to, and back. Every open (a new stream, or a
    /// reset one) gets a fresh id, so frames still in flight for a stream's old life are
    /// dropped.
    streams: HashMap<StreamId, Entity>,
    ids: HashMap<Entity, StreamId>,
    next_id: u64,
}

impl WorkerLink {
    /// A link over a started worker.
    pub fn new(handle: WorkerHandle) -> Self {
        WorkerLink { handle: Some(handle), streams: HashMap::new(), ids: HashMap::new(), next_id: 0 }
    }

    /// A link whose worker could not start (every stream fails at once with `why`).
    pub fn dead() -> Self {
        WorkerLink { handle: None, streams: HashMap::new(), ids: HashMap::new(), next_id: 0 }
    }

    /// A fresh id for `entity` (forgetting its previous one, returned if any).
    fn assign(&mut self, entity: Entity) -> (StreamId, Option<StreamId>) {
        let id = StreamId(self.next_id);
        self.next_id += 1;
        let old = self.forget(entity);
        self.streams.insert(id, entity);
        self.ids.insert(entity, id);
        (id, old)
    }

    /// Forgets `entity`'s stream; returns its id if it had one.
    fn forget(&mut self, entity: Entity) -> Option<StreamId> {
        let id = self.ids.remove(&entity)?;
        self.streams.remove(&id);
        Some(id)
    }

    /// The current id of `entity`'s stream.
    fn id_of(&self, entity: Entity) -> Option<StreamId> {
        self.ids.get(&entity).copied()
    }

    /// Sends a request without waiting; a full queue or a gone worker is an error message.
    fn send(&self, request: Request) -> Result<(), String> {
        let Some(handle) = &self.handle else {
            return Err("the worldsim worker is not running (see the earlier error)".into());
        };
        match handle.requests.try_send(request) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err("the worldsim worker's request queue is full; request dropped".into()),
            Err(TrySendError::Disconnected(_)) => Err("the worldsim worker has stopped".into()),
        }
    }

    /// Fault injection for tests: makes the worker thread panic.
    #[doc(hidden)]
    pub fn inject_worker_panic(&self) {
        let _ = self.send(Request::Panic);
    }
}

/// A stream's pacing and bookkeeping, kept by the plugin on the stream entity.
#[derive(Component, Debug)]
pub struct StreamPlayback {
    playback: Playback,
    id: StreamId,
    /// Recent model frames/s and display frames/s (exponential averages).
    model_rate: Rate,
    display_rate: Rate,
}

/// An exponential average of events per second.
#[derive(Debug, Default)]
struct Rate {
    last: Option<Instant>,
    per_second: f32,
}

impl Rate {
    /// Records `n` events now.
    fn tick(&mut self, n: usize) {
        let now = Instant::now();
        if let Some(last) = self.last {
            let dt = now.duration_since(last).as_secs_f32().max(1e-4);
            let rate = n as f32 / dt;
            self.per_second = if self.per_second == 0.0 { rate } else { 0.8 * self.per_second + 0.2 * rate };
        }
        self.last = Some(now);
    }
}

fn steering_of(prompt: &StreamPrompt, action: &StreamAction, settings: &WorldSimSettings) -> Steering {
    Steering {
        controls: StreamControls {
            prompt: prompt.0.clone(),
            action: action.0.clone(),
            steps: settings.steps,
            guidance: settings.guidance,
            action_guidance: None,
            sampler: settings.sampler,
        },
        sent_at: Instant::now(),
    }
}

fn open_request(stream: &WorldStream, steering: Steering, id: StreamId) -> Request {
    Request::Open {
        id,
        spec: StreamSpec { width: stream.width as usize, height: stream.height as usize, seed: stream.seed },
        steering,
        buffer_frames: stream.buffer_frames as usize,
        start: stream.start.clone(),
    }
}

/// Opens new streams, restarts reset ones, closes removed ones.
pub fn open_and_close_streams(
    mut commands: Commands,
    mut link: ResMut<WorkerLink>,
    settings: Res<WorldSimSettings>,
    added: Query<(Entity, &WorldStream, &StreamPrompt, &StreamAction), Added<WorldStream>>,
    all: Query<(&WorldStream, &StreamPrompt, &StreamAction)>,
    mut resets: MessageReader<ResetStream>,
    mut removed: RemovedComponents<WorldStream>,
    mut errors: MessageWriter<WorldSimError>,
) {
    for entity in removed.read() {
        if let Some(id) = link.forget(entity) {
            let _ = link.send(Request::Close { id });
        }
    }
    let reset: Vec<Entity> = resets.read().map(|r| r.stream).collect();
    let opening = added.iter().map(|(e, ..)| e).chain(reset.iter().copied().filter(|e| !added.contains(*e)));
    for entity in opening.collect::<Vec<_>>() {
        let Ok((stream, prompt, action)) = all.get(entity) else { continue };
        let (id, old) = link.assign(entity);
        if let Some(old) = old {
            let _ = link.send(Request::Close { id: old });
        }
        let mut status = StreamStatus::Starting;
        if let Err(message) = link.send(open_request(stream, steering_of(prompt, action, &settings), id)) {
            errors.write(WorldSimError { stream: Some(entity), message: message.clone() });
            status = StreamStatus::Stopped(message);
        }
        commands.entity(entity).insert((
            StreamPlayback {
                playback: Playback::new(stream.fps),
                id,
                model_rate: Rate::default(),
                display_rate: Rate::default(),
            },
            StreamStats { status, ..default() },
        ));
    }
}

/// Sends prompt, action and settings changes to the worker.
pub fn steer_streams(
    link: Res<WorkerLink>,
    settings: Res<WorldSimSettings>,
    changed: Query<
        (Entity, Ref<StreamPrompt>, Ref<StreamAction>, Ref<WorldStream>),
        Or<(Changed<StreamPrompt>, Changed<StreamAction>)>,
    >,
    every: Query<(Entity, &StreamPrompt, &StreamAction), With<WorldStream>>,
    mut errors: MessageWriter<WorldSimError>,
) {
    let mut report = |stream: Option<Entity>, r: Result<(), String>| {
        if let Err(message) = r {
            errors.write(WorldSimError { stream, message });
        }
    };
    if settings.is_changed() && !settings.is_added() {
        report(None, link.send(Request::Pause(settings.paused)));
        for (entity, prompt, action) in &every {
            let steering = steering_of(prompt, action, &settings);
            if let Some(id) = link.id_of(entity) {
                report(Some(entity), link.send(Request::Steer { id, steering }));
            }
        }
        return;
    }
    for (entity, prompt, action, stream) in &changed {
        // A stream added this frame was opened with these controls already.
        if stream.is_added() || !(prompt.is_changed() || action.is_changed()) {
            continue;
        }
        let steering = steering_of(&prompt, &action, &settings);
        if let Some(id) = link.id_of(entity) {
            report(Some(entity), link.send(Request::Steer { id, steering }));
        }
    }
}

/// Drains the worker's replies: frames into playback queues, stats, messages.
pub fn receive_replies(
    mut link: ResMut<WorkerLink>,
    mut streams: Query<(&mut StreamPlayback, &mut StreamStats)>,
    mut loaded: MessageWriter<ModelLoaded>,
    mut errors: MessageWriter<WorldSimError>,
) {
    let Some(handle) = &link.handle else { return };
    let replies: Vec<Reply> = handle.replies.try_iter().collect();
    let disconnected = replies.is_empty() && handle.thread_finished();
    for reply in replies {
        match reply {
            Reply::Loaded { path, device, load_ms } => {
                info!("worldsim: model {path} loaded on {device:?} in {load_ms:.0} ms");
                loaded.write(ModelLoaded { path, device: format!("{device:?}"), load_ms });
            }
            Reply::Frames(batch) => {
                let Some(&entity) = link.streams.get(&batch.id) else { continue };
                let Ok((mut playback, mut stats)) = streams.get_mut(entity) else { continue };
                let n = batch.frames.len();
                playback.model_rate.tick(n);
                let first_mark = batch.steering_sent_at;
                playback.playback.push(
                    batch
                        .frames
                        .into_iter()
                        .enumerate()
                        .map(|(i, frame)| Queued { frame, steering_sent_at: if i == 0 { first_mark } else { None } }),
                );
                stats.generated += n as u64;
                stats.model_fps = playback.model_rate.per_second;
                let t = batch.timings;
                stats.step_ms = [t.denoise_ms as f32, t.commit_ms as f32, t.decode_ms as f32];
                stats.caption = batch.caption;
                stats.unknown_words = batch.unknown;
                if stats.status == StreamStatus::Starting {
                    stats.status = StreamStatus::Running;
                }
            }
            Reply::Failed { id, message } => {
                let entity = id.and_then(|id| link.streams.get(&id).copied());
                if let Some(entity) = entity {
                    link.forget(entity);
                }
                if let Some(entity) = entity
                    && let Ok((_, mut stats)) = streams.get_mut(entity)
                {
                    stats.status = StreamStatus::Stopped(message.clone());
                }
                error!("worldsim: {message}");
                errors.write(WorldSimError { stream: entity, message });
            }
        }
    }
    if disconnected {
        let message = "the worldsim worker stopped unexpectedly; streams are stopped".to_string();
        error!("worldsim: {message}");
        errors.write(WorldSimError { stream: None, message: message.clone() });
        for (_, mut stats) in &mut streams {
            stats.status = StreamStatus::Stopped(message.clone());
        }
        link.streams.clear();
        link.ids.clear();
        link.handle = None;
    }
}

/// Shows each stream's due frame: the on-screen image moves to `previous`, the new frame is
/// uploaded into `image`, the worker learns there is room again.
pub fn show_frames(
    time: Res<Time>,
    settings: Res<WorldSimSettings>,
    link: Res<WorkerLink>,
    mut images: ResMut<Assets<Image>>,
    mut streams: Query<(Entity, &WorldStream, &mut StreamPlayback, &mut StreamStats)>,
    mut ready: MessageWriter<StreamFrameReady>,
) {
    let dt = if settings.paused { 0.0 } else { time.delta_secs_f64() };
    for (entity, stream, mut playback, mut stats) in &mut streams {
        let (frame, left) = playback.playback.advance(dt);
        if left > 0 {
            let _ = link.send(Request::Shown { id: playback.id, frames: left });
        }
        stats.queued = playback.playback.queued();
        stats.starved = playback.playback.starved;
        let Some(queued) = frame else { continue };
        playback.display_rate.tick(1);
        stats.display_fps = playback.display_rate.per_second;
        stats.shown += 1;
        if let Some(sent) = queued.steering_sent_at {
            stats.latency_ms = sent.elapsed().as_secs_f32() * 1e3;
        }
        let frame = queued.frame;
        if (frame.width, frame.height) != (stream.width, stream.height) {
            continue;
        }
        // The frame on screen moves to `previous` (no copy), the new one takes its place.
        let shown = images.get_mut(&stream.image).and_then(|mut image| image.data.replace(frame.rgba));
        if let (Some(data), Some(mut previous)) = (shown, images.get_mut(&stream.previous)) {
            previous.data = Some(data);
        }
        ready.write(StreamFrameReady { stream: entity, frame: frame.index });
    }
}

impl StreamPlayback {
    /// The blend factor of the stream's display (0: the frame before, 1: the frame on screen).
    pub fn blend(&self) -> f32 {
        self.playback.blend()
    }
}
