//! Scene definitions: what a `scenes/*.ron` file says, its defaults, and its validation.
//!
//! A [`Scene`] is plain data: the place (terrain, sky), the things in it (balls, boxes,
//! occluders, a player with an action script), the camera's motion and the clip's size, rate,
//! length and seed. Parsing reports the file, line and column of a syntax error; validation
//! names the field, the bad value and the fix.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::color::NamedColor;
use crate::error::SceneError;

/// Smallest and largest frame side the renderer accepts, in pixels.
pub const SIZE_RANGE: std::ops::RangeInclusive<u32> = 16..=1024;
/// Frame rates a scene may use.
pub const FPS_RANGE: std::ops::RangeInclusive<u32> = 1..=60;
/// Clip lengths a scene may use, in frames (1 frame is an image).
pub const FRAMES_RANGE: std::ops::RangeInclusive<u32> = 1..=1000;

/// A complete scene: everything needed to simulate and render a clip deterministically.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    /// A short identifier, e.g. `"bouncing_balls"`.
    pub name: String,
    /// Frame width in pixels (16..=1024).
    pub width: u32,
    /// Frame height in pixels (16..=1024).
    pub height: u32,
    /// Frames per second (1..=60).
    #[serde(default = "default_fps")]
    pub fps: u32,
    /// Number of frames (1..=1000); 1 renders an image.
    pub frames: u32,
    /// Seed of the scenery: mountain and hill shapes, clouds, stars, textures, tree shapes.
    #[serde(default)]
    pub seed: u64,
    /// The ground material; it also sets bounce and friction.
    pub terrain: Terrain,
    /// The time of day: sky colours and the light on everything.
    pub sky: Sky,
    /// How the camera moves.
    #[serde(default)]
    pub camera: Camera,
    /// Half the width of the stage in metres: invisible walls stand at `x = ±stage`.
    #[serde(default = "default_stage")]
    pub stage: f32,
    /// Balls and boxes.
    #[serde(default)]
    pub objects: Vec<Object>,
    /// Foreground things that objects pass behind.
    #[serde(default)]
    pub occluders: Vec<Occluder>,
    /// The player character, if any.
    #[serde(default)]
    pub player: Option<Player>,
    /// Prompt changes `(seconds, prompt)` for world-simulator streams that play this scene
    /// (the Bevy plugin's `ScenePlayer`); the ground-truth world itself ignores them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompts: Vec<(f32, String)>,
}

fn default_fps() -> u32 {
    12
}

fn default_stage() -> f32 {
    10.0
}

/// Ground materials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Terrain {
    /// A green meadow: lively bounces.
    Grass,
    /// A sandy beach: soft, high friction.
    Sand,
    /// Snow: slippery.
    Snow,
    /// Calm water: bounces are damped.
    Water,
}

impl Terrain {
    /// Every terrain, in a fixed order.
    pub const ALL: [Terrain; 4] = [Terrain::Grass, Terrain::Sand, Terrain::Snow, Terrain::Water];

    /// The word used in prompts.
    pub fn name(self) -> &'static str {
        match self {
            Terrain::Grass => "grass",
            Terrain::Sand => "sand",
            Terrain::Snow => "snow",
            Terrain::Water => "water",
        }
    }
}

/// Times of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sky {
    /// Blue sky, sun, white clouds, full light.
    Day,
    /// Orange-purple sky, low sun, warm dim light.
    Dusk,
    /// Dark sky with stars and moon, cold dim light.
    Night,
}

impl Sky {
    /// Every sky, in a fixed order.
    pub const ALL: [Sky; 3] = [Sky::Day, Sky::Dusk, Sky::Night];

    /// The word used in prompts.
    pub fn name(self) -> &'static str {
        match self {
            Sky::Day => "day",
            Sky::Dusk => "dusk",
            Sky::Night => "night",
        }
    }
}

/// Three sizes for balls, boxes and occluders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SizeClass {
    /// The smallest.
    Small,
    /// The default.
    #[default]
    Medium,
    /// The largest.
    Large,
}

impl SizeClass {
    /// Every size, in a fixed order.
    pub const ALL: [SizeClass; 3] = [SizeClass::Small, SizeClass::Medium, SizeClass::Large];

    /// The word used in captions.
    pub fn name(self) -> &'static str {
        match self {
            SizeClass::Small => "small",
            SizeClass::Medium => "medium",
            SizeClass::Large => "large",
        }
    }

    /// Picks one of three values by size.
    pub fn pick(self, small: f32, medium: f32, large: f32) -> f32 {
        match self {
            SizeClass::Small => small,
            SizeClass::Medium => medium,
            SizeClass::Large => large,
        }
    }
}

/// A moving object. Positions are in metres: `x` along the ground (0 is the stage centre), `y`
/// up from the ground. Velocities in metres per second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Object {
    /// A ball that falls, bounces with energy loss and rolls to a stop.
    Ball {
        /// Its colour.
        color: NamedColor,
        /// Its size (radius 0.18, 0.3 or 0.45 m).
        #[serde(default)]
        size: SizeClass,
        /// Centre, horizontally.
        x: f32,
        /// Height of its lowest point above the ground (0 = resting on it).
        #[serde(default)]
        y: f32,
        /// Initial horizontal velocity.
        #[serde(default)]
        vx: f32,
        /// Initial vertical velocity (positive is up).
        #[serde(default)]
        vy: f32,
    },
    /// A box (crate) that falls without bouncing and slides to a stop.
    Box {
        /// Its colour.
        color: NamedColor,
        /// Its size (side 0.4, 0.6 or 0.9 m).
        #[serde(default)]
        size: SizeClass,
        /// Centre, horizontally.
        x: f32,
        /// Height of its bottom above the ground.
        #[serde(default)]
        y: f32,
        /// Initial horizontal velocity.
        #[serde(default)]
        vx: f32,
    },
}

impl Object {
    /// The object's colour.
    pub fn color(&self) -> NamedColor {
        match self {
            Object::Ball { color, .. } | Object::Box { color, .. } => *color,
        }
    }

    /// The object's size class.
    pub fn size(&self) -> SizeClass {
        match self {
            Object::Ball { size, .. } | Object::Box { size, .. } => *size,
        }
    }
}

/// A foreground thing drawn in front of every object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Occluder {
    /// A tree: trunk and round crown.
    Tree {
        /// Trunk centre.
        x: f32,
        /// Its size (crown radius 0.8, 1.1 or 1.4 m).
        #[serde(default)]
        size: SizeClass,
    },
    /// A stone pillar.
    Pillar {
        /// Centre.
        x: f32,
        /// Its size (width 0.7, 1.0 or 1.3 m).
        #[serde(default)]
        size: SizeClass,
        /// Its colour.
        #[serde(default = "default_pillar_color")]
        color: NamedColor,
    },
}

fn default_pillar_color() -> NamedColor {
    NamedColor::Gray
}

impl Occluder {
    /// Its centre along the ground, m.
    pub fn x(&self) -> f32 {
        let (Occluder::Tree { x, .. } | Occluder::Pillar { x, .. }) = self;
        *x
    }

    /// The word used in captions ("tree", "pillar").
    pub fn noun(&self) -> &'static str {
        match self {
            Occluder::Tree { .. } => "tree",
            Occluder::Pillar { .. } => "pillar",
        }
    }
}

/// How the camera moves. The view is 5 m tall; its width follows the frame's aspect ratio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Camera {
    /// Looks at `x` the whole clip.
    Fixed {
        /// Centre of the view.
        #[serde(default)]
        x: f32,
    },
    /// Starts at `x` and moves at a constant `speed` (m/s, negative is left).
    Pan {
        /// Centre of the view at time 0.
        #[serde(default)]
        x: f32,
        /// Metres per second.
        speed: f32,
    },
    /// Moves through `(time in seconds, x)` keys, linearly in between; holds before the first
    /// key and after the last.
    Path {
        /// Keys in increasing time.
        keys: Vec<(f32, f32)>,
    },
    /// Keeps the player in the centre.
    Follow,
}

impl Default for Camera {
    fn default() -> Self {
        Camera::Fixed { x: 0.0 }
    }
}

/// Which way the player looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Facing {
    /// Towards negative x.
    Left,
    /// Towards positive x.
    #[default]
    Right,
}

impl Facing {
    /// `-1.0` for left, `1.0` for right.
    pub fn sign(self) -> f32 {
        match self {
            Facing::Left => -1.0,
            Facing::Right => 1.0,
        }
    }
}

/// The commands a player obeys. One is in force at any time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Walk towards negative x.
    Left,
    /// Walk towards positive x.
    Right,
    /// Jump straight up (again on landing while the command holds).
    Jump,
    /// Stand still.
    Stand,
    /// Walk slowly in the facing direction, painting the ground under the feet.
    Paint,
}

impl Action {
    /// Every action, in a fixed order.
    pub const ALL: [Action; 5] = [Action::Left, Action::Right, Action::Jump, Action::Stand, Action::Paint];

    /// The action's own word, as used in scripts and by game code.
    pub fn name(self) -> &'static str {
        match self {
            Action::Left => "left",
            Action::Right => "right",
            Action::Jump => "jump",
            Action::Stand => "stand",
            Action::Paint => "paint",
        }
    }
}

/// The player character and its action script.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Player {
    /// Body colour.
    pub color: NamedColor,
    /// Colour of the paint it leaves.
    #[serde(default = "default_paint")]
    pub paint: NamedColor,
    /// Starting position.
    #[serde(default)]
    pub x: f32,
    /// Starting direction.
    #[serde(default)]
    pub facing: Facing,
    /// `(time in seconds, action)` in increasing time; before the first entry it stands.
    #[serde(default)]
    pub actions: Vec<(f32, Action)>,
}

fn default_paint() -> NamedColor {
    NamedColor::Pink
}

impl Player {
    /// The action in force at time `t` seconds.
    pub fn action_at(&self, t: f32) -> Action {
        self.actions.iter().take_while(|(at, _)| *at <= t + 1e-6).last().map_or(Action::Stand, |(_, a)| *a)
    }
}

impl Scene {
    /// Reads and validates a scene file.
    pub fn load(path: &Path) -> Result<Scene, SceneError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SceneError::Io { path: path.display().to_string(), source })?;
        Scene::parse(&text, &path.display().to_string())
    }

    /// Parses and validates RON text; `origin` names it in errors (a path, or `<memory>`).
    pub fn parse(text: &str, origin: &str) -> Result<Scene, SceneError> {
        let scene: Scene = ron::from_str(text).map_err(|e| SceneError::Parse {
            origin: origin.to_string(),
            line: e.span.start.line,
            column: e.span.start.col,
            message: e.code.to_string(),
        })?;
        scene.validate().map_err(|problem| problem.in_file(origin))?;
        Ok(scene)
    }

    /// The scene as pretty RON (what [`Scene::parse`] reads back).
    pub fn to_ron(&self) -> String {
        let config = ron::ser::PrettyConfig::new().depth_limit(4).struct_names(true);
        ron::ser::to_string_pretty(self, config).unwrap_or_else(|e| format!("/* unserialisable scene: {e} */"))
    }

    /// The clip's duration in seconds.
    pub fn duration(&self) -> f32 {
        self.frames as f32 / self.fps as f32
    }

    /// Checks every field's range and consistency; the error names the field and the fix.
    pub fn validate(&self) -> Result<(), crate::error::Invalid> {
        use crate::error::Invalid;
        let in_range = |field: &str, v: u32, r: &std::ops::RangeInclusive<u32>| {
            if r.contains(&v) {
                Ok(())
            } else {
                Err(Invalid::new(
                    field,
                    format!("{v} is outside {}..={}; use a value in that range", r.start(), r.end()),
                ))
            }
        };
        in_range("width", self.width, &SIZE_RANGE)?;
        in_range("height", self.height, &SIZE_RANGE)?;
        in_range("fps", self.fps, &FPS_RANGE)?;
        in_range("frames", self.frames, &FRAMES_RANGE)?;
        if !(self.stage.is_finite() && (2.0..=1000.0).contains(&self.stage)) {
            return Err(Invalid::new("stage", format!("{} is not a half-width in 2..=1000 metres", self.stage)));
        }
        for (i, (t, prompt)) in self.prompts.iter().enumerate() {
            if !(t.is_finite() && *t >= 0.0) {
                return Err(Invalid::new(&format!("prompts[{i}]"), format!("{t} is not a time ≥ 0 in seconds")));
            }
            if prompt.trim().is_empty() {
                return Err(Invalid::new(&format!("prompts[{i}]"), "the prompt is empty; write what to show".into()));
            }
        }
        let finite = |field: String, v: f32| {
            if v.is_finite() { Ok(()) } else { Err(Invalid::new(&field, format!("{v} is not a finite number"))) }
        };
        let inside = |field: String, x: f32| {
            finite(field.clone(), x)?;
            if x.abs() < self.stage {
                Ok(())
            } else {
                Err(Invalid::new(
                    &field,
                    format!("{x} is outside the stage (-{s}..{s}); move it inside or widen `stage`", s = self.stage),
                ))
            }
        };
        for (i, object) in self.objects.iter().enumerate() {
            let (x, y, vx, vy) = match *object {
                Object::Ball { x, y, vx, vy, .. } => (x, y, vx, vy),
                Object::Box { x, y, vx, .. } => (x, y, vx, 0.0),
            };
            inside(format!("objects[{i}].x"), x)?;
            finite(format!("objects[{i}].vx"), vx)?;
            finite(format!("objects[{i}].vy"), vy)?;
            if !(0.0..=100.0).contains(&y) {
                return Err(Invalid::new(
                    &format!("objects[{i}].y"),
                    format!("{y} must be in 0..=100 (metres above the ground)"),
                ));
            }
        }
        for (i, occluder) in self.occluders.iter().enumerate() {
            finite(format!("occluders[{i}].x"), occluder.x())?;
        }
        if let Some(player) = &self.player {
            inside("player.x".into(), player.x)?;
            let mut last = f32::NEG_INFINITY;
            for (i, (t, _)) in player.actions.iter().enumerate() {
                if !t.is_finite() || *t < 0.0 || *t < last {
                    return Err(Invalid::new(
                        &format!("player.actions[{i}]"),
                        format!(
                            "time {t} must be ≥ 0 and not before the previous entry ({last}); list actions in time order"
                        ),
                    ));
                }
                last = *t;
            }
        }
        match &self.camera {
            Camera::Fixed { x } => finite("camera.x".into(), *x)?,
            Camera::Pan { x, speed } => {
                finite("camera.x".into(), *x)?;
                finite("camera.speed".into(), *speed)?;
            }
            Camera::Path { keys } => {
                if keys.is_empty() {
                    return Err(Invalid::new("camera.keys", "is empty; give at least one (time, x) key".into()));
                }
                for (i, w) in keys.windows(2).enumerate() {
                    if w[1].0 <= w[0].0 {
                        return Err(Invalid::new(
                            &format!("camera.keys[{}]", i + 1),
                            "times must increase from key to key".into(),
                        ));
                    }
                }
                for (i, (t, x)) in keys.iter().enumerate() {
                    finite(format!("camera.keys[{i}].0"), *t)?;
                    finite(format!("camera.keys[{i}].1"), *x)?;
                }
            }
            Camera::Follow => {
                if self.player.is_none() {
                    return Err(Invalid::new(
                        "camera",
                        "is Follow but the scene has no player; add a `player` or use Fixed/Pan/Path".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A copy with size, length or seed overridden (the CLI's `--size`, `--frames`, `--seed`),
    /// validated again.
    pub fn with_overrides(
        &self,
        size: Option<(u32, u32)>,
        frames: Option<u32>,
        seed: Option<u64>,
    ) -> Result<Scene, crate::error::Invalid> {
        let mut scene = self.clone();
        if let Some((w, h)) = size {
            scene.width = w;
            scene.height = h;
        }
        if let Some(n) = frames {
            scene.frames = n;
        }
        if let Some(s) = seed {
            scene.seed = s;
        }
        scene.validate()?;
        Ok(scene)
    }
}
