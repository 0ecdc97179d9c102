//! Language: every object appears in the caption, words stay in the vocabulary, the documented
//! vocabulary matches the code, action captions follow the script.

mod common;

use common::{scene, shipped, shipped_scenes};
use worldsim_scenes::random::{RandomSceneConfig, random_scene};
use worldsim_scenes::vocabulary::{vocabulary, words};
use worldsim_scenes::{Clip, Occluder, Scene};

fn every_thing_is_named(s: &Scene, clip: &Clip) {
    let caption = &clip.captions.caption;
    for o in &clip.truth[0].objects {
        let phrase = match o.kind {
            worldsim_scenes::physics::BodyKind::Player => format!("{} player", o.color.name()),
            kind => format!("{} {} {}", o.size.name(), o.color.name(), kind.noun()),
        };
        assert!(caption.contains(&phrase), "{}: caption lacks {phrase:?}: {caption}", s.name);
    }
    for occ in &s.occluders {
        let phrase = match occ {
            Occluder::Tree { size, .. } => format!("{} tree", size.name()),
            Occluder::Pillar { size, color, .. } => format!("{} {} pillar", size.name(), color.name()),
        };
        assert!(caption.contains(&phrase), "{}: caption lacks {phrase:?}: {caption}", s.name);
    }
    assert!(caption.contains(s.terrain.name()) || caption.contains("grassy"), "{}: terrain missing: {caption}", s.name);
    assert_eq!(clip.captions.actions.len(), s.frames as usize);
    assert!(caption.split(". ").count() >= 3, "{}: caption is not several sentences", s.name);
}

#[test]
fn every_object_appears_in_the_caption() {
    for path in shipped_scenes() {
        let s = Scene::load(&path).expect("loads");
        every_thing_is_named(&s, &Clip::render(&s));
    }
    let config = RandomSceneConfig::default();
    for i in 0..60 {
        let s = random_scene(11, i, &config);
        let (truth, captions) = Clip::truth(&s);
        every_thing_is_named(&s, &Clip { scene: s.clone(), frames: Vec::new(), truth, captions });
    }
}

#[test]
fn captions_use_only_vocabulary_words() {
    let vocab = vocabulary();
    let mut used = std::collections::BTreeSet::new();
    let config = RandomSceneConfig::default();
    let scenes = shipped_scenes()
        .into_iter()
        .map(|p| Scene::load(&p).expect("loads"))
        .chain((0..300).map(|i| random_scene(5, i, &config)));
    for s in scenes {
        let (_, c) = Clip::truth(&s);
        for text in [&c.caption, &c.prompt].into_iter().chain(&c.actions) {
            for w in words(text) {
                assert!(vocab.contains(&w), "{}: {w:?} is not in the vocabulary (from {text:?})", s.name);
                used.insert(w);
            }
        }
    }
    // The vocabulary is not padded with words nothing says.
    let unused: Vec<&String> = vocab.difference(&used).collect();
    assert!(unused.len() * 10 < vocab.len(), "{} of {} words never used: {unused:?}", unused.len(), vocab.len());
}

#[test]
fn vocabulary_md_documents_every_word() {
    let doc =
        std::fs::read_to_string(common::manifest_dir().join("VOCABULARY.md")).expect("scenes/VOCABULARY.md exists");
    let documented: std::collections::BTreeSet<String> = words(&doc).collect();
    let missing: Vec<String> = vocabulary().into_iter().filter(|w| !documented.contains(w)).collect();
    assert!(
        missing.is_empty(),
        "VOCABULARY.md lacks {missing:?}; regenerate its word list with `worldsim scene vocabulary`"
    );
    assert!(doc.contains(&format!("{} words", vocabulary().len())), "VOCABULARY.md states a stale word count");
}

#[test]
fn prompts_are_short_and_say_what_happens() {
    let s = shipped("night_snow");
    let (_, c) = Clip::truth(&s);
    assert_eq!(c.prompt, "red ball bouncing on snow at night");
    let s = shipped("wide_beach");
    let (_, c) = Clip::truth(&s);
    assert!(c.prompt.ends_with("on sand, camera panning right"), "{}", c.prompt);
    for path in shipped_scenes() {
        let (_, c) = Clip::truth(&Scene::load(&path).expect("loads"));
        assert!(c.prompt.split(' ').count() <= 16, "{}: prompt too long", c.prompt);
    }
}

#[test]
fn action_captions_follow_the_script_and_the_camera() {
    let s = scene(
        "Scene(name: \"a\", width: 64, height: 64, fps: 4, frames: 8, terrain: grass, sky: day,
           camera: Path(keys: [(0.0, 0.0), (1.0, 0.0), (2.0, 2.0)]),
           player: Some(Player(color: red, actions: [(0.0, left), (0.5, jump), (1.0, paint), (1.5, stand)])))",
    );
    let (_, c) = Clip::truth(&s);
    assert_eq!(
        c.actions,
        [
            "the player moves left",
            "the player moves left",
            "the player jumps",
            "the player jumps",
            "the player paints and the camera pans right",
            "the player paints and the camera pans right",
            "the player stands still and the camera pans right",
            "the player stands still and the camera pans right",
        ]
    );
    let still = scene("Scene(name: \"b\", width: 64, height: 64, frames: 3, terrain: grass, sky: day)");
    assert_eq!(Clip::truth(&still).1.actions, ["the camera holds still"; 3]);
}

#[test]
fn images_are_described_without_motion() {
    let s = scene(
        "Scene(name: \"i\", width: 64, height: 64, frames: 1, terrain: sand, sky: dusk, objects: [Ball(color: blue, x: -1.5, y: 2.0)], player: Some(Player(color: green, x: 1.5)))",
    );
    let (_, c) = Clip::truth(&s);
    assert!(c.caption.contains("A medium blue ball on the left is in the air."), "{}", c.caption);
    assert!(c.caption.contains("A green player on the right stands on the sand."), "{}", c.caption);
    assert!(!c.caption.contains("camera"), "{}", c.caption);
}

#[test]
fn steered_captions_name_the_player_but_leave_its_motion_to_the_actions() {
    let s = shipped("player_walk_jump");
    let (truth, c) = Clip::truth(&s);
    let steered = worldsim_scenes::captions::steered_caption(&s, &truth);
    assert!(c.caption.contains("walks right"), "{}", c.caption);
    for motion in ["walks", "jumps", "stands", "paints"] {
        assert!(!steered.contains(motion), "steered caption says {motion:?}: {steered}");
    }
    assert!(steered.contains("player"), "{steered}");
    // Every other sentence is the caption's own.
    let others =
        |text: &str| text.split(". ").filter(|p| !p.contains("player")).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(others(&c.caption), others(&steered));
    // The words stay the vocabulary's; a clip without a player keeps its caption.
    let vocab = vocabulary();
    let config = RandomSceneConfig::default();
    for i in 0..100 {
        let s = random_scene(5, i, &config);
        let (truth, c) = Clip::truth(&s);
        let steered = worldsim_scenes::captions::steered_caption(&s, &truth);
        assert!(words(&steered).all(|w| vocab.contains(&w)), "{steered}");
        if s.player.is_none() {
            assert_eq!(steered, c.caption);
        }
    }
}
