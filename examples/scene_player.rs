//! Plays a scene file's timeline as a stream in a window: the scene sets prompt, size, seed
//! and fps; its player's commands become action captions at their times (in the stream's own
//! time, so they land on the right frames however fast the model runs). Loops at the end.
//!
//! ```sh
//! cargo run --release --example scene_player -- scenes/player_walk_jump.ron
//! ```

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::sprite_render::MeshMaterial2d;
use bevy_worldsim::{
    ScenePlayer, StreamAction, StreamMaterial, WorldScene, WorldSimError, WorldSimPanelPlugin, WorldSimPlugin,
    WorldStream,
};
use clap::Parser;

/// Plays a scene.
#[derive(Parser, Resource, Clone)]
struct Args {
    /// The scene file.
    #[arg(default_value = "scenes/player_walk_jump.ron")]
    scene: PathBuf,
    /// Stream size WIDTHxHEIGHT (default: half the scene's size, for speed).
    #[arg(long)]
    size: Option<String>,
}

fn main() -> AppExit {
    let args = Args::parse();
    // (An absolute path: Bevy resolves relative ones against the executable's folder.)
    let root = args.scene.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    let root = std::fs::canonicalize(&root).unwrap_or(root).display().to_string();
    App::new()
        .add_plugins(DefaultPlugins.set(AssetPlugin { file_path: root, ..default() }))
        .add_plugins((WorldSimPlugin::default(), WorldSimPanelPlugin))
        .insert_resource(args)
        .add_systems(Startup, setup)
        .add_systems(Update, (show_new_streams, print_actions, log_errors))
        .run()
}

fn setup(mut commands: Commands, args: Res<Args>, assets: Res<AssetServer>) {
    commands.spawn(Camera2d);
    let name = args.scene.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let scene: Handle<WorldScene> = assets.load(name);
    let mut player = ScenePlayer::new(scene).looping();
    if let Some((w, h)) = args.size.as_deref().and_then(|s| s.split_once('x'))
        && let (Ok(w), Ok(h)) = (w.parse(), h.parse())
    {
        player = player.with_size(w, h);
    }
    commands.spawn(player);
}

/// Gives each stream the scene player made a display.
fn show_new_streams(
    mut commands: Commands,
    added: Query<(Entity, &WorldStream), Added<WorldStream>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StreamMaterial>>,
) {
    for (entity, stream) in &added {
        let scale = 512.0 / stream.width.max(stream.height) as f32;
        commands.entity(entity).insert((
            Mesh2d(meshes.add(Rectangle::new(stream.width as f32 * scale, stream.height as f32 * scale))),
            MeshMaterial2d(materials.add(StreamMaterial::new(stream))),
            Transform::from_xyz(150.0, 0.0, 0.0),
        ));
    }
}

/// Prints each action change of the timeline as it happens.
fn print_actions(changed: Query<&StreamAction, Changed<StreamAction>>) {
    for action in &changed {
        println!("action: {}", action.0.as_deref().unwrap_or("(none)"));
    }
}

fn log_errors(mut errors: MessageReader<WorldSimError>) {
    for e in errors.read() {
        eprintln!("worldsim error: {}", e.message);
    }
}
