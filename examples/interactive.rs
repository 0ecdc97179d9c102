//! The world simulator in a window: arrow keys, space and P become action captions ("the
//! player moves left", "… jumps", "… paints"; nothing held: "… stands still"), the egui panel
//! edits the prompt, steps and guidance and shows live stats. The stream is 64×64, shown at 8×
//! with the crisp, blending stream material.
//!
//! ```sh
//! cargo run --release --example interactive
//! # CI: run a few seconds, save a screenshot, exit
//! cargo run --release --example interactive -- --exit-after 20 --screenshot shot.png
//! ```

use std::path::PathBuf;

use bevy::app::AppExit;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, save_to_disk};
use bevy::sprite_render::MeshMaterial2d;
use bevy_worldsim::{
    ActionKeys, StreamMaterial, StreamPrompt, StreamStats, WorldSimError, WorldSimPanelPlugin, WorldSimPlugin,
    WorldStream,
};
use clap::Parser;

/// Opens a window with a live stream.
#[derive(Parser, Resource, Clone)]
struct Args {
    /// Prompt to start with.
    #[arg(long, default_value = "a blue player walking on grass on a sunny day")]
    prompt: String,
    /// Stream size WIDTHxHEIGHT.
    #[arg(long, default_value = "64x64")]
    size: String,
    /// Quit after this many seconds (for CI).
    #[arg(long)]
    exit_after: Option<f32>,
    /// Save a screenshot just before quitting (with --exit-after).
    #[arg(long)]
    screenshot: Option<PathBuf>,
}

fn main() -> AppExit {
    let args = Args::parse();
    App::new()
        .add_plugins(DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window {
                title: "worldsim — interactive".into(),
                resolution: (900, 620).into(),
                ..default()
            }),
            ..default()
        }))
        .add_plugins((WorldSimPlugin::default(), WorldSimPanelPlugin))
        .insert_resource(args)
        .add_systems(Startup, setup)
        .add_systems(Update, (log_errors, exit_for_ci))
        .run()
}

fn setup(
    mut commands: Commands,
    args: Res<Args>,
    mut images: ResMut<Assets<Image>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StreamMaterial>>,
) {
    commands.spawn(Camera2d);
    let (w, h) =
        args.size.split_once('x').and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?))).unwrap_or((64, 64));
    let stream = WorldStream::new(w, h, &mut images);
    let scale = 512.0 / w.max(h) as f32;
    commands.spawn((
        Mesh2d(meshes.add(Rectangle::new(w as f32 * scale, h as f32 * scale))),
        MeshMaterial2d(materials.add(StreamMaterial::new(&stream))),
        Transform::from_xyz(150.0, 0.0, 0.0),
        stream,
        StreamPrompt(args.prompt.clone()),
        ActionKeys,
    ));
}

fn log_errors(mut errors: MessageReader<WorldSimError>) {
    for e in errors.read() {
        eprintln!("worldsim error: {}", e.message);
    }
}

/// With `--exit-after`: once the time is up and the stream has shown frames, take the
/// screenshot, then quit a second later (saving is asynchronous).
fn exit_for_ci(
    mut commands: Commands,
    time: Res<Time>,
    args: Res<Args>,
    stats: Query<&StreamStats>,
    mut shot_at: Local<Option<f32>>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(limit) = args.exit_after else { return };
    let now = time.elapsed_secs();
    let shown = stats.iter().map(|s| s.shown).sum::<u64>();
    match *shot_at {
        None if now >= limit && (shown > 0 || now >= 3.0 * limit) => {
            if let Some(path) = &args.screenshot {
                commands.spawn(Screenshot::primary_window()).observe(save_to_disk(path.clone()));
            }
            println!("interactive: {shown} frames shown in {now:.1} s");
            *shot_at = Some(now);
        }
        Some(at) if now >= at + 1.5 => {
            exit.write(if shown > 0 { AppExit::Success } else { AppExit::error() });
        }
        _ => {}
    }
}
