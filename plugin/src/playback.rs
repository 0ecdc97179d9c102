//! Pacing (DESIGN §5: frames are shown at the stream's fps with a small buffer): a queue of
//! generated frames and a clock that says which frame is due, how far the display is between
//! two frames (for blending), and how often a frame was due before one had arrived.

use std::collections::VecDeque;
use std::time::Instant;

use crate::frame::StreamFrame;

/// A frame waiting to be shown, with the moment its steering was sent if it is the first frame
/// made under a new prompt or action (for the action-to-pixel latency).
#[derive(Clone, Debug)]
pub struct Queued {
    /// The frame.
    pub frame: StreamFrame,
    /// When the steering it answers was sent.
    pub steering_sent_at: Option<Instant>,
}

/// One stream's playback.
#[derive(Clone, Debug)]
pub struct Playback {
    queue: VecDeque<Queued>,
    interval: f64,
    clock: f64,
    /// When the next frame is due (`None` before the first frame and after starving).
    due: Option<f64>,
    shown_at: f64,
    waiting: bool,
    /// Times a frame was due and none was there.
    pub starved: u64,
    /// Frames dropped because the display fell more than a frame behind.
    pub skipped: u64,
    /// Frames shown.
    pub shown: u64,
}

impl Playback {
    /// Playback at `fps` frames per second.
    pub fn new(fps: f32) -> Self {
        Playback {
            queue: VecDeque::new(),
            interval: 1.0 / f64::from(fps.max(0.1)),
            clock: 0.0,
            due: None,
            shown_at: 0.0,
            waiting: false,
            starved: 0,
            skipped: 0,
            shown: 0,
        }
    }

    /// Adds generated frames at the end of the queue.
    pub fn push(&mut self, frames: impl IntoIterator<Item = Queued>) {
        self.queue.extend(frames);
    }

    /// Frames waiting.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Moves the clock by `dt` seconds; returns the frame to show now, if one is due, and how
    /// many frames left the queue (shown or skipped).
    pub fn advance(&mut self, dt: f64) -> (Option<Queued>, usize) {
        self.clock += dt.max(0.0);
        let due = match self.due {
            Some(due) if self.clock + 1e-9 < due => return (None, 0),
            Some(due) => due,
            None => self.clock,
        };
        if self.queue.is_empty() {
            if !self.waiting && self.due.is_some() {
                self.starved += 1;
            }
            self.waiting = true;
            // Restart the beat when the next frame arrives.
            self.due = None;
            return (None, 0);
        }
        self.waiting = false;
        let mut left = 0;
        // The display fell more than one interval behind: drop frames that are already stale,
        // keeping at least one.
        let behind = ((self.clock - due) / self.interval).floor() as usize;
        while behind > left && self.queue.len() > 1 {
            self.queue.pop_front();
            self.skipped += 1;
            left += 1;
        }
        let frame = self.queue.pop_front();
        left += 1;
        self.shown += 1;
        self.shown_at = self.clock;
        let next = due + self.interval * (behind + 1) as f64;
        self.due = Some(if next <= self.clock { self.clock + self.interval } else { next });
        (frame, left)
    }

    /// How far the display is from the frame on screen to the next one, 0 to 1 (the blend
    /// factor of the display shader).
    pub fn blend(&self) -> f32 {
        ((self.clock - self.shown_at) / self.interval).clamp(0.0, 1.0) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(n: u64) -> Vec<Queued> {
        (0..n)
            .map(|i| Queued {
                frame: StreamFrame { width: 1, height: 1, rgba: vec![0; 4], index: i, made_at: Instant::now() },
                steering_sent_at: None,
            })
            .collect()
    }

    #[test]
    fn frames_are_shown_at_the_stream_rate_in_order() {
        let mut p = Playback::new(10.0);
        p.push(frames(5));
        let mut shown = Vec::new();
        // A 60 Hz display for half a second shows 5 frames of a 10 fps stream, in order.
        for _ in 0..30 {
            if let (Some(q), _) = p.advance(1.0 / 60.0) {
                shown.push(q.frame.index);
            }
        }
        assert_eq!(shown, vec![0, 1, 2, 3, 4]);
        assert_eq!((p.starved, p.skipped), (0, 0));
    }

    #[test]
    fn a_slow_model_is_counted_not_hidden_and_playback_resumes() {
        let mut p = Playback::new(10.0);
        p.push(frames(1));
        assert!(p.advance(0.0).0.is_some());
        for _ in 0..30 {
            assert!(p.advance(0.05).0.is_none());
        }
        assert_eq!(p.starved, 1, "one gap is one starvation, however long");
        p.push(frames(1));
        assert!(p.advance(0.001).0.is_some(), "a late frame is shown as soon as it arrives");
    }

    #[test]
    fn a_slow_display_skips_stale_frames_and_blend_ramps() {
        let mut p = Playback::new(10.0);
        p.push(frames(6));
        p.advance(0.0);
        assert_eq!(p.blend(), 0.0);
        p.advance(0.05);
        assert!((p.blend() - 0.5).abs() < 1e-6);
        // 0.35 s later: frames due at 0.1, 0.2, 0.3 → the two stale ones are skipped.
        let (q, left) = p.advance(0.30);
        assert_eq!(q.map(|q| q.frame.index), Some(3));
        assert_eq!((left, p.skipped), (3, 2));
    }
}
