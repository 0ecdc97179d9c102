//! Scene files: every shipped scene loads and renders; bad files give precise errors.

mod common;

use common::shipped_scenes;
use worldsim_scenes::{Camera, Clip, Scene, SceneError, Sky};

#[test]
fn every_shipped_scene_renders_and_they_cover_the_features() {
    let scenes: Vec<Scene> =
        shipped_scenes().iter().map(|p| Scene::load(p).unwrap_or_else(|e| panic!("{e}"))).collect();
    assert!(scenes.len() >= 8, "only {} shipped scenes", scenes.len());
    for s in &scenes {
        let clip = Clip::render(s);
        assert_eq!(clip.frames.len(), s.frames as usize, "{}", s.name);
        assert!(clip.frames.iter().all(|f| (f.width, f.height) == (s.width, s.height)));
    }
    let any = |f: &dyn Fn(&Scene) -> bool| scenes.iter().any(f);
    assert!(any(&|s| s.width >= 2 * s.height), "no wide (2:1) scene");
    assert!(any(&|s| s.height >= 2 * s.width), "no tall (1:2) scene");
    assert!(any(&|s| s.sky == Sky::Night), "no night scene");
    assert!(any(&|s| !s.occluders.is_empty() && !s.objects.is_empty()), "no occlusion scene");
    assert!(
        any(&|s| s.player.as_ref().is_some_and(|p| p.actions.iter().any(|a| a.1 == worldsim_scenes::Action::Paint))),
        "no painting scene"
    );
    assert!(
        any(&|s| s.player.as_ref().is_some_and(|p| p.actions.iter().any(|a| a.1 == worldsim_scenes::Action::Jump))),
        "no jumping scene"
    );
    assert!(any(&|s| matches!(s.camera, Camera::Path { .. })), "no camera path scene");
    // The scene's own text round-trips.
    for s in &scenes {
        assert_eq!(&Scene::parse(&s.to_ron(), "<roundtrip>").expect("own RON parses"), s);
    }
}

fn parse_err(text: &str) -> SceneError {
    Scene::parse(text, "bad.ron").expect_err("should not parse")
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    let cases = [
        // (text, line, what the message mentions)
        (
            "Scene(\n  name: \"x\",\n  width: 64,\n  height: 64,\n  frames: 4,\n  terrain: lava,\n  sky: day,\n)",
            6,
            "lava",
        ),
        ("Scene(\n  name: \"x\",\n  width: \"wide\",\n)", 3, "integer"),
        (
            "Scene(\n  name: \"x\",\n  width: 64,\n  height: 64,\n  frames: 4,\n  terrain: grass,\n  sky: day,\n  colour: red,\n)",
            8,
            "colour",
        ),
        ("Scene(\n  name: \"x\",\n  width: 64,\n  height: 64,\n  terrain: grass,\n  sky: day,\n)", 7, "frames"),
        (
            "Scene(\n  name: \"x\",\n  width: 64,\n  height: 64,\n  frames: 4,\n  terrain: grass,\n  sky: day,\n  objects: [Ball(color: red, x: 0.0, y: 1.0,]\n)",
            8,
            "",
        ),
    ];
    for (text, line, mentions) in cases {
        match parse_err(text) {
            SceneError::Parse { origin, line: l, column, message } => {
                assert_eq!(origin, "bad.ron");
                assert_eq!(l, line, "wrong line for {message:?}");
                assert!(column >= 1);
                assert!(message.contains(mentions), "{message:?} does not mention {mentions:?}");
                let shown = parse_err(text).to_string();
                assert!(shown.starts_with(&format!("bad.ron:{line}:{column}: ")), "{shown}");
            }
            other => panic!("expected a parse error, got {other}"),
        }
    }
}

#[test]
fn bad_values_name_the_field_and_the_fix() {
    let base = "name: \"x\", terrain: grass, sky: day";
    let cases = [
        (format!("Scene({base}, width: 8, height: 64, frames: 4)"), "width", "16..=1024"),
        (format!("Scene({base}, width: 64, height: 64, frames: 0)"), "frames", "1..=1000"),
        (format!("Scene({base}, width: 64, height: 64, frames: 4, fps: 0)"), "fps", "1..=60"),
        (
            format!("Scene({base}, width: 64, height: 64, frames: 4, objects: [Ball(color: red, x: 50.0)])"),
            "objects[0].x",
            "stage",
        ),
        (format!("Scene({base}, width: 64, height: 64, frames: 4, camera: Follow)"), "camera", "no player"),
        (
            format!("Scene({base}, width: 64, height: 64, frames: 4, camera: Path(keys: [(1.0, 0.0), (0.5, 1.0)]))"),
            "camera.keys[1]",
            "increase",
        ),
        (
            format!(
                "Scene({base}, width: 64, height: 64, frames: 4, player: Some(Player(color: red, actions: [(1.0, left), (0.5, jump)])))"
            ),
            "player.actions[1]",
            "time order",
        ),
    ];
    for (text, field, fix) in cases {
        match parse_err(&text) {
            SceneError::Invalid { origin, field: f, message } => {
                assert_eq!(origin, "bad.ron");
                assert_eq!(f, field);
                assert!(message.contains(fix), "{message:?} lacks {fix:?}");
            }
            other => panic!("expected a validation error for {field}, got {other}"),
        }
    }
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let e = Scene::load(std::path::Path::new("no/such/scene.ron")).expect_err("missing");
    assert!(matches!(e, SceneError::Io { .. }));
    assert!(e.to_string().starts_with("no/such/scene.ron: cannot read"), "{e}");
}
