//! The prompting tasks of the Sora report, each as the pixel timelines it samples and how their
//! frames are assembled: animate an image, extend a video forwards or backwards (window by
//! window, so repeated use keeps going), close a video into a loop or make a loop from a
//! prompt, edit a video (SDEdit), and connect two videos. Windows never exceed the clip length
//! the model was trained on; inputs keep their VAE reconstruction.

use burn::prelude::*;
use worldsim_scenes::Frame;
use worldsim_scenes::rng::mix64;

use super::fit::pad_length;
use super::pipeline::{PromptRequest, Prompted, SamplingSettings, run_request};
use super::roles::{FrameRole, roles_from_known};
use crate::dit::weights::LoadedDenoiser;
use crate::error::ModelError;
use crate::vae::weights::LoadedVae;

/// How the tasks cut their work into windows.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptingConfig {
    /// Longest window sampled at once, in latent frames (the longest clips the model was trained
    /// on: longer windows are out of its distribution).
    pub window_latents: usize,
    /// Level that a latent frame straddling known and unknown pixel frames is re-noised to.
    pub partial_strength: f32,
}

impl Default for PromptingConfig {
    fn default() -> Self {
        PromptingConfig { window_latents: 3, partial_strength: 0.7 }
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
        self.caption.get_or_insert_with(|| (p.caption.clone(), p.unknown.clone()));
        self.network_calls += p.network_calls;
    }

    fn finish(self, frames: Vec<Frame>) -> TaskOutput {
        let (caption, unknown) = self.caption.unwrap_or_default();
        TaskOutput { frames, caption, unknown, notes: self.notes, network_calls: self.network_calls }
    }
}

impl<B: Backend> Prompter<'_, B> {
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
        let first = frames.iter().flatten().next().ok_or(ModelError::Config {
            field: "frames",
            message: "a prompting window needs at least one known frame".into(),
        })?;
        let (width, height) = (first.width as usize, first.height as usize);
        let known: Vec<bool> = frames.iter().map(Option::is_some).collect();
        let roles = roles_from_known(&known, self.temporal(), known_role, self.config.partial_strength);
        let mut settings = self.settings.clone();
        settings.seed = if window == 0 { settings.seed } else { mix64(settings.seed ^ mix64(window)) };
        run_request(self.vae, self.dit, &PromptRequest { width, height, frames, roles, settings }, &self.device)
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
        let out = self.roundtrip(video)?;
        let out = self.forward_from(out, forward, &mut a)?;
        let out = self.backward_from(out, backward, &mut a)?;
        Ok(a.finish(out))
    }

    /// [`Self::extend`] forwards only.
    pub fn extend_forward(&self, video: &[Frame], n: usize) -> Result<TaskOutput, ModelError> {
        self.extend(video, n, 0)
    }

    /// [`Self::extend`] backwards only.
    pub fn extend_backward(&self, video: &[Frame], n: usize) -> Result<TaskOutput, ModelError> {
        self.extend(video, 0, n)
    }

    /// `out` followed by `n` new frames, made window by window: each window is the last frames
    /// made so far (given) and the next frames (generated).
    fn forward_from(&self, mut out: Vec<Frame>, n: usize, a: &mut Assembly) -> Result<Vec<Frame>, ModelError> {
        let ft = self.temporal();
        let window = self.config.window_latents.max(2);
        let start = out.len();
        let mut chunk = 0;
        while out.len() - start < n {
            // The longest `1 + 4j` context that leaves at least one latent frame to generate.
            let context = (0..window - 1).rev().map(|j| 1 + ft * j).find(|c| *c <= out.len()).unwrap_or(1);
            let new = self.frames_of(window) - context;
            let mut timeline: Vec<Option<Frame>> = out[out.len() - context..].iter().cloned().map(Some).collect();
            timeline.resize(context + new, None);
            let p = self.window(timeline, FrameRole::Given, chunk)?;
            a.add(&p);
            let take = new.min(n - (out.len() - start));
            out.extend(p.frames[context..context + take].iter().cloned());
            chunk += 1;
        }
        Ok(out)
    }

    /// `n` new frames followed by `out`, made window by window backwards: each window is new
    /// frames (generated) then the first frames made so far (given).
    fn backward_from(&self, mut out: Vec<Frame>, n: usize, a: &mut Assembly) -> Result<Vec<Frame>, ModelError> {
        let ft = self.temporal();
        let window = self.config.window_latents.max(2);
        let mut made = 0;
        // Window seeds continue after the forward windows'.
        let mut chunk = 1 << 16;
        while made < n {
            // Given: whole latent groups of 4 when the video has them (no straddling frame).
            let context = (ft * (window - 2)).max(ft).min(out.len());
            let most = self.frames_of(window) - context;
            // New frames u with u + context = 1 + 4k: the fewest, grown while the window allows
            // and more are wanted.
            let mut new = (1 + ft - context % ft) % ft;
            if new == 0 {
                new = ft;
            }
            while new + ft <= most && new < n - made {
                new += ft;
            }
            let mut timeline: Vec<Option<Frame>> = vec![None; new];
            timeline.extend(out[..context].iter().cloned().map(Some));
            let p = self.window(timeline, FrameRole::Given, chunk)?;
            a.add(&p);
            let take = new.min(n - made);
            let mut frames = p.frames[new - take..new].to_vec();
            frames.extend(out);
            out = frames;
            made += take;
            chunk += 1;
        }
        Ok(out)
    }

    /// SDEdit: the video noised to level `strength` and denoised under the prompt (0 returns the
    /// VAE reconstruction, 1 ignores the input).
    pub fn edit(&self, video: &[Frame], strength: f32) -> Result<TaskOutput, ModelError> {
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
        let p = self.window(padded.into_iter().map(Some).collect(), role, 0)?;
        a.add(&p);
        let mut frames = p.frames;
        frames.truncate(video.len());
        Ok(a.finish(frames))
    }

    /// A clip that starts as `from` ends and ends as `to` starts: `from`'s last frame, `n` new
    /// frames (rounded up to a multiple of 4), then `to`'s first 4 frames.
    pub fn connect(&self, from: &[Frame], to: &[Frame], n: usize) -> Result<TaskOutput, ModelError> {
        let mut a = Assembly::default();
        let (frames, _) = self.bridge(from, to, n, &mut a)?;
        Ok(a.finish(frames))
    }

    /// The window of [`Self::connect`]; returns its frames and how many are new.
    fn bridge(
        &self,
        from: &[Frame],
        to: &[Frame],
        n: usize,
        a: &mut Assembly,
    ) -> Result<(Vec<Frame>, usize), ModelError> {
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
        let p = self.window(timeline, FrameRole::Given, 0)?;
        a.add(&p);
        Ok((p.frames, new))
    }

    /// The video (reconstructed) followed by `n` frames (a multiple of 4) that lead from its end
    /// back to its start, so that it plays as a seamless loop.
    pub fn close_loop(&self, video: &[Frame], n: usize) -> Result<TaskOutput, ModelError> {
        let mut a = Assembly::default();
        let mut out = self.roundtrip(video)?;
        let (bridge, new) = self.bridge(video, video, n, &mut a)?;
        out.extend(bridge[1..1 + new].iter().cloned());
        Ok(a.finish(out))
    }

    /// A seamless loop of `frames` frames (`1 + 4k`, at least 9) from the prompt: a clip of
    /// `frames − 4` frames, then 4 frames leading back to its start.
    pub fn loop_from_prompt(&self, frames: usize, width: usize, height: usize) -> Result<TaskOutput, ModelError> {
        let ft = self.temporal();
        let shortest = 1 + 2 * ft;
        if frames < shortest {
            return Err(ModelError::InvalidSize {
                field: "frames",
                got: frames,
                reason: format!("a loop from a prompt needs at least {shortest} frames"),
                nearest: shortest,
            });
        }
        let mut a = Assembly::default();
        let base = self.generated(frames - ft, width, height)?;
        a.add(&base);
        let mut out = base.frames;
        let (bridge, new) = self.bridge(&out, &out, ft, &mut a)?;
        out.extend(bridge[1..1 + new].iter().cloned());
        Ok(a.finish(out))
    }
}
