//! The causal video VAE ("video compression network"): causal convolutions pad only the past,
//! time is downsampled with the first frame on its own (`1 + ft·k` frames ⇄ `1 + k` latent
//! frames; an image is one latent frame), and decoding can stream one latent frame at a time.

pub mod blocks;
pub mod causal_conv;
pub mod config;
pub mod decoder;
pub mod encoder;
pub mod model;
pub mod train;
pub mod weights;

pub use config::VaeConfig;
pub use model::{LatentDist, LatentStats, StreamDecoder, VideoVae};
