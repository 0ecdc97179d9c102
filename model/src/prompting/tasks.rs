//! The prompting tasks of the Sora report, each as the pixel timelines it samples and how their
//! frames are assembled: animate an image, extend a video forwards or backwards (window by
//! window, so repeated use keeps going), close a video into a loop or make a loop from a
//! prompt (one window, then the loop reconstructed as it plays on repeat), edit a video
//! (SDEdit), and connect two videos. Extension windows never exceed the clip length the model
//! was trained on (a loop's or a connection's one window does when asked for more new frames);
//! inputs keep their VAE reconstruction, a loop's as a loop.

use burn::prelude::*;
use worldsim_scenes::Frame;
use worldsim_scenes::rng::mix64;

use super::fit::pad_length;
use super::motion::{MotionMaskConfig, moving_tokens};
use super::pipeline::{PromptRequest, Prompted, SampledLatent, SamplingSettings, run_request, sample_latent};
use super::roles::{FrameRole, roles_from_known};
use crate::dit::weights::LoadedDenoiser;
use crate::error::ModelError;
use crate::vae::weights::LoadedVae;
use crate::video::{VideoSample, frames_from_tensor};

/// The noise level the DiT sees given frames at in the tasks' windows (measured with `worldsim
/// eval prompting --given-level L`: 0.05 gave the lowest seams of 0, 0.05, 0.1 and 0.2; the
/// stream commits its context at the same level).
pub const GIVEN_LEVEL: f32 = 0.05;

/// Frames over which a backward extension fades from the reversed decode into the video's round
/// trip ([`PromptingConfig::backward_fade`]). With the seam re-noised ([`SEAM_STRENGTH`]),
/// `eval prompting --scenes 6` backward seam (4242 / 4343; largest ratio anywhere): 0 frames
/// 2.97 (3.16) on 4242; 1: 1.18 / 1.22 (1.73 / 1.68); 2: 1.48 / 1.37 (2.13 / 1.81); 3: 1.71;
/// 4: 1.76. With new frames started warm ([`WARM_START`]), a 2-frame fade is best: 1: 1.11 /
/// 1.12 (1.65 / 1.76); **2: 1.12 / 1.10 (1.47 / 1.33)**; 3: 1.26 (1.64) on 4242; 0: 2.55. The
/// video's frames stay within 0.5 dB of the round trip (−0.48 / −0.42 dB at 2).
pub const BACKWARD_FADE: usize = 2;

/// The level forward extension's first window re-noises the video's last latent frame to
/// ([`PromptingConfig::seam_strength`]). `eval prompting --scenes 6` (4242 / 4343): forward seam
/// 1.83 / 1.45 → 1.53 / 1.35 with the input frames 0.67 / 0.58 dB below their round trip
/// (0.2: 1.51 / 1.33, −0.76 / −0.65 dB; 0.3: 1.46, −1.00 dB; 0.5: 1.40, −1.60 dB on 4242).
/// Backward extension, which extends the reversed video forwards, gains most: with a 1-frame
/// fade its seam falls from 2.06 / 1.73 to 1.18 / 1.22.
pub const SEAM_STRENGTH: f32 = 0.15;

/// The level the tasks' new latent frames start at ([`PromptingConfig::warm_start`]): the last
/// frame made held still (or, between known frames, their cross-fade) noised to 0.7 rather than
/// pure noise. `eval prompting --scenes 6` (4242 / 4343), from pure noise → 0.7: forward seam
/// 1.53 / 1.35 → 1.15 / 1.08 (largest ratio anywhere 2.08 / 1.63 → 1.50 / 1.46; the new frames'
/// mean step 3.6 / 3.7 → 2.3 / 2.6 levels, the world's own 1.1 / 1.4), backward seam 1.18 /
/// 1.22 → 1.11 / 1.12, connect B's head −4.23 / −4.97 → −3.65 / −4.28 dB, loop of a video
/// 1.42 / 1.20 → 1.30 / 1.11. At 4242: 0.9 forward 1.33, 0.8 1.23, 0.6 1.05, 0.5 0.95, but
/// below 0.7 backward extension's largest ratio grows (1.65 at 0.7, 1.82 at 0.6, 2.04 at 0.5;
/// all with a 1-frame backward fade, before [`BACKWARD_FADE`] became 2).
pub const WARM_START: f32 = 0.7;

/// Frames of B's head over which `connect` fades from its window's decode into B's round trip
/// ([`PromptingConfig::connect_fade`]): with 2, B's 4 head frames take the window's decode with
/// weight 1, 1/2, 0 and 0. From pure noise, `eval prompting --scenes 6`, B's head against its
/// round trip −6.61 / −7.65 dB → −4.23 / −4.97 dB (4242 / 4343) with a 3-frame fade, the
/// largest frame-to-frame ratio anywhere 1.88 / 2.24 → 1.83 / 2.18 (4: −4.62 dB, 1.83 on
/// 4242). With new frames started warm ([`WARM_START`]; B's head dB, worst seam, largest ratio
/// anywhere): 0 frames −5.79 / −6.68, 1.59 / 1.79, 1.82 / 2.06; 1: −2.77 / −3.45, 1.39 / 1.66,
/// 1.67 / 2.06; **2: −3.30 / −3.92, 1.45 / 1.67, 1.67 / 1.95**; 3: −3.65 / −4.28, 1.49 / 1.70,
/// 1.71 / 1.97.
pub const CONNECT_FADE: usize = 2;

/// Fades `frames` in from `from` (frames of one size, frame by frame): frame `i < fade` becomes
/// `w · from[i] + (1 − w) · frames[i]` with `w = (fade − i) / fade` (1 at the first frame),
/// the frames after it are left as they are.
fn fade_in_from(frames: &mut [Frame], from: &[Frame], fade: usize) {
    for (i, (frame, from)) in frames.iter_mut().zip(from).take(fade).enumerate() {
        frame.mix(from, (fade - i) as f32 / fade as f32);
    }
}

/// How the tasks cut their work into windows.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptingConfig {
    /// Longest window sampled at once, in latent frames (the longest clips the model was trained
    /// on: longer windows are out of its distribution).
    pub window_latents: usize,
    /// Level that a latent frame straddling known and unknown pixel frames is re-noised to.
    pub partial_strength: f32,
    /// Noise level the DiT sees given frames at (their output stays the VAE's reconstruction):
    /// 0 shows them clean ([`FrameRole::Given`]), above 0 holds them at that level
    /// ([`FrameRole::Held`]).
    pub given_level: f32,
    /// Backward extension: over the video's first this many frames, its round trip is faded
    /// in from the reversed decode the new frames continue (0: the round trip throughout).
    pub backward_fade: usize,
    /// Connect: over this many of B's head frames (at most 4), B's round trip is faded in from
    /// the window's decode (0: the window's decode throughout).
    pub connect_fade: usize,
    /// Forward extension: the first window re-noises the video's last latent frame to this
    /// level and shows that frame's pixel frames as the window remakes them, so the seam falls
    /// inside the DiT's own sample (0: the video's last frames kept as its round trip).
    pub seam_strength: f32,
    /// The level every task's new latent frames start at ([`FrameRole::Warm`]; 1: from pure
    /// noise): extension's from the last frame made held still, connect's and a loop's from the
    /// cross-fade of the known frames on either side.
    pub warm_start: f32,
}

impl Default for PromptingConfig {
    fn default() -> Self {
        PromptingConfig {
            window_latents: 3,
            partial_strength: 0.7,
            given_level: GIVEN_LEVEL,
            backward_fade: BACKWARD_FADE,
            connect_fade: CONNECT_FADE,
            seam_strength: SEAM_STRENGTH,
            warm_start: WARM_START,
        }
    }
}

/// What a task made.
#[derive(Clone, Debug)]
pub struct TaskOutput {
    /// The video.
    pub frames: Vec<Frame>,
    /// The caption the model was conditioned on.
    pub caption: String,
    /// Words of the prompt the model does not know.
    pub unknown: Vec<String>,
    /// What was adjusted on the way (rounded frame counts, padding), for the user.
    pub notes: Vec<String>,
    /// DiT evaluations per guidance branch, over all windows.
    pub network_calls: usize,
}

/// Runs the prompting tasks with one model and one set of sampling settings.
pub struct Prompter<'a, B: Backend> {
    /// The VAE.
    pub vae: &'a LoadedVae<B>,
    /// The DiT and text encoder.
    pub dit: &'a LoadedDenoiser<B>,
    /// Prompt, seed, steps, guidance, sampler.
    pub settings: SamplingSettings,
    /// Windows.
    pub config: PromptingConfig,
    /// Where to run.
    pub device: B::Device,
}

/// Accumulates windows into a task's output: the first window's caption, every window's
/// network calls, the notes.
#[derive(Default)]
struct Assembly {
    caption: Option<(String, Vec<String>)>,
    network_calls: usize,
    notes: Vec<String>,
}

impl Assembly {
    fn note(&mut self, note: Option<String>) {
        self.notes.extend(note);
    }

    fn add(&mut self, p: &Prompted) {
        self.add_parts(&p.caption, &p.unknown, p.network_calls);
    }

    fn add_latent<B: Backend>(&mut self, s: &SampledLatent<B>) {
        self.add_parts(&s.caption, &s.unknown, s.network_calls);
    }

    fn add_parts(&mut self, caption: &str, unknown: &[String], network_calls: usize) {
        self.caption.get_or_insert_with(|| (caption.to_string(), unknown.to_vec()));
        self.network_calls += network_calls;
    }

    fn finish(self, frames: Vec<Frame>) -> TaskOutput {
        let (caption, unknown) = self.caption.unwrap_or_default();
        TaskOutput { frames, caption, unknown, notes: self.notes, network_calls: self.network_calls }
    }
}

impl<B: Backend> Prompter<'_, B> {
    /// The role of the known frames of a window.
    fn known_role(&self) -> FrameRole {
        if self.config.given_level > 0.0 {
            FrameRole::Held { level: self.config.given_level }
        } else {
            FrameRole::Given
        }
    }

    fn temporal(&self) -> usize {
        self.vae.meta.config.temporal_factor()
    }

    /// Frames covered by `latents` latent frames.
    fn frames_of(&self, latents: usize) -> usize {
        1 + self.temporal() * (latents.max(1) - 1)
    }

    /// Samples one window: the known frames take `known_role`, the rest are generated. `window`
    /// makes each window's noise its own.
    fn window(&self, frames: Vec<Option<Frame>>, known_role: FrameRole, window: u64) -> Result<Prompted, ModelError> {
        let (req, _) = self.window_request(frames, known_role, window)?;
        run_request(self.vae, self.dit, &req, &self.device)
    }

    /// The request of one window and its roles.
    fn window_request(
        &self,
        frames: Vec<Option<Frame>>,
        known_role: FrameRole,
        window: u64,
    ) -> Result<(PromptRequest, Vec<FrameRole>), ModelError> {
        let first = frames.iter().flatten().next().ok_or(ModelError::Config {
            field: "frames",
            message: "a prompting window needs at least one known frame".into(),
        })?;
        let (width, height) = (first.width as usize, first.height as usize);
        let known: Vec<bool> = frames.iter().map(Option::is_some).collect();
        let new_role = if self.config.warm_start < 1.0 {
            FrameRole::Warm { level: self.config.warm_start }
        } else {
            FrameRole::Generated
        };
        let roles = roles_from_known(&known, self.temporal(), known_role, new_role, self.config.partial_strength);
        let mut settings = self.settings.clone();
        settings.seed = if window == 0 { settings.seed } else { mix64(settings.seed ^ mix64(window)) };
        Ok((PromptRequest { width, height, frames, roles: roles.clone(), settings, pinned: Vec::new() }, roles))
    }

    /// The VAE's reconstruction of a video of any length (padded to `1 + 4k` and trimmed back).
    pub fn roundtrip(&self, video: &[Frame]) -> Result<Vec<Frame>, ModelError> {
        let (padded, _) = pad_length(video, self.temporal(), "");
        let mut out = self.vae.model.roundtrip(&self.vae.meta.config, &padded, &self.device)?;
        out.truncate(video.len());
        Ok(out)
    }

    /// Text-to-video of `frames` frames (`1 + 4k`) at `width × height`.
    fn generated(&self, frames: usize, width: usize, height: usize) -> Result<Prompted, ModelError> {
        let req = PromptRequest::generated(width, height, frames, self.temporal(), self.settings.clone());
        run_request(self.vae, self.dit, &req, &self.device)
    }

    /// Image-to-video: `frames` frames whose first is `image` (as the VAE reconstructs it).
    pub fn animate(&self, image: &Frame, frames: usize) -> Result<TaskOutput, ModelError> {
        self.extend(std::slice::from_ref(image), frames.saturating_sub(1), 0)
    }

    /// `backward` new frames, the video (as the VAE reconstructs it), then `forward` new frames.
    pub fn extend(&self, video: &[Frame], forward: usize, backward: usize) -> Result<TaskOutput, ModelError> {
        let mut a = Assembly::default();
        let (mut out, reversed_kept) =
            if backward > 0 { self.before(video, backward, &mut a)? } else { (Vec::new(), Vec::new()) };
        let mut after = self.forward_from(video, forward, 0, &mut a)?;
        fade_in_from(&mut after, &reversed_kept, self.config.backward_fade);
        out.extend(after);
        Ok(a.finish(out))
    }

    /// `n` new frames that lead into `video`: the video played in reverse, extended forwards
    /// ([`Self::forward_from`]), the new frames turned back.
    ///
    /// A causal VAE decodes a clip's first frame alone and the frames after it as its
    /// continuation, so new frames join a video's reconstruction smoothly only after it. Made
    /// before the video (its last frames given, the new ones generated in front of them, each
    /// window decoded on its own), they met its crisp first frame across two decodes and a jump
    /// in content: `eval prompting --scenes 6` at guidance 3, seam ratio 7.48. Reversed, the DiT
    /// continues what it sees, and the seam is 2.89 (the video shown as its round trip, bit for
    /// bit); showing the video as its reversed round trip, which the new frames continue in one
    /// decode, gave 2.56, but that reconstruction is as good as the round trip only for some
    /// motions (falling balls in reverse: 2.1 dB worse), so the round trip stays.
    ///
    /// Returns the new frames and the video as the reversed decode reconstructs it (in the
    /// video's order), which [`Self::extend`] fades into the round trip over the video's first
    /// [`PromptingConfig::backward_fade`] frames: the new frames then meet the decode they
    /// continue, not the round trip's crisp first frame (without re-noising the seam,
    /// `eval prompting --scenes 6`: seam ratio 2.37 → 2.06 on 4242 and 2.05 → 1.73 on 4343 with
    /// a 2-frame fade, the video's frames 0.18 dB below the round trip; 4 frames: 2.13 / 1.86,
    /// 8: 2.33 on 4242; with it, [`BACKWARD_FADE`]).
    fn before(&self, video: &[Frame], n: usize, a: &mut Assembly) -> Result<(Vec<Frame>, Vec<Frame>), ModelError> {
        let reversed: Vec<Frame> = video.iter().rev().cloned().collect();
        // Window seeds of their own, after the forward windows'.
        let mut made = self.forward_from(&reversed, n, 1 << 16, a)?;
        let mut new = made.split_off(video.len());
        new.reverse();
        made.reverse();
        Ok((new, made))
    }

    /// [`Self::extend`] forwards only.
    pub fn extend_forward(&self, video: &[Frame], n: usize) -> Result<TaskOutput, ModelError> {
        self.extend(video, n, 0)
    }

    /// [`Self::extend`] backwards only.
    pub fn extend_backward(&self, video: &[Frame], n: usize) -> Result<TaskOutput, ModelError> {
        self.extend(video, 0, n)
    }

    /// The VAE's reconstruction of `video` followed by `n` new frames, made window by window
    /// (window seeds from `first_window` on).
    ///
    /// Each window gives the DiT the last frames made so far, re-encoded from a first frame of
    /// their own as in training, and generates the next latent frames. Those continue one latent
    /// sequence that starts with the video's own latent, decoded by one streaming decoder: the
    /// causal decoder carries its past across every seam, as it does inside a clip, and each
    /// latent frame is decoded once.
    fn forward_from(
        &self,
        video: &[Frame],
        n: usize,
        first_window: u64,
        a: &mut Assembly,
    ) -> Result<Vec<Frame>, ModelError> {
        let kept = self.roundtrip(video)?;
        if n == 0 || video.is_empty() {
            return Ok(kept);
        }
        let ft = self.temporal();
        let longest = self.frames_of(self.config.window_latents.max(2));
        let (config, m) = (&self.vae.meta.config, video.len());
        // The encoder's latent of the video's longest `1 + 4k` prefix `[1, C, latents, h, w]`,
        // decoded first: the frames past the video's end come from the sequence's decode.
        let aligned = 1 + ft * ((m - 1) / ft);
        let prefix =
            self.vae.model.encode(config, VideoSample::from_frames(&video[..aligned]).tensor::<B>(&self.device))?.mean;
        let prefix_latents = prefix.dims()[2];
        // With a seam strength, the prefix's last latent frame is held back: the first window
        // re-noises it and its frames come from the window's version.
        let renoise = self.config.seam_strength > 0.0 && prefix_latents >= 2;
        let held_back = usize::from(renoise);
        // The prefix's frames are the round-trip's (`kept`): decoding them only fills the
        // decoder's past.
        let mut decoder = self.vae.model.stream_decoder();
        decoder.next(config, prefix.slice(s![.., .., ..prefix_latents - held_back, .., ..]))?;
        let mut decoded = self.frames_of(prefix_latents - held_back);
        let mut frames = kept;
        let mut chunk = first_window;
        while frames.len() - m < n {
            // The window starts on a latent frame's first pixel frame (a multiple of 4 in the
            // sequence, so its latent frames line up with the sequence's) and knows as many of
            // the last frames as leave at least one to make.
            let start = frames.len().saturating_sub(longest - 1).div_ceil(ft) * ft;
            let mut timeline: Vec<Option<Frame>> = frames[start..].iter().cloned().map(Some).collect();
            timeline.resize(longest, None);
            let (mut req, roles) = self.window_request(timeline, self.known_role(), chunk)?;
            // The window's kept latent frames are the sequence's last ones: its new ones follow.
            let first_new = roles.iter().position(|r| !r.is_kept()).unwrap_or(roles.len());
            let first_window_renoised = renoise && chunk == first_window;
            if first_window_renoised {
                debug_assert!(first_new >= 2, "the window holds a latent frame before the re-noised one");
                req.roles[first_new - 1] = FrameRole::Noised { strength: self.config.seam_strength };
            }
            let sampled = sample_latent(self.vae, self.dit, &req, &self.device)?;
            a.add_latent(&sampled);
            let from = first_new - usize::from(first_window_renoised);
            debug_assert_eq!(start / ft + from, 1 + (decoded - 1) / ft, "the latents continue the sequence");
            let new = sampled.latent.slice(s![.., .., from..roles.len(), .., ..]);
            for frame in frames_from_tensor(decoder.next(config, new)?) {
                if decoded >= m {
                    frames.push(frame);
                } else if decoded < aligned {
                    // A frame of the re-noised latent frame.
                    frames[decoded] = frame;
                }
                decoded += 1;
            }
            chunk += 1;
        }
        frames.truncate(m + n);
        Ok(frames)
    }

    /// SDEdit: the video noised to level `strength` and denoised under the prompt (0 returns the
    /// VAE reconstruction, 1 ignores the input).
    pub fn edit(&self, video: &[Frame], strength: f32) -> Result<TaskOutput, ModelError> {
        self.edit_pinned(video, strength, None)
    }

    /// SDEdit of the setting, keeping the action: like [`Self::edit`], but the tokens where
    /// something moves ([`moving_tokens`]) are pinned to the input at every level (they end as
    /// the input's latent), and the DiT redraws the rest around them. Strength 0 returns the
    /// VAE reconstruction; strength 1 keeps only what moves. A video in which everything moves
    /// (a panning camera) keeps most of itself.
    pub fn edit_keeping_motion(
        &self,
        video: &[Frame],
        strength: f32,
        mask: &MotionMaskConfig,
    ) -> Result<TaskOutput, ModelError> {
        self.edit_pinned(video, strength, Some(mask))
    }

    /// [`Self::edit`], with what moves pinned when `mask` is given.
    fn edit_pinned(
        &self,
        video: &[Frame],
        strength: f32,
        mask: Option<&MotionMaskConfig>,
    ) -> Result<TaskOutput, ModelError> {
        if !(0.0..=1.0).contains(&strength) {
            return Err(ModelError::Config {
                field: "strength",
                message: format!("{strength} is outside 0..=1 (0 keeps the video, 1 ignores it; try 0.5)"),
            });
        }
        let mut a = Assembly::default();
        let (padded, note) = pad_length(video, self.temporal(), "input video");
        a.note(note);
        let role = if strength == 0.0 { FrameRole::Given } else { FrameRole::Noised { strength } };
        let pinned = match mask {
            Some(mask) => {
                let token_px = self.vae.meta.config.spatial_factor() * self.dit.meta.model.patch;
                moving_tokens(&padded, self.temporal(), token_px, mask)
            }
            None => Vec::new(),
        };
        let (mut req, _) = self.window_request(padded.into_iter().map(Some).collect(), role, 0)?;
        req.pinned = pinned;
        let p = run_request(self.vae, self.dit, &req, &self.device)?;
        a.add(&p);
        let mut frames = p.frames;
        frames.truncate(video.len());
        Ok(a.finish(frames))
    }

    /// A clip that starts as `from` ends and ends as `to` starts: `from`'s last frame, `n` new
    /// frames (rounded up to a multiple of 4), then `to`'s first 4 frames. One window decodes
    /// them all; a causal VAE reconstructs `to`'s head poorly after other frames (a plain cut
    /// from `from`'s last frame: 8 dB below `to`'s own round trip), so the head is faded into
    /// `to`'s round trip over [`PromptingConfig::connect_fade`] frames.
    pub fn connect(&self, from: &[Frame], to: &[Frame], n: usize) -> Result<TaskOutput, ModelError> {
        let mut a = Assembly::default();
        let ft = self.temporal();
        let (Some(last), true) = (from.last(), to.len() >= ft) else {
            return Err(ModelError::Config {
                field: "to",
                message: format!("connect needs a `from` video and a `to` video of at least {ft} frames"),
            });
        };
        let new = n.max(1).div_ceil(ft) * ft;
        if new != n {
            a.note(Some(format!("{n} connecting frames rounded up to {new} (a multiple of {ft})")));
        }
        let mut timeline = vec![Some(last.clone())];
        timeline.resize(1 + new, None);
        timeline.extend(to[..ft].iter().cloned().map(Some));
        let p = self.window(timeline, self.known_role(), 0)?;
        a.add(&p);
        let mut frames = p.frames;
        let fade = self.config.connect_fade.min(ft);
        if fade > 0 {
            // B's head as its own round trip, faded in from the window's decode (which the new
            // frames continue). The causal VAE reconstructs B's first 4 frames from its first 5
            // exactly as from the whole of B.
            let mut head = self.roundtrip(&to[..to.len().min(1 + ft)])?;
            head.truncate(ft);
            let start = frames.len() - ft;
            fade_in_from(&mut head, &frames[start..], fade);
            frames.splice(start.., head);
        }
        Ok(a.finish(frames))
    }

    /// The video followed by about `n` new frames that lead from its end back to its start, as
    /// one seamless loop.
    ///
    /// The new frames are the middle of one window: the video's last frame, the new frames,
    /// a slot for each of the video's first `s = len % 4` frames (made and thrown away), then
    /// the video's next 4 frames, given. The loop (video, then new frames) is then
    /// reconstructed as it plays on repeat ([`VideoVae::periodic_roundtrip`]), its latent
    /// frames covering the video's frames as the video's own round trip does and the new frames
    /// together with the video's first `s`: every frame, the first included, is decoded after
    /// the frames before it in the loop, so the jump from the last frame back to the first is
    /// the decoder's own, like every other step. A loop's length is a multiple of 4, so `n` is
    /// rounded to the nearest count that makes it one (a note says so). The video's frames are
    /// its reconstruction as a loop, not as a clip: its first frame is no longer a picture of
    /// its own (`eval prompting --scenes 6`: 1.5–1.7 dB below the clip's round trip on average).
    ///
    /// [`VideoVae::periodic_roundtrip`]: crate::vae::VideoVae::periodic_roundtrip
    pub fn close_loop(&self, video: &[Frame], n: usize) -> Result<TaskOutput, ModelError> {
        let mut a = Assembly::default();
        let frames = self.periodic_loop(video, n, &mut a)?;
        Ok(a.finish(frames))
    }

    /// [`Self::close_loop`], returning its frames.
    fn periodic_loop(&self, video: &[Frame], n: usize, a: &mut Assembly) -> Result<Vec<Frame>, ModelError> {
        let ft = self.temporal();
        let m = video.len();
        let thrown = m % ft;
        if m < thrown + ft {
            return Err(ModelError::Config {
                field: "video",
                message: format!(
                    "closing a loop needs a video of at least {ft} frames; it has {m} (make a loop from a prompt, or animate the picture first)"
                ),
            });
        }
        // The count nearest `n` (ties upward, at least 1) that makes the loop a multiple of `ft`.
        let short = (ft - thrown) % ft;
        let below = short + n.saturating_sub(short) / ft * ft;
        let above = below + ft;
        let new = if below >= 1 && n.saturating_sub(below) < above - n { below } else { above };
        if new != n {
            a.note(Some(format!(
                "{n} frames leading back to the start rounded to {new} (the loop's length, {}, must be a multiple of {ft})",
                m + new
            )));
        }
        let mut timeline = vec![Some(video[m - 1].clone())];
        timeline.resize(1 + new + thrown, None);
        timeline.extend(video[thrown..thrown + ft].iter().cloned().map(Some));
        let p = self.window(timeline, self.known_role(), 0)?;
        a.add(&p);
        // The loop from the video's frame `thrown` on, so that its latent frames cover the
        // video's frames as the video's own round trip does, and the new frames share one with
        // the video's first `thrown` frames; turned back to start at the video's first frame.
        let mut cycle = video[thrown..].to_vec();
        cycle.extend(p.frames[1..1 + new].iter().cloned());
        cycle.extend(video[..thrown].iter().cloned());
        let mut out = self.vae.model.periodic_roundtrip(&self.vae.meta.config, &cycle, &self.device)?;
        out.rotate_right(thrown);
        Ok(out)
    }

    /// A seamless loop from the prompt: a clip, closed by [`Self::close_loop`] with 3 new
    /// frames. `frames` is rounded up to a multiple of 4 (a loop's length), at least 8.
    pub fn loop_from_prompt(&self, frames: usize, width: usize, height: usize) -> Result<TaskOutput, ModelError> {
        let ft = self.temporal();
        let shortest = 2 * ft;
        if frames < shortest {
            return Err(ModelError::InvalidSize {
                field: "frames",
                got: frames,
                reason: format!("a loop from a prompt needs at least {shortest} frames"),
                nearest: shortest,
            });
        }
        let mut a = Assembly::default();
        let length = frames.div_ceil(ft) * ft;
        if length != frames {
            a.note(Some(format!("{frames} frames rounded up to {length} (a loop's length is a multiple of {ft})")));
        }
        let base = self.generated(length - (ft - 1), width, height)?;
        a.add(&base);
        let out = self.periodic_loop(&base.frames, ft - 1, &mut a)?;
        Ok(a.finish(out))
    }
}
