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
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured, save_to_disk};
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
        .init_resource::<ScreenshotCheck>()
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

/// What the screenshot showed where the stream is: `Some(true)` when it holds a generated
/// picture (many colours, not the blank grey), `Some(false)` when not.
#[derive(Resource, Default)]
struct ScreenshotCheck(Option<bool>);

/// Checks the stream's area of the screenshot (the right part of the window).
fn check_screenshot(captured: On<ScreenshotCaptured>, mut check: ResMut<ScreenshotCheck>) {
    let image = &captured.image;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let Some(data) = image.data.as_ref().filter(|d| d.len() >= w * h * 4) else {
        check.0 = Some(false);
        return;
    };
    let mut colours = std::collections::HashSet::new();
    let (mut grey, mut total) = (0usize, 0usize);
    for y in (h / 5)..(4 * h / 5) {
        for x in (w / 2)..(9 * w / 10) {
            let p = &data[(y * w + x) * 4..(y * w + x) * 4 + 3];
            colours.insert([p[0], p[1], p[2]]);
            grey += usize::from(p.iter().all(|c| c.abs_diff(96) <= 2));
            total += 1;
        }
    }
    let ok = colours.len() >= 16 && grey * 2 < total;
    println!("interactive: screenshot's stream area has {} colours, {grey}/{total} blank grey pixels", colours.len());
    check.0 = Some(ok);
}

/// With `--exit-after`: once the time is up and the stream has shown frames, take the
/// screenshot (checked, and saved with `--screenshot`), then quit when the check is in:
/// success only if frames were shown and the screenshot shows the stream.
fn exit_for_ci(
    mut commands: Commands,
    time: Res<Time>,
    args: Res<Args>,
    stats: Query<&StreamStats>,
    check: Res<ScreenshotCheck>,
    mut shot_at: Local<Option<f32>>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(limit) = args.exit_after else { return };
    let now = time.elapsed_secs();
    let shown = stats.iter().map(|s| s.shown).sum::<u64>();
    match *shot_at {
        None if now >= limit && (shown > 0 || now >= 3.0 * limit) => {
            let mut shot = commands.spawn(Screenshot::primary_window());
            shot.observe(check_screenshot);
            if let Some(path) = &args.screenshot {
                shot.observe(save_to_disk(path.clone()));
            }
            println!("interactive: {shown} frames shown in {now:.1} s");
            *shot_at = Some(now);
        }
        // Saving is asynchronous: give it a moment after the check is in.
        Some(at) if (check.0.is_some() && now >= at + 1.0) || now >= at + 10.0 => {
            let ok = shown > 0 && check.0 == Some(true);
            exit.write(if ok { AppExit::Success } else { AppExit::error() });
        }
        _ => {}
    }
}
