//! The video VAE: encode a clip (or an image, a one-frame clip) to latents, decode latents back,
//! all at once or one latent frame at a time.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use super::blocks::ChunkCache;
use super::config::VaeConfig;
use super::decoder::Decoder;
use super::encoder::Encoder;
use worldsim_scenes::Frame;

use crate::error::ModelError;
use crate::video::{VideoSample, frames_from_tensor};

/// Frames of a cyclic video played before the period [`VideoVae::periodic_roundtrip`] returns:
/// the shipped VAE's periods then differ from the one before by at most one level of 255
/// (after 32 frames by 1–2 levels, after 16 by 6–9), so the returned period no longer depends
/// on how the clip began (`the_periodic_roundtrip_of_a_loop_is_its_steady_state` in
/// `model/tests/shipped.rs`).
pub const PERIODIC_WARMUP: usize = 64;

/// The causal video VAE.
#[derive(Module, Debug)]
pub struct VideoVae<B: Backend> {
    encoder: Encoder<B>,
    decoder: Decoder<B>,
}

/// A latent distribution: the encoder's mean and log-variance.
#[derive(Debug, Clone)]
pub struct LatentDist<B: Backend> {
    /// `[batch, latent_channels, t', h', w']`
    pub mean: Tensor<B, 5>,
    /// `[batch, latent_channels, t', h', w']`
    pub log_var: Tensor<B, 5>,
}

impl<B: Backend> LatentDist<B> {
    /// A sample `mean + σ·ε` with `ε` from the backend's random generator.
    ///
    /// # Shapes
    /// - output `[batch, latent_channels, t', h', w']`
    pub fn sample(&self) -> Tensor<B, 5> {
        let eps = Tensor::random(self.mean.shape(), Distribution::Normal(0.0, 1.0), &self.mean.device());
        self.sample_with(eps)
    }

    /// A sample `mean + σ·ε` with the given standard normal noise (reproducible training).
    ///
    /// # Shapes
    /// - `eps` and output `[batch, latent_channels, t', h', w']`
    pub fn sample_with(&self, eps: Tensor<B, 5>) -> Tensor<B, 5> {
        self.mean.clone() + (self.log_var.clone() * 0.5).exp() * eps
    }

    /// KL divergence to the standard normal, averaged over every element.
    ///
    /// # Shapes
    /// - output `[1]`
    pub fn kl(&self) -> Tensor<B, 1> {
        let var = self.log_var.clone().exp();
        ((self.mean.clone().powi_scalar(2) + var - self.log_var.clone() - 1.0) * 0.5).mean()
    }
}

/// Per-channel latent statistics measured on data: the diffusion model sees
/// `(z - mean) / std`, which has roughly unit variance per channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatentStats {
    /// Mean per latent channel.
    pub mean: Vec<f32>,
    /// Standard deviation per latent channel.
    pub std: Vec<f32>,
}

impl LatentStats {
    /// The identity (mean 0, std 1) for `channels` channels.
    pub fn identity(channels: usize) -> Self {
        LatentStats { mean: vec![0.0; channels], std: vec![1.0; channels] }
    }

    fn tensors<B: Backend>(&self, device: &B::Device) -> (Tensor<B, 5>, Tensor<B, 5>) {
        let c = self.mean.len();
        let mean = Tensor::<B, 1>::from_floats(self.mean.as_slice(), device).reshape([1, c, 1, 1, 1]);
        let std = Tensor::<B, 1>::from_floats(self.std.as_slice(), device).reshape([1, c, 1, 1, 1]);
        (mean, std)
    }

    /// `(z - mean) / std`.
    ///
    /// # Shapes
    /// - input and output `[batch, latent_channels, t', h', w']`
    pub fn normalize<B: Backend>(&self, z: Tensor<B, 5>) -> Tensor<B, 5> {
        let (mean, std) = self.tensors(&z.device());
        (z - mean) / std
    }

    /// `z · std + mean`, the inverse of [`LatentStats::normalize`].
    ///
    /// # Shapes
    /// - input and output `[batch, latent_channels, t', h', w']`
    pub fn denormalize<B: Backend>(&self, z: Tensor<B, 5>) -> Tensor<B, 5> {
        let (mean, std) = self.tensors(&z.device());
        z * std + mean
    }
}

impl VaeConfig {
    /// Builds a VAE with fresh weights. The configuration must pass [`VaeConfig::validate`]
    /// (presets do); check configurations read from files first.
    pub fn init<B: Backend>(&self, device: &B::Device) -> VideoVae<B> {
        VideoVae { encoder: Encoder::new(self, device), decoder: Decoder::new(self, device) }
    }
}

impl<B: Backend> VideoVae<B> {
    /// This VAE grown to `config`, which must [grow from](VaeConfig::grows_from) this model's
    /// own: a deeper decoder, more latent channels, or both. It encodes and decodes exactly as
    /// before until it is trained: the encoder's latent channels are its first channels, the
    /// new ones are ignored by the decoder at first. A decoder-only fine-tune then adds capacity
    /// without moving the latent space a DiT was trained on.
    pub fn grown(self, config: &VaeConfig, device: &B::Device) -> Self {
        VideoVae { encoder: self.encoder.widened(config, device), decoder: self.decoder.grown(config, device) }
    }

    /// This VAE with the first `kept` latent channels of its encoder set back to `source`'s
    /// (same architecture); with a [frozen trunk](Self::encode_features) they then stay exactly
    /// `source`'s latent while the other channels train.
    pub fn with_latent_kept_from(self, source: &VideoVae<B>, kept: usize) -> Self {
        VideoVae { encoder: self.encoder.with_latent_kept_from(&source.encoder, kept), ..self }
    }

    /// Encodes a video (or an image: one frame) after checking its size against `config`.
    ///
    /// # Shapes
    /// - input `[batch, image_channels, 1 + ft·k, h, w]`, values in `[-1, 1]`
    /// - output mean and log-variance `[batch, latent_channels, 1 + k, h / fs, w / fs]`
    pub fn encode(&self, config: &VaeConfig, video: Tensor<B, 5>) -> Result<LatentDist<B>, ModelError> {
        Ok(self.latent_of_features(self.encode_features(config, video)?))
    }

    /// The encoder's trunk alone (all but its last conv), after checking the video's size: with
    /// [`VideoVae::latent_of_features`], [`VideoVae::encode`] in two parts, so training can keep
    /// the trunk out of the autodiff graph while the last conv learns.
    ///
    /// # Shapes
    /// - input `[batch, image_channels, 1 + ft·k, h, w]`, values in `[-1, 1]`
    /// - output `[batch, channels.last, 1 + k, h / fs, w / fs]`
    pub fn encode_features(&self, config: &VaeConfig, video: Tensor<B, 5>) -> Result<Tensor<B, 5>, ModelError> {
        let [_, c, t, h, w] = video.dims();
        if c != config.image_channels {
            return Err(ModelError::InvalidSize {
                field: "channels",
                got: c,
                reason: "the model's colour channels differ".into(),
                nearest: config.image_channels,
            });
        }
        config.check_video(t, h, w)?;
        Ok(self.encoder.features(video))
    }

    /// The latent distribution the encoder's last conv makes of its trunk's features.
    ///
    /// # Shapes
    /// - input `[batch, channels.last, t', h', w']`
    /// - output mean and log-variance `[batch, latent_channels, t', h', w']`
    pub fn latent_of_features(&self, features: Tensor<B, 5>) -> LatentDist<B> {
        let out = self.encoder.head(features);
        let parts = out.chunk(2, 1);
        let mut it = parts.into_iter();
        match (it.next(), it.next()) {
            (Some(mean), Some(log_var)) => LatentDist { mean, log_var: log_var.clamp(-30.0, 20.0) },
            _ => unreachable!("the encoder outputs 2 · latent_channels channels"),
        }
    }

    /// Decodes a whole latent clip.
    ///
    /// # Shapes
    /// - input `[batch, latent_channels, 1 + k, h', w']`
    /// - output `[batch, image_channels, 1 + ft·k, h'·fs, w'·fs]`
    pub fn decode(&self, config: &VaeConfig, z: Tensor<B, 5>) -> Result<Tensor<B, 5>, ModelError> {
        check_latent(config, &z)?;
        Ok(self.decoder.forward_chunk(z, &mut ChunkCache::default()))
    }

    /// Encodes (latent mean) and decodes RGB frames of a valid size and length: the model's
    /// reconstruction of them.
    pub fn roundtrip(
        &self,
        config: &VaeConfig,
        frames: &[Frame],
        device: &B::Device,
    ) -> Result<Vec<Frame>, ModelError> {
        let x = VideoSample::from_frames(frames).tensor::<B>(device);
        let z = self.encode(config, x)?.mean;
        Ok(frames_from_tensor(self.decode(config, z)?))
    }

    /// The steady-state reconstruction of a cyclic video: `cycle` played on repeat (its last
    /// frame followed by its first), encoded and decoded as one clip long enough that the
    /// causal encoder's and decoder's past is the cycle itself, and its last period returned.
    /// Every frame is then decoded as a video frame after the frames before it in the cycle, the
    /// last one included, so the jump from the last frame back to the first is the decoder's own
    /// (a clip's round trip decodes its first frame alone, from a latent frame of its own, and
    /// its last frame without it). `cycle.len()` must be a multiple of the temporal factor, so
    /// that every period's latent frames cover the same frames.
    pub fn periodic_roundtrip(
        &self,
        config: &VaeConfig,
        cycle: &[Frame],
        device: &B::Device,
    ) -> Result<Vec<Frame>, ModelError> {
        let ft = config.temporal_factor();
        let period = cycle.len();
        ModelError::check_multiple(
            "frames",
            period,
            ft,
            format!("a loop's period must be a multiple of the VAE's temporal factor ({ft})"),
        )?;
        // The clip: the cycle's last frame (a first frame of its own), then the cycle on repeat,
        // for at least `PERIODIC_WARMUP` frames before the period returned.
        let repeats = 1 + PERIODIC_WARMUP.div_ceil(period);
        let mut clip = Vec::with_capacity(1 + repeats * period);
        clip.push(cycle[period - 1].clone());
        for _ in 0..repeats {
            clip.extend_from_slice(cycle);
        }
        let mut out = self.roundtrip(config, &clip, device)?;
        Ok(out.split_off(out.len() - period))
    }

    /// Decodes the next latent frames of a clip whose earlier frames went through `cache` (a
    /// fresh cache: the clip's first chunk). [`StreamDecoder`] wraps this for borrowers; owners
    /// of a long-lived stream keep the cache themselves.
    ///
    /// # Shapes
    /// - input `[batch, latent_channels, n, h', w']`
    /// - output `[batch, image_channels, ft·n, h'·fs, w'·fs]`, one frame fewer for the first chunk
    pub fn decode_chunk(
        &self,
        config: &VaeConfig,
        z: Tensor<B, 5>,
        cache: &mut ChunkCache<B>,
    ) -> Result<Tensor<B, 5>, ModelError> {
        check_latent(config, &z)?;
        Ok(self.decoder.forward_chunk(z, cache))
    }

    /// A streaming decoder: feed latent frames one (or a few) at a time and get their video
    /// frames as soon as they exist; identical to [`VideoVae::decode`] of the whole clip.
    pub fn stream_decoder(&self) -> StreamDecoder<'_, B> {
        StreamDecoder { vae: self, cache: ChunkCache::default() }
    }
}

fn check_latent<B: Backend>(config: &VaeConfig, z: &Tensor<B, 5>) -> Result<(), ModelError> {
    let c = z.dims()[1];
    if c != config.latent_channels {
        return Err(ModelError::LatentShape { field: "channels", got: c, expected: config.latent_channels });
    }
    Ok(())
}

/// Decodes a latent clip chunk by chunk, carrying the causal convolutions' past.
#[derive(Debug)]
pub struct StreamDecoder<'a, B: Backend> {
    vae: &'a VideoVae<B>,
    cache: ChunkCache<B>,
}

impl<B: Backend> StreamDecoder<'_, B> {
    /// Decodes the next latent frames.
    ///
    /// # Shapes
    /// - input `[batch, latent_channels, n, h', w']`
    /// - output `[batch, image_channels, ft·n, h'·fs, w'·fs]`, one frame fewer for the first chunk
    pub fn next(&mut self, config: &VaeConfig, z: Tensor<B, 5>) -> Result<Tensor<B, 5>, ModelError> {
        self.vae.decode_chunk(config, z, &mut self.cache)
    }
}
