//! Teacher-forced action following: does the DiT's prediction of a latent frame depend on that
//! frame's action caption the way the world does? A clip whose player obeyed a command in its
//! last latent frame is given (its earlier latent frames at a small noise level, as a stream's
//! context), its last latent frame is noised, and the denoising loss on the player's tokens of
//! that frame is measured with each candidate action caption in place of its own, on the same
//! noise. A DiT that reads the caption has its lowest loss under the command the world obeyed;
//! one that ignores it has the same loss under all. Costs one forward per candidate, level and
//! draw — seconds for what `eval stream` needs minutes to show in rollouts.

use burn::prelude::*;
use worldsim_scenes::rng::{Rng, mix64};

use super::denoiser::{Denoiser, NoisySample};
use super::layout::AttentionMode;
use super::train::LatentSample;
use crate::diffusion::flow::normal;
use crate::error::ModelError;
use crate::text::Tokenizer;

/// How the probe noises a clip.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionProbe {
    /// Noise levels of the last latent frame (each one case per draw).
    pub levels: Vec<f32>,
    /// Noise draws per level.
    pub draws: u64,
    /// Noise level of the earlier latent frames (the context).
    pub context_level: f32,
    /// Attention of the forward: frame-causal (a stream's) or bidirectional.
    pub mode: AttentionMode,
}

impl Default for ActionProbe {
    fn default() -> Self {
        ActionProbe { levels: vec![0.5, 0.8], draws: 3, context_level: 0.02, mode: AttentionMode::FrameCausal }
    }
}

impl ActionProbe {
    /// Mean squared velocity error on the focus tokens (the player's) of `sample`'s last latent
    /// frame, for each case (level-major, then draw) and each of `candidates` as that frame's
    /// action caption: `[levels · draws][candidates]`. The other frames keep their own action
    /// captions. `sample` needs at least two latent frames and focus tokens in its last one.
    pub fn losses<B: Backend>(
        &self,
        denoiser: &Denoiser<B>,
        tokenizer: &Tokenizer,
        sample: &LatentSample,
        candidates: &[&str],
        device: &B::Device,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let frames = sample.frames;
        if frames < 2 {
            return Err(ModelError::Config {
                field: "frames",
                message: "the probe needs a clip of at least two latent frames (5 video frames)".into(),
            });
        }
        let n = sample.focus.len();
        if n == 0 || !sample.tokens.len().is_multiple_of(n) {
            return Err(ModelError::Config {
                field: "focus",
                message: "the probe needs the clip's object tokens (build it with focus)".into(),
            });
        }
        let td = sample.tokens.len() / n;
        let per_frame = n / frames;
        let last = (frames - 1) * per_frame..n;
        let weight: f32 = sample.focus[last.clone()].iter().sum();
        if weight <= 0.0 {
            return Err(ModelError::Config {
                field: "focus",
                message: "no object is in the clip's last latent frame; put the player in view".into(),
            });
        }
        let caption = tokenizer.encode(&sample.caption)?;
        let mut actions = Vec::with_capacity(frames);
        for a in &sample.actions {
            actions.push(Some(tokenizer.encode(a)?));
        }
        let mut candidate_tokens = Vec::with_capacity(candidates.len());
        for c in candidates {
            candidate_tokens.push(tokenizer.encode(c)?);
        }
        let mut out = Vec::with_capacity(self.levels.len() * self.draws as usize);
        for &level in &self.levels {
            for draw in 0..self.draws {
                let mut rng = Rng::new(mix64(draw.wrapping_add(1)));
                let eps: Vec<f32> = (0..sample.tokens.len()).map(|_| normal(&mut rng)).collect();
                let mut noise = vec![self.context_level; frames];
                noise[frames - 1] = level;
                let noisy: Vec<f32> = sample
                    .tokens
                    .iter()
                    .zip(&eps)
                    .enumerate()
                    .map(|(i, (x0, e))| {
                        let t = noise[i / td / per_frame];
                        (1.0 - t) * x0 + t * e
                    })
                    .collect();
                let batch: Vec<NoisySample<B>> = candidate_tokens
                    .iter()
                    .map(|c| {
                        let mut actions = actions.clone();
                        actions[frames - 1] = Some(c.clone());
                        NoisySample {
                            frames,
                            grid: sample.grid,
                            tokens: Tensor::<B, 1>::from_floats(noisy.as_slice(), device).reshape([n, td]),
                            noise: noise.clone(),
                            caption: caption.clone(),
                            actions,
                        }
                    })
                    .collect();
                let predicted = denoiser.predict(&batch, self.mode, n, device); // each [n, td]
                let mut row = Vec::with_capacity(candidates.len());
                for v in predicted {
                    let v = v.into_data().to_vec::<f32>().unwrap_or_default();
                    let mut sum = 0.0f64;
                    for tok in last.clone() {
                        let err: f32 = (0..td)
                            .map(|j| {
                                let i = tok * td + j;
                                let d = v.get(i).copied().unwrap_or(0.0) - (eps[i] - sample.tokens[i]);
                                d * d
                            })
                            .sum();
                        sum += f64::from(sample.focus[tok] * err / td as f32);
                    }
                    row.push((sum / f64::from(weight)) as f32);
                }
                out.push(row);
            }
        }
        Ok(out)
    }
}
