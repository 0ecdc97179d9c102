//! The plugin in a headless `App` (MinimalPlugins + assets) with the shipped model: frames
//! arrive and change the stream's `Image`; a prompt change reaches the worker; a bad scene
//! file, a missing model and a dead worker are error messages, streams stop, the app runs on.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::asset::AssetPlugin;
use bevy::prelude::*;
use bevy_worldsim::{
    ModelLoaded, ResetStream, ScenePlayer, StreamAction, StreamFrameReady, StreamPrompt, StreamStats, StreamStatus,
    WorkerLink, WorldScene, WorldSimError, WorldSimPlugin, WorldStream,
};

fn root() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("..")
}

/// A headless app with the plugin, its assets read from `assets`.
fn app(plugin: WorldSimPlugin, assets: PathBuf) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, AssetPlugin { file_path: assets.display().to_string(), ..default() }))
        .init_asset::<Image>()
        .add_plugins(plugin)
        .init_resource::<Seen>()
        .add_systems(Last, collect);
    app
}

fn shipped() -> WorldSimPlugin {
    WorldSimPlugin { model_path: root().join("assets/models/tiny"), ..default() }
}

/// Messages seen so far.
#[derive(Resource, Default)]
struct Seen {
    frames: Vec<(Entity, u64)>,
    errors: Vec<WorldSimError>,
    loaded: usize,
}

fn collect(
    mut seen: ResMut<Seen>,
    mut frames: MessageReader<StreamFrameReady>,
    mut errors: MessageReader<WorldSimError>,
    mut loaded: MessageReader<ModelLoaded>,
) {
    seen.frames.extend(frames.read().map(|f| (f.stream, f.frame)));
    seen.errors.extend(errors.read().cloned());
    seen.loaded += loaded.read().count();
}

/// Updates the app (a real frame loop at ~100 Hz) until `done` or the timeout.
fn run_until(app: &mut App, timeout: Duration, mut done: impl FnMut(&mut App) -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        app.update();
        if done(app) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn spawn_stream(app: &mut App, prompt: &str) -> Entity {
    let world = app.world_mut();
    let stream = WorldStream::new(32, 32, &mut world.resource_mut::<Assets<Image>>()).with_fps(24.0);
    world.spawn((stream, StreamPrompt(prompt.into()), StreamAction(Some("the player moves right".into())))).id()
}

fn image_bytes(app: &App, entity: Entity) -> Vec<u8> {
    let stream = app.world().get::<WorldStream>(entity).expect("stream");
    let images = app.world().resource::<Assets<Image>>();
    images.get(&stream.image).and_then(|i| i.data.clone()).expect("image data")
}

fn stats(app: &App, entity: Entity) -> StreamStats {
    app.world().get::<StreamStats>(entity).expect("stats").clone()
}

#[test]
fn frames_arrive_change_the_image_and_a_prompt_change_reaches_the_worker() {
    let mut app = app(shipped(), root());
    let stream = spawn_stream(&mut app, "a blue player walking on grass on a sunny day");
    app.update();
    let grey = image_bytes(&app, stream);
    assert!(
        run_until(&mut app, Duration::from_secs(120), |app| app.world().resource::<Seen>().frames.len() >= 6),
        "no frames within 120 s: {:?}",
        app.world().resource::<Seen>().errors
    );
    let seen = app.world().resource::<Seen>();
    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    assert_eq!(seen.loaded, 1, "one ModelLoaded message");
    let indices: Vec<u64> = seen.frames.iter().map(|(_, i)| *i).collect();
    assert_eq!(indices[..6], [0, 1, 2, 3, 4, 5], "frames are shown once each, in order");
    let shown = image_bytes(&app, stream);
    assert_eq!(shown.len(), 32 * 32 * 4);
    assert_ne!(shown, grey, "the stream's image shows generated frames");
    let s = stats(&app, stream);
    assert_eq!(s.status, StreamStatus::Running);
    assert!(s.generated >= 6 && s.model_fps > 0.0, "{s:?}");
    assert!(s.unknown_words.is_empty());

    // A word only the new prompt has comes back from the worker: the change reached it.
    app.world_mut().get_mut::<StreamPrompt>(stream).expect("prompt").0 = "a zebra player on snow at night".into();
    assert!(
        run_until(&mut app, Duration::from_secs(60), |app| stats(app, stream).unknown_words == ["zebra"]),
        "the prompt change never reached the worker: {:?}",
        stats(&app, stream)
    );
    assert!(stats(&app, stream).latency_ms > 0.0, "the change's latency is measured");

    // A reset starts the stream again from its first frame.
    let before = app.world().resource::<Seen>().frames.len();
    app.world_mut().write_message(ResetStream { stream });
    assert!(
        run_until(&mut app, Duration::from_secs(60), |app| {
            app.world().resource::<Seen>().frames[before..].iter().any(|(_, i)| *i == 0)
        }),
        "no frame 0 after the reset"
    );
}

#[test]
fn a_missing_model_is_an_error_message_and_the_app_keeps_running() {
    let plugin = WorldSimPlugin { model_path: PathBuf::from("/nonexistent/model"), ..default() };
    let mut app = app(plugin, root());
    let stream = spawn_stream(&mut app, "a blue player walking on grass");
    assert!(run_until(&mut app, Duration::from_secs(30), |app| {
        matches!(stats(app, stream).status, StreamStatus::Stopped(_))
    }));
    let seen = app.world().resource::<Seen>();
    assert!(
        seen.errors.iter().any(|e| e.stream.is_none() && e.message.contains("/nonexistent/model")),
        "{:?}",
        seen.errors
    );
    assert!(seen.errors.iter().any(|e| e.stream == Some(stream)), "the stream's own failure is reported");
    for _ in 0..10 {
        app.update();
    }
}

#[test]
fn a_bad_scene_file_is_an_error_with_line_and_column() {
    let dir = std::env::temp_dir().join(format!("worldsim-bad-scene-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("bad.ron"), "Scene(\n    name: \"bad\",\n    width: 64,,\n)\n").expect("write");
    std::fs::copy(root().join("scenes/player_walk_jump.ron"), dir.join("good.ron")).expect("copy");
    let mut app = app(shipped(), dir.clone());
    let (bad, good) = {
        let assets = app.world().resource::<AssetServer>();
        let bad: Handle<WorldScene> = assets.load("bad.ron");
        let good: Handle<WorldScene> = assets.load("good.ron");
        (bad, good)
    };
    let player = app.world_mut().spawn(ScenePlayer::new(bad)).id();
    let good_player = app.world_mut().spawn(ScenePlayer::new(good.clone()).with_size(32, 24)).id();
    assert!(run_until(&mut app, Duration::from_secs(30), |app| {
        !app.world().resource::<Seen>().errors.is_empty() && app.world().get::<WorldStream>(good_player).is_some()
    }));
    let seen = app.world().resource::<Seen>();
    let error = &seen.errors[0];
    assert_eq!(error.stream, Some(player));
    assert!(error.message.contains("bad.ron:3:"), "line and column named: {}", error.message);
    assert!(app.world().get::<WorldStream>(player).is_none(), "no stream from a bad scene");
    // The good scene became a stream with the scene's prompt and first action.
    let scene = app.world().resource::<Assets<WorldScene>>().get(&good).expect("loaded").clone();
    let stream = app.world().get::<WorldStream>(good_player).expect("stream");
    assert_eq!((stream.width, stream.height, stream.seed), (32, 24, scene.seed));
    assert_eq!(app.world().get::<StreamPrompt>(good_player).expect("prompt").0, scene.prompt);
    assert_eq!(
        app.world().get::<StreamAction>(good_player).expect("action").0.as_deref(),
        Some("the player moves right")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_dead_worker_stops_streams_with_an_error_and_the_app_keeps_running() {
    let mut app = app(shipped(), root());
    let stream = spawn_stream(&mut app, "a blue player walking on grass on a sunny day");
    assert!(run_until(&mut app, Duration::from_secs(60), |app| app.world().resource::<Seen>().loaded == 1));
    app.world().resource::<WorkerLink>().inject_worker_panic();
    assert!(
        run_until(&mut app, Duration::from_secs(60), |app| matches!(
            stats(app, stream).status,
            StreamStatus::Stopped(_)
        )),
        "the stream never stopped: {:?}",
        stats(&app, stream)
    );
    let seen = app.world().resource::<Seen>();
    assert!(seen.errors.iter().any(|e| e.message.contains("stopped unexpectedly")), "{:?}", seen.errors);
    // New streams fail with a message instead of hanging, and updates go on.
    let late = spawn_stream(&mut app, "a red ball on sand");
    for _ in 0..5 {
        app.update();
    }
    assert!(matches!(stats(&app, late).status, StreamStatus::Stopped(_)));
}

#[test]
fn two_streams_run_at_once_each_with_its_own_frames() {
    let mut app = app(shipped(), root());
    let a = spawn_stream(&mut app, "a blue player walking on grass on a sunny day");
    let b = spawn_stream(&mut app, "a red player walking on snow at night");
    assert!(
        run_until(&mut app, Duration::from_secs(120), |app| {
            let seen = app.world().resource::<Seen>();
            [a, b].iter().all(|s| seen.frames.iter().filter(|(e, _)| e == s).count() >= 3)
        }),
        "both streams show frames: {:?}",
        app.world().resource::<Seen>().errors
    );
    assert_ne!(image_bytes(&app, a), image_bytes(&app, b), "different prompts, different worlds");
    assert!(stats(&app, a).caption.contains("grass") && stats(&app, b).caption.contains("snow"));
}
