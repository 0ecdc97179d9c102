//! A real Bevy app with no window: the plugin drives one stream (from a prompt and an action
//! script, or from a scene file's timeline) and the frames it shows are written to a GIF.
//!
//! ```sh
//! cargo run --release --example headless -- --frames 25 --out stream.gif
//! cargo run --release --example headless -- --frames 49 --out walk.gif --scene scenes/player_walk_jump.ron --size 64x48
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bevy::app::{AppExit, ScheduleRunnerPlugin};
use bevy::asset::AssetPlugin;
use bevy::prelude::*;
use bevy_worldsim::{
    ScenePlayer, StreamAction, StreamFrameReady, StreamPrompt, WorldScene, WorldSimError, WorldSimPlugin, WorldStream,
};
use clap::Parser;
use worldsim_scenes::Frame;

/// Runs a stream headless and writes what it shows.
#[derive(Parser, Resource, Clone)]
struct Args {
    /// Video frames to record.
    #[arg(long, default_value_t = 25)]
    frames: usize,
    /// Output GIF (or .png / .npy / folder/).
    #[arg(long)]
    out: String,
    /// Play this scene file (prompt, size, seed, fps, action timeline) instead of a prompt.
    #[arg(long)]
    scene: Option<PathBuf>,
    /// Stream size WIDTHxHEIGHT (default 64x64, or the scene's).
    #[arg(long)]
    size: Option<String>,
    /// Prompt (without --scene).
    #[arg(long, default_value = "a blue player walking on grass on a sunny day")]
    prompt: String,
    /// Action caption (without --scene).
    #[arg(long, default_value = "the player moves right")]
    action: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600.0)]
    timeout: f32,
}

#[derive(Resource, Default)]
struct Recording {
    frames: Vec<Frame>,
    fps: u32,
    failed: Option<String>,
}

fn parse_size(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.split_once('x')?;
    Some((w.parse().ok()?, h.parse().ok()?))
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Scene files are loaded through Bevy's asset server, rooted at the scene's folder.
    let asset_root =
        args.scene.as_ref().and_then(|s| s.parent().map(|p| p.to_path_buf())).unwrap_or_else(|| PathBuf::from("."));
    // (Absolute: Bevy resolves a relative asset folder against the executable's folder.)
    let asset_root = std::fs::canonicalize(&asset_root).unwrap_or(asset_root);
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins.set(ScheduleRunnerPlugin::run_loop(Duration::from_secs_f64(1.0 / 60.0))),
        AssetPlugin { file_path: asset_root.display().to_string(), ..default() },
        bevy::log::LogPlugin::default(),
    ))
    .init_asset::<Image>()
    .add_plugins(WorldSimPlugin::default())
    .insert_resource(args.clone())
    .init_resource::<Recording>()
    .add_systems(Startup, setup)
    .add_systems(Update, (record, watch_errors, timeout));
    match app.run() {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(_) => ExitCode::FAILURE,
    }
}

fn setup(mut commands: Commands, args: Res<Args>, assets: Res<AssetServer>, mut images: ResMut<Assets<Image>>) {
    let size = args.size.as_deref().and_then(parse_size);
    if let Some(scene) = &args.scene {
        let name = scene.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let handle: Handle<WorldScene> = assets.load(name);
        let mut player = ScenePlayer::new(handle);
        if let Some((w, h)) = size {
            player = player.with_size(w, h);
        }
        commands.spawn(player);
    } else {
        let (w, h) = size.unwrap_or((64, 64));
        commands.spawn((
            WorldStream::new(w, h, &mut images),
            StreamPrompt(args.prompt.clone()),
            StreamAction(Some(args.action.clone())),
        ));
    }
}

fn record(
    mut ready: MessageReader<StreamFrameReady>,
    streams: Query<&WorldStream>,
    images: Res<Assets<Image>>,
    args: Res<Args>,
    mut recording: ResMut<Recording>,
    mut exit: MessageWriter<AppExit>,
) {
    for event in ready.read() {
        let Ok(stream) = streams.get(event.stream) else { continue };
        let Some(data) = images.get(&stream.image).and_then(|i| i.data.as_ref()) else { continue };
        recording.fps = stream.fps.round() as u32;
        let rgb = data.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        recording.frames.push(Frame { width: stream.width, height: stream.height, rgb });
        if recording.frames.len() == args.frames {
            match worldsim_scenes::media::write_video(&args.out, &recording.frames, recording.fps) {
                Ok(_) => {
                    println!("wrote {} ({} frames)", args.out, args.frames);
                    exit.write(AppExit::Success);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    exit.write(AppExit::error());
                }
            }
        }
    }
}

fn watch_errors(
    mut errors: MessageReader<WorldSimError>,
    mut recording: ResMut<Recording>,
    mut exit: MessageWriter<AppExit>,
) {
    if let Some(e) = errors.read().next() {
        eprintln!("error: {}", e.message);
        recording.failed = Some(e.message.clone());
        exit.write(AppExit::error());
    }
}

fn timeout(time: Res<Time>, args: Res<Args>, mut recording: ResMut<Recording>, mut exit: MessageWriter<AppExit>) {
    if time.elapsed_secs() > args.timeout && recording.failed.is_none() {
        eprintln!("error: timed out after {} s with {} frames", args.timeout, recording.frames.len());
        recording.failed = Some("timeout".into());
        exit.write(AppExit::error());
    }
}
