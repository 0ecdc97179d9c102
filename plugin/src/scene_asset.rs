//! Scenes as assets: a `scenes/*.ron` file of the ground-truth world loads as a [`WorldScene`]
//! (its short prompt, size, seed, fps, and a timeline of the scene's `prompts` changes and of
//! action changes from the player's commands); a [`ScenePlayer`] on an entity turns it into a stream and plays the timeline in
//! the stream's own time (frames shown / fps), so changes land on the right frames however
//! fast the model runs. A bad file fails to load with `file:line:column` in the message, which
//! the plugin forwards as a [`WorldSimError`].

use bevy::asset::io::Reader;
use bevy::asset::{AssetLoadFailedEvent, AssetLoader, LoadContext};
use bevy::prelude::*;
use thiserror::Error;
use worldsim_scenes::Frame;
use worldsim_scenes::clip::Clip;
use worldsim_scenes::scene::Scene;

use crate::components::{StreamAction, StreamPrompt, StreamStats, WorldStream};
use crate::messages::WorldSimError;

/// What changes at a moment of a scene's timeline.
#[derive(Clone, Debug, PartialEq)]
pub enum TimelineChange {
    /// A new prompt.
    Prompt(String),
    /// A new action caption (or none).
    Action(Option<String>),
}

/// A change at `at` seconds of stream time.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineEvent {
    /// Seconds from the stream's first frame.
    pub at: f32,
    /// What changes.
    pub change: TimelineChange,
}

/// A stream script: what to show and how it changes over time.
#[derive(Asset, TypePath, Clone, Debug, PartialEq)]
pub struct WorldScene {
    /// The scene's name.
    pub name: String,
    /// The prompt the stream starts with (the scene's short prompt).
    pub prompt: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: f32,
    /// Seed.
    pub seed: u64,
    /// Seconds the scene lasts.
    pub duration: f32,
    /// Changes in time order.
    pub timeline: Vec<TimelineEvent>,
    /// The scene itself (for its first frame).
    pub scene: Scene,
}

impl WorldScene {
    /// The stream script of a ground-truth scene: its short prompt, and one action change per
    /// player command.
    pub fn from_scene(scene: &Scene) -> Self {
        let (_, captions) = Clip::truth(scene);
        let actions = scene.player.iter().flat_map(|p| &p.actions).map(|(at, action)| TimelineEvent {
            at: *at,
            change: TimelineChange::Action(StreamAction::player(*action).0),
        });
        let prompts = scene
            .prompts
            .iter()
            .map(|(at, prompt)| TimelineEvent { at: *at, change: TimelineChange::Prompt(prompt.clone()) });
        let mut timeline: Vec<TimelineEvent> = actions.chain(prompts).collect();
        timeline.sort_by(|a, b| a.at.total_cmp(&b.at));
        WorldScene {
            name: scene.name.clone(),
            prompt: captions.prompt,
            width: scene.width,
            height: scene.height,
            fps: scene.fps as f32,
            seed: scene.seed,
            duration: scene.duration(),
            timeline,
            scene: scene.clone(),
        }
    }

    /// The scene's first frame at `width × height`, rendered by the ground-truth world.
    pub fn first_frame(&self, width: u32, height: u32) -> Option<Frame> {
        let scene = self.scene.with_overrides(Some((width, height)), Some(1), None).ok()?;
        Clip::render(&scene).frames.into_iter().next()
    }

    /// The prompt and action in force at `t` seconds.
    pub fn state_at(&self, t: f32) -> (String, Option<String>) {
        let mut prompt = self.prompt.clone();
        let mut action = None;
        for event in self.timeline.iter().filter(|e| e.at <= t) {
            match &event.change {
                TimelineChange::Prompt(p) => prompt = p.clone(),
                TimelineChange::Action(a) => action = a.clone(),
            }
        }
        (prompt, action)
    }
}

/// Why a scene file did not load.
#[derive(Debug, Error)]
pub enum WorldSceneError {
    /// The file could not be read.
    #[error("cannot read the scene file: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not UTF-8 text.
    #[error("the scene file is not UTF-8 text: {0}")]
    Utf8(#[from] std::string::FromUtf8Error),
    /// The RON is malformed or a value is invalid (`file:line:column: …` or the field).
    #[error("{0}")]
    Scene(#[from] worldsim_scenes::error::SceneError),
}

/// Loads `.ron` scene files as [`WorldScene`]s.
#[derive(Default, TypePath)]
pub struct WorldSceneLoader;

impl AssetLoader for WorldSceneLoader {
    type Asset = WorldScene;
    type Settings = ();
    type Error = WorldSceneError;

    async fn load(
        &self,
        reader: &mut dyn Reader,
        _settings: &(),
        load_context: &mut LoadContext<'_>,
    ) -> Result<WorldScene, WorldSceneError> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await?;
        let text = String::from_utf8(bytes)?;
        let scene = Scene::parse(&text, &load_context.path().to_string())?;
        Ok(WorldScene::from_scene(&scene))
    }

    fn extensions(&self) -> &[&str] {
        &["ron"]
    }
}

/// Plays a [`WorldScene`] as a stream: once the scene has loaded, the plugin adds a
/// [`WorldStream`] of the scene's size (or `size`), fps and seed to this entity, then applies
/// the timeline as the stream's frames are shown.
#[derive(Component, Clone, Debug)]
pub struct ScenePlayer {
    /// The scene.
    pub scene: Handle<WorldScene>,
    /// A stream size other than the scene's (e.g. smaller, for speed).
    pub size: Option<(u32, u32)>,
    /// Start again from the first event when the scene's duration has passed.
    pub looping: bool,
    /// Start the stream from the scene's first frame (rendered) rather than generating it.
    pub from_first_frame: bool,
    /// Timeline events applied so far.
    applied: usize,
    /// Stream time at which the current pass started.
    pass_start: f32,
}

impl ScenePlayer {
    /// Plays `scene` once at its own size.
    pub fn new(scene: Handle<WorldScene>) -> Self {
        ScenePlayer { scene, size: None, looping: false, from_first_frame: true, applied: 0, pass_start: 0.0 }
    }

    /// The same, as a stream of `width × height`.
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.size = Some((width, height));
        self
    }

    /// The same, generating the first frame from the prompt instead of the scene's picture.
    pub fn generating_first_frame(mut self) -> Self {
        self.from_first_frame = false;
        self
    }

    /// The same, starting over at the end.
    pub fn looping(mut self) -> Self {
        self.looping = true;
        self
    }
}

/// Starts streams of loaded scenes and plays their timelines.
pub fn play_scenes(
    mut commands: Commands,
    scenes: Res<Assets<WorldScene>>,
    mut images: ResMut<Assets<Image>>,
    mut players: Query<(
        Entity,
        &mut ScenePlayer,
        Option<(&WorldStream, &StreamStats, &mut StreamPrompt, &mut StreamAction)>,
    )>,
) {
    for (entity, mut player, stream) in &mut players {
        let Some(scene) = scenes.get(&player.scene) else { continue };
        let Some((stream, stats, mut prompt, mut action)) = stream else {
            let (w, h) = player.size.unwrap_or((scene.width, scene.height));
            let mut stream = WorldStream::new(w, h, &mut images).with_seed(scene.seed).with_fps(scene.fps);
            if player.from_first_frame {
                stream.start = scene.first_frame(w, h);
            }
            let (p, a) = scene.state_at(0.0);
            player.applied = scene.timeline.iter().filter(|e| e.at <= 0.0).count();
            commands.entity(entity).insert((stream, StreamPrompt(p), StreamAction(a)));
            continue;
        };
        let mut t = stats.shown.saturating_sub(1) as f32 / stream.fps.max(0.1) - player.pass_start;
        if player.looping && scene.duration > 0.0 && t >= scene.duration {
            player.pass_start += scene.duration;
            player.applied = 0;
            t -= scene.duration;
        }
        while let Some(event) = scene.timeline.get(player.applied).filter(|e| e.at <= t) {
            match &event.change {
                TimelineChange::Prompt(p) if prompt.0 != *p => prompt.0 = p.clone(),
                TimelineChange::Action(a) if action.0 != *a => action.0 = a.clone(),
                _ => {}
            }
            player.applied += 1;
        }
    }
}

/// Turns failed scene loads into [`WorldSimError`]s (with the file's line and column).
pub fn report_scene_errors(
    mut failed: MessageReader<AssetLoadFailedEvent<WorldScene>>,
    players: Query<(Entity, &ScenePlayer)>,
    mut errors: MessageWriter<WorldSimError>,
) {
    for event in failed.read() {
        let stream = players.iter().find(|(_, p)| p.scene.id() == event.id).map(|(e, _)| e);
        let message = format!("scene {}: {}", event.path, event.error);
        error!("worldsim: {message}");
        errors.write(WorldSimError { stream, message });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scene_file_gives_a_timeline_of_prompt_and_action_changes_in_time_order() {
        let text = r#"Scene(name: "t", width: 64, height: 48, frames: 37, seed: 3, terrain: snow, sky: day,
            player: Some(Player(color: red, x: 0.0, facing: right, actions: [(0.0, right), (2.0, jump)])),
            prompts: [(1.0, "red player on snow at night")])"#;
        let scene = WorldScene::from_scene(&Scene::parse(text, "t.ron").expect("parses"));
        let at: Vec<f32> = scene.timeline.iter().map(|e| e.at).collect();
        assert_eq!(at, vec![0.0, 1.0, 2.0]);
        assert!(!scene.prompt.is_empty());
        assert_eq!(scene.state_at(0.5), (scene.prompt.clone(), Some("the player moves right".into())));
        assert_eq!(
            scene.state_at(2.5),
            ("red player on snow at night".to_string(), Some("the player jumps".to_string()))
        );
        assert_eq!((scene.width, scene.height, scene.fps, scene.seed), (64, 48, 12.0, 3));
        let first = scene.first_frame(32, 24).expect("renders");
        assert_eq!((first.width, first.height), (32, 24));

        let bad = text.replace("(1.0, \"red", "(-1.0, \"red");
        let err = Scene::parse(&bad, "t.ron").expect_err("negative time");
        assert!(err.to_string().contains("prompts[0]"), "{err}");
    }
}
