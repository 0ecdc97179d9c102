//! Which latent frames a request gives and which it generates: the role of each latent frame,
//! the pixel frames each latent frame covers, roles derived from which pixel frames are known,
//! and the per-frame noise levels of a sampling schedule (given frames stay at 0, SDEdit frames
//! start part-way, warm frames part-way from the known frames around them, generated frames
//! from pure noise).

use std::ops::Range;

/// What a request does with one latent frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FrameRole {
    /// Clean, from the VAE encoder; never changed (level 0 throughout).
    Given,
    /// The encoder's latent noised to level `strength` (0: given, 1: generated), then denoised
    /// (SDEdit).
    Noised {
        /// Noise level in `[0, 1]` the frame starts from.
        strength: f32,
    },
    /// Given, but shown to the DiT noised to `level` (noise augmentation of a condition: the
    /// DiT met given frames in training at independent noise levels, rarely exactly clean). It
    /// follows the schedule below `level` like the rest, and its output is the encoder's clean
    /// latent, as for [`FrameRole::Given`].
    Held {
        /// Noise level in `[0, 1)` the DiT sees the frame at.
        level: f32,
    },
    /// Generated, but from a warm start rather than pure noise: the encoder's latent of the
    /// timeline with its unknown frames bridged (between two known frames their cross-fade,
    /// after the last known frame that frame held still) noised to `level`. After a video's
    /// end, what does not move starts where it was; `level` leaves room for what does.
    Warm {
        /// Noise level in `(0, 1]` the frame starts from (1: [`FrameRole::Generated`]).
        level: f32,
    },
    /// Generated from pure noise.
    Generated,
}

impl FrameRole {
    /// The noise level this frame starts at.
    pub fn start_level(&self) -> f32 {
        match self {
            FrameRole::Given => 0.0,
            FrameRole::Noised { strength } => *strength,
            FrameRole::Held { level } | FrameRole::Warm { level } => *level,
            FrameRole::Generated => 1.0,
        }
    }

    /// Whether the output keeps the encoder's latent of this frame (given or held).
    pub fn is_kept(&self) -> bool {
        matches!(self, FrameRole::Given | FrameRole::Held { .. })
    }

    /// Whether the VAE's latent of this frame is used.
    pub fn uses_input(&self) -> bool {
        self.start_level() < 1.0
    }

    /// Whether the frame starts from its own pixel frames' latent (given, held or noised), so
    /// at least one of them must be known; a warm frame starts from the bridged timeline's.
    pub fn needs_own_frames(&self) -> bool {
        self.uses_input() && !matches!(self, FrameRole::Warm { .. })
    }
}

/// The pixel frames latent frame `latent` covers in a `1 + temporal·k` frame video: the first
/// latent frame is the first pixel frame alone, every later one `temporal` frames.
pub fn pixel_span(latent: usize, temporal: usize) -> Range<usize> {
    if latent == 0 { 0..1 } else { (latent - 1) * temporal + 1..latent * temporal + 1 }
}

/// Roles of the latent frames of a pixel timeline whose frames are `known` or not: a latent frame
/// whose pixel frames are all known takes `known_role`, one with none known `new_role`
/// ([`FrameRole::Generated`] or [`FrameRole::Warm`]), and one straddling known and unknown frames
/// is re-noised to `partial_strength` (its unknown frames are filled from the next known one
/// before encoding).
pub fn roles_from_known(
    known: &[bool],
    temporal: usize,
    known_role: FrameRole,
    new_role: FrameRole,
    partial_strength: f32,
) -> Vec<FrameRole> {
    let latents = 1 + known.len().saturating_sub(1) / temporal.max(1);
    (0..latents)
        .map(|l| {
            let span = &known[pixel_span(l, temporal)];
            let count = span.iter().filter(|k| **k).count();
            if count == span.len() {
                known_role
            } else if count == 0 {
                new_role
            } else {
                let strength = partial_strength.max(known_role.start_level());
                FrameRole::Noised { strength }
            }
        })
        .collect()
}

/// The per-frame noise levels of each sampler step: the base schedule `τ` (from 1 down to 0)
/// with every role's start level inserted, each frame at `min(τ, start)`, and steps in which no
/// frame moves left out. The first entry is where sampling starts, the last is all zeros.
pub fn frame_schedule(base: &[f32], roles: &[FrameRole]) -> Vec<Vec<f32>> {
    let mut taus: Vec<f32> = base.to_vec();
    taus.extend(roles.iter().map(FrameRole::start_level).filter(|s| *s > 0.0 && *s < 1.0));
    taus.sort_by(|a, b| b.total_cmp(a));
    taus.dedup();
    let mut out: Vec<Vec<f32>> = Vec::with_capacity(taus.len());
    for tau in taus {
        let levels: Vec<f32> = roles.iter().map(|r| tau.min(r.start_level())).collect();
        if out.last() != Some(&levels) {
            out.push(levels);
        }
    }
    out
}
