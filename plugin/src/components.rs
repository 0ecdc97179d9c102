//! The components of a stream entity: the stream itself ([`WorldStream`]: size, fps, seed and
//! the images that show it), what steers it ([`StreamPrompt`], [`StreamAction`]) and what it
//! reports ([`StreamStats`]). Changing `StreamPrompt` or `StreamAction` steers that stream from
//! its next generated frame on.

use bevy::asset::RenderAssetUsages;
use bevy::image::ImageSampler;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use worldsim_scenes::Frame;

/// A live generated video. Spawn it (with a [`StreamPrompt`], and a [`StreamAction`] to steer
/// it) and display [`WorldStream::image`] with any sprite, material or UI node. Size, fps, seed,
/// buffer and start picture are read when the stream opens: after changing them, write a
/// [`crate::ResetStream`] to restart the stream with them.
#[derive(Component, Clone, Debug)]
#[require(StreamPrompt, StreamAction, StreamStats)]
pub struct WorldStream {
    /// Width in pixels (a multiple of 8 for the shipped model).
    pub width: u32,
    /// Height in pixels (a multiple of 8 for the shipped model).
    pub height: u32,
    /// Frames shown per second (the shipped model was trained on 12 fps clips).
    pub fps: f32,
    /// Seed of the stream's noise: same seed, prompt and actions ⇒ same video.
    pub seed: u64,
    /// Video frames the worker may generate ahead of the display (at least one latent step,
    /// 4 frames). More smooths out slow steps; fewer keeps actions responsive.
    pub buffer_frames: u32,
    /// The frame on screen.
    pub image: Handle<Image>,
    /// The frame before it (for [`crate::StreamMaterial`]'s blending).
    pub previous: Handle<Image>,
    /// A picture (of the stream's size) to start from instead of generating the first frame:
    /// the game's own first screen, or a scene's first frame. The model then continues it.
    pub start: Option<Frame>,
}

impl WorldStream {
    /// A stream of `width × height` at 12 fps with seed 0, its two images created in `images`
    /// (grey until the first frame arrives).
    pub fn new(width: u32, height: u32, images: &mut Assets<Image>) -> Self {
        WorldStream {
            width,
            height,
            fps: 12.0,
            seed: 0,
            buffer_frames: 4,
            image: images.add(blank_image(width, height)),
            previous: images.add(blank_image(width, height)),
            start: None,
        }
    }

    /// The same stream, starting from `picture` (RGB, the stream's size; resize it with
    /// `worldsim_model::prompting::fit` first if needed).
    pub fn starting_from(mut self, picture: Frame) -> Self {
        self.start = Some(picture);
        self
    }

    /// The same stream with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same stream shown at `fps` frames per second.
    pub fn with_fps(mut self, fps: f32) -> Self {
        self.fps = fps;
        self
    }
}

/// An RGBA8 image of the stream's size, mid grey, sampled linearly (the display shader keeps
/// upscaled pixels crisp itself).
pub fn blank_image(width: u32, height: u32) -> Image {
    let mut image = Image::new_fill(
        Extent3d { width: width.max(1), height: height.max(1), depth_or_array_layers: 1 },
        TextureDimension::D2,
        &[96, 96, 96, 255],
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::MAIN_WORLD | RenderAssetUsages::RENDER_WORLD,
    );
    image.sampler = ImageSampler::linear();
    image
}

/// What the stream shows: a short prompt ("red ball bouncing on snow") or a caption.
#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub struct StreamPrompt(pub String);

impl Default for StreamPrompt {
    fn default() -> Self {
        StreamPrompt("a blue player walking on grass on a sunny day".into())
    }
}

/// The action caption in force ("the player jumps"), or none. Game code and key bindings set
/// it; [`worldsim_scenes::captions::action_caption`] names the ones the shipped model knows.
#[derive(Component, Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamAction(pub Option<String>);

impl StreamAction {
    /// The caption of a player command of the ground-truth world.
    pub fn player(action: worldsim_scenes::scene::Action) -> Self {
        StreamAction(Some(worldsim_scenes::captions::action_caption(action).to_string()))
    }
}

/// Where a stream is in its life.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum StreamStatus {
    /// Waiting for the model to load or the first frame.
    #[default]
    Starting,
    /// Frames are arriving.
    Running,
    /// Stopped by an error (the message says why); reset it to try again.
    Stopped(String),
}

/// What a stream measures about itself, updated every frame.
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct StreamStats {
    /// Where the stream is in its life.
    pub status: StreamStatus,
    /// Video frames generated per second by the model (recent average).
    pub model_fps: f32,
    /// Video frames shown per second (recent average).
    pub display_fps: f32,
    /// Milliseconds from the last prompt or action change to the first frame made under it on
    /// screen.
    pub latency_ms: f32,
    /// Frames generated and waiting to be shown.
    pub queued: usize,
    /// Times a frame was due but none had arrived (generation did not keep up).
    pub starved: u64,
    /// Frames shown so far.
    pub shown: u64,
    /// Frames generated so far.
    pub generated: u64,
    /// Milliseconds of the last step: denoising, cache commit, VAE decode.
    pub step_ms: [f32; 3],
    /// The caption the prompt expanded to.
    pub caption: String,
    /// Words of the prompt and action the model does not know.
    pub unknown_words: Vec<String>,
}
