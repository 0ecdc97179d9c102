//! Learning rate: linear warm-up, then cosine decay to a floor.

use serde::{Deserialize, Serialize};

/// Warm-up + cosine schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// Learning rate at the end of warm-up.
    pub peak: f64,
    /// Steps of linear warm-up from 0.
    pub warmup: u64,
    /// Step at which the cosine reaches the floor.
    pub total: u64,
    /// The floor, as a share of `peak`.
    pub floor: f64,
}

impl LrSchedule {
    /// The learning rate of `step` (0-based).
    pub fn at(&self, step: u64) -> f64 {
        if step < self.warmup {
            return self.peak * (step + 1) as f64 / self.warmup as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1);
        let progress = ((step - self.warmup) as f64 / span as f64).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.peak * (self.floor + (1.0 - self.floor) * cosine)
    }
}
