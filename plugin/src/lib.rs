//! # bevy_worldsim
//!
//! worldsim's diffusion world simulator as live video streams in Bevy. Add [`WorldSimPlugin`],
//! spawn a [`WorldStream`] with a [`StreamPrompt`] (and a [`StreamAction`] to steer it), and
//! show its `image` with any sprite, UI node or the crisp, blending [`StreamMaterial`]. A worker
//! thread owns the model; systems only send requests and receive frames, so no frame ever waits
//! for it. Changing a stream's prompt or action steers it from its next generated frame.
//!
//! ```no_run
//! use bevy::prelude::*;
//! use bevy_worldsim::{StreamAction, StreamPrompt, WorldSimPlugin, WorldStream};
//!
//! fn main() {
//!     App::new()
//!         .add_plugins((DefaultPlugins, WorldSimPlugin::default()))
//!         .add_systems(Startup, setup)
//!         .run();
//! }
//!
//! fn setup(mut commands: Commands, mut images: ResMut<Assets<Image>>) {
//!     commands.spawn(Camera2d);
//!     let stream = WorldStream::new(64, 64, &mut images);
//!     commands.spawn((
//!         Sprite { image: stream.image.clone(), custom_size: Some(Vec2::splat(512.0)), ..default() },
//!         stream,
//!         StreamPrompt("a blue player on snow at night".into()),
//!         StreamAction(Some("the player moves right".into())),
//!     ));
//! }
//! ```
//!
//! Settings come in three tiers: [`WorldSimPlugin`] fields (model folder, device, how streams
//! keep their past), the [`WorldSimSettings`] resource (steps, guidance, pause) and the
//! per-stream components. Systems run in [`WorldSimSystems`] sets; the plugin writes
//! [`StreamFrameReady`], [`WorldSimError`] and [`ModelLoaded`] messages and reads
//! [`ResetStream`]. Scene files load as [`WorldScene`] assets and play with a [`ScenePlayer`].
#![warn(missing_docs)]

pub mod bridge;
pub mod components;
pub mod display;
pub mod frame;
pub mod keyboard;
pub mod messages;
#[cfg(feature = "egui")]
pub mod panel;
pub mod playback;
pub mod scene_asset;
pub mod settings;
pub mod worker;

use std::path::PathBuf;

use bevy::prelude::*;
pub use worldsim_model::stream::{ComputeDevice, StreamConfig};

pub use bridge::WorkerLink;
pub use components::{StreamAction, StreamPrompt, StreamStats, StreamStatus, WorldStream};
pub use display::{StreamMaterial, StreamView};
pub use frame::StreamFrame;
pub use keyboard::ActionKeys;
pub use messages::{ModelLoaded, ResetStream, StreamFrameReady, WorldSimError};
#[cfg(feature = "egui")]
pub use panel::WorldSimPanelPlugin;
pub use scene_asset::{ScenePlayer, WorldScene, WorldSceneLoader};
pub use settings::WorldSimSettings;

/// The plugin, with its build-time settings.
#[derive(Clone, Debug)]
pub struct WorldSimPlugin {
    /// The model folder (`vae.json`, `dit.json` and weights); the shipped model by default.
    pub model_path: PathBuf,
    /// Where the model runs (GPU backends when compiled in with the `wgpu` / `cuda` features).
    pub device: ComputeDevice,
    /// How streams keep their past (context window, context noise).
    pub stream: StreamConfig,
}

impl Default for WorldSimPlugin {
    fn default() -> Self {
        WorldSimPlugin {
            model_path: worldsim_model::weights::shipped_model_dir(),
            device: ComputeDevice::Cpu,
            stream: StreamConfig::default(),
        }
    }
}

/// The plugin's systems, in this order in `Update`; order your own systems around them.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorldSimSystems {
    /// Keyboard actions and scene timelines update streams' prompts and actions.
    Input,
    /// New, reset and removed streams, and prompt/action/settings changes, go to the worker.
    Control,
    /// The worker's replies become queued frames, stats and messages.
    Receive,
    /// Due frames are uploaded into the streams' images (and display materials blend).
    Display,
}

impl Plugin for WorldSimPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<WorldSimSettings>()
            .add_message::<StreamFrameReady>()
            .add_message::<WorldSimError>()
            .add_message::<ModelLoaded>()
            .add_message::<ResetStream>()
            .init_asset::<WorldScene>()
            .register_asset_loader(WorldSceneLoader);
        let link = match worker::WorkerHandle::spawn(self.model_path.clone(), self.device, self.stream.clone()) {
            Ok(handle) => WorkerLink::new(handle),
            Err(e) => {
                error!("worldsim: cannot start the worker thread: {e}");
                WorkerLink::dead()
            }
        };
        app.insert_resource(link)
            .configure_sets(
                Update,
                (WorldSimSystems::Input, WorldSimSystems::Control, WorldSimSystems::Receive, WorldSimSystems::Display)
                    .chain(),
            )
            .add_systems(
                Update,
                (
                    (keyboard::keys_to_actions, scene_asset::play_scenes, scene_asset::report_scene_errors)
                        .in_set(WorldSimSystems::Input),
                    (bridge::open_and_close_streams, bridge::steer_streams).chain().in_set(WorldSimSystems::Control),
                    bridge::receive_replies.in_set(WorldSimSystems::Receive),
                    bridge::show_frames.in_set(WorldSimSystems::Display),
                ),
            );
        if app.is_plugin_added::<bevy::sprite_render::SpriteRenderPlugin>() {
            display::add_display(app);
            app.add_systems(Update, display::update_blend.in_set(WorldSimSystems::Display).after(bridge::show_frames));
        }
    }
}
