//! Showing a stream: [`StreamMaterial`], a 2D material over `shaders/stream_display.wgsl`
//! that upscales crisply and blends the frame before into the frame on screen when the display
//! runs faster than the model. Registered only when the app renders (the headless tests and
//! the `headless` example run without it).

use bevy::prelude::*;
use bevy::render::render_resource::AsBindGroup;
use bevy::shader::{Shader, ShaderRef};
use bevy::sprite_render::{Material2d, Material2dPlugin};

use crate::bridge::StreamPlayback;
use crate::components::WorldStream;

/// The display shader's source (validated by a test with naga).
pub const STREAM_DISPLAY_WGSL: &str = include_str!("../../shaders/stream_display.wgsl");

/// The display shader's handle.
pub const STREAM_DISPLAY_SHADER: Handle<Shader> = bevy::asset::uuid_handle!("6c1f2b0e-5d0a-4c36-9a55-2f3b8e7d1a40");

/// A 2D material showing a [`WorldStream`]: put it with a `Mesh2d` (a rectangle of any size) on
/// the stream's entity, or on any entity with [`StreamView`] naming the stream.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct StreamMaterial {
    /// x: blend (set every frame by the plugin), y: crispness, zw: the stream's size.
    #[uniform(0)]
    pub params: Vec4,
    /// The frame on screen.
    #[texture(1)]
    #[sampler(2)]
    pub current: Handle<Image>,
    /// The frame before it.
    #[texture(3)]
    #[sampler(4)]
    pub previous: Handle<Image>,
    /// Whether to fade between frames (off: each frame shows as soon as it is due).
    pub blend: bool,
}

impl StreamMaterial {
    /// A material for `stream`: crisp upscaling, blending on.
    pub fn new(stream: &WorldStream) -> Self {
        StreamMaterial {
            params: Vec4::new(1.0, 1.0, stream.width as f32, stream.height as f32),
            current: stream.image.clone(),
            previous: stream.previous.clone(),
            blend: true,
        }
    }

    /// The same with the crispness (0: bilinear, 1: sharp) changed.
    pub fn with_crispness(mut self, crispness: f32) -> Self {
        self.params.y = crispness.clamp(0.0, 1.0);
        self
    }
}

impl Material2d for StreamMaterial {
    fn fragment_shader() -> ShaderRef {
        ShaderRef::Handle(STREAM_DISPLAY_SHADER)
    }
}

/// Shows the stream `0` with this entity's [`StreamMaterial`] (for a view apart from the
/// stream's own entity, e.g. the same world twice).
#[derive(Component, Clone, Copy, Debug)]
pub struct StreamView(pub Entity);

/// Registers the material and its shader (the app must render: `RenderPlugin` and the 2D
/// sprite renderer added first).
pub fn add_display(app: &mut App) {
    app.world_mut()
        .resource_mut::<Assets<Shader>>()
        .insert(&STREAM_DISPLAY_SHADER, Shader::from_wgsl(STREAM_DISPLAY_WGSL, "bevy_worldsim/stream_display.wgsl"))
        .expect("a uuid handle always inserts");
    app.add_plugins(Material2dPlugin::<StreamMaterial>::default());
}

/// Moves every stream material's blend factor along with its stream's playback.
pub fn update_blend(
    streams: Query<&StreamPlayback, With<WorldStream>>,
    own: Query<(&StreamPlayback, &MeshMaterial2d<StreamMaterial>)>,
    views: Query<(&StreamView, &MeshMaterial2d<StreamMaterial>)>,
    mut materials: ResMut<Assets<StreamMaterial>>,
) {
    let pairs = own
        .iter()
        .map(|(p, m)| (p.blend(), m.0.id()))
        .chain(views.iter().filter_map(|(v, m)| streams.get(v.0).ok().map(|p| (p.blend(), m.0.id()))));
    for (blend, id) in pairs.collect::<Vec<_>>() {
        if let Some(mut material) = materials.get_mut(id) {
            let target = if material.blend { blend } else { 1.0 };
            if material.params.x != target {
                material.params.x = target;
            }
        }
    }
}
