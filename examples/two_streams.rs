//! Two worlds side by side, each its own stream on the same worker: a beach at dusk and snow
//! at night. The arrow keys, space and P steer both players at once; the panel's buttons pick
//! which stream it edits.
//!
//! ```sh
//! cargo run --release --example two_streams
//! ```

use bevy::prelude::*;
use bevy::sprite_render::MeshMaterial2d;
use bevy_worldsim::{
    ActionKeys, StreamMaterial, StreamPrompt, WorldSimError, WorldSimPanelPlugin, WorldSimPlugin, WorldStream,
};

fn main() -> AppExit {
    App::new()
        .add_plugins(DefaultPlugins)
        .add_plugins((WorldSimPlugin::default(), WorldSimPanelPlugin))
        .add_systems(Startup, setup)
        .add_systems(Update, log_errors)
        .run()
}

fn setup(
    mut commands: Commands,
    mut images: ResMut<Assets<Image>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StreamMaterial>>,
) {
    commands.spawn(Camera2d);
    let worlds =
        [("a blue player walking on a beach at dusk", 1, -280.0), ("a red player walking on snow at night", 2, 280.0)];
    for (prompt, seed, x) in worlds {
        let stream = WorldStream::new(64, 64, &mut images).with_seed(seed);
        commands.spawn((
            Mesh2d(meshes.add(Rectangle::new(512.0, 512.0))),
            MeshMaterial2d(materials.add(StreamMaterial::new(&stream))),
            Transform::from_xyz(x, 0.0, 0.0),
            stream,
            StreamPrompt(prompt.into()),
            ActionKeys,
        ));
    }
}

fn log_errors(mut errors: MessageReader<WorldSimError>) {
    for e in errors.read() {
        eprintln!("worldsim error: {}", e.message);
    }
}
