//! The world's state and its physics: gravity, bounces with energy loss, sliding friction,
//! invisible stage walls, a player obeying actions, and paint that stays where it was put.
//!
//! Physics runs at a fixed sub-step rate independent of the clip's frame rate, so a scene gives
//! the same trajectory at any frame size. Objects do not collide with each other; each touches
//! only the ground and the stage walls.

use serde::Serialize;

use crate::color::NamedColor;
use crate::scene::{Action, Camera, Facing, Object, Scene, SizeClass, Terrain};

/// Physical constants of the world.
#[derive(Clone, Debug, PartialEq)]
pub struct PhysicsConfig {
    /// Downward acceleration, m/s².
    pub gravity: f32,
    /// Sub-steps per second of simulated time.
    pub substep_hz: f32,
    /// Player walking speed, m/s.
    pub walk_speed: f32,
    /// Player speed while painting, m/s.
    pub paint_speed: f32,
    /// Player take-off speed of a jump, m/s.
    pub jump_speed: f32,
    /// A bounce slower than this (m/s) comes to rest instead.
    pub rest_speed: f32,
    /// Share of speed kept when bouncing off a stage wall.
    pub wall_restitution: f32,
    /// Share of horizontal speed a ball keeps at each ground bounce.
    pub bounce_grip: f32,
    /// Half the width of the paint stripe a player leaves, m.
    pub paint_half_width: f32,
}

impl Default for PhysicsConfig {
    fn default() -> Self {
        PhysicsConfig {
            gravity: 9.81,
            substep_hz: 240.0,
            walk_speed: 2.0,
            paint_speed: 1.0,
            jump_speed: 4.5,
            rest_speed: 0.6,
            wall_restitution: 0.8,
            bounce_grip: 0.92,
            paint_half_width: 0.15,
        }
    }
}

/// How a terrain treats things that touch it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Material {
    /// Share of vertical speed a ball keeps when it bounces.
    pub restitution: f32,
    /// Deceleration of a rolling ball, m/s².
    pub rolling_decel: f32,
    /// Sliding friction coefficient of a box (deceleration = μ g).
    pub sliding_mu: f32,
}

impl Terrain {
    /// The terrain's physical material.
    pub fn material(self) -> Material {
        match self {
            Terrain::Grass => Material { restitution: 0.72, rolling_decel: 1.2, sliding_mu: 0.45 },
            Terrain::Sand => Material { restitution: 0.5, rolling_decel: 3.0, sliding_mu: 0.8 },
            Terrain::Snow => Material { restitution: 0.6, rolling_decel: 0.6, sliding_mu: 0.2 },
            Terrain::Water => Material { restitution: 0.4, rolling_decel: 2.0, sliding_mu: 0.3 },
        }
    }
}

/// Kinds of bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyKind {
    /// A ball.
    Ball,
    /// A box.
    Box,
    /// The player.
    Player,
}

impl BodyKind {
    /// The word used in captions.
    pub fn noun(self) -> &'static str {
        match self {
            BodyKind::Ball => "ball",
            BodyKind::Box => "box",
            BodyKind::Player => "player",
        }
    }
}

/// Player body: width and height (body plus head), metres.
pub const PLAYER_SIZE: (f32, f32) = (0.5, 1.25);

/// One moving thing. `y` is the height of its lowest point above the ground.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    /// What it is.
    pub kind: BodyKind,
    /// Its colour.
    pub color: NamedColor,
    /// Its size class (players are always medium).
    pub size: SizeClass,
    /// Centre, horizontally, m.
    pub x: f32,
    /// Lowest point above the ground, m.
    pub y: f32,
    /// Horizontal velocity, m/s.
    pub vx: f32,
    /// Vertical velocity, m/s (positive is up).
    pub vy: f32,
    /// Width, m (a ball's diameter).
    pub width: f32,
    /// Height, m.
    pub height: f32,
    /// Ground bounces so far.
    pub bounces: u32,
}

impl Body {
    /// A body from its scene description.
    pub fn from_object(object: &Object) -> Body {
        match *object {
            Object::Ball { color, size, x, y, vx, vy } => {
                let d = 2.0 * ball_radius(size);
                Body { kind: BodyKind::Ball, color, size, x, y, vx, vy, width: d, height: d, bounces: 0 }
            }
            Object::Box { color, size, x, y, vx } => {
                let s = box_side(size);
                Body { kind: BodyKind::Box, color, size, x, y, vx, vy: 0.0, width: s, height: s, bounces: 0 }
            }
        }
    }

    /// Centre of its bounding box, world metres.
    pub fn center(&self) -> (f32, f32) {
        (self.x, self.y + self.height / 2.0)
    }

    /// Whether it stands on the ground.
    pub fn on_ground(&self) -> bool {
        self.y <= 1e-4 && self.vy.abs() < 1e-3
    }
}

/// A ball's radius by size class, m.
pub fn ball_radius(size: SizeClass) -> f32 {
    size.pick(0.18, 0.3, 0.45)
}

/// A box's side by size class, m.
pub fn box_side(size: SizeClass) -> f32 {
    size.pick(0.4, 0.6, 0.9)
}

/// A stretch of painted ground.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PaintStroke {
    /// Left end, m.
    pub x0: f32,
    /// Right end, m.
    pub x1: f32,
    /// Paint colour.
    pub color: NamedColor,
}

/// The player's mind: where it looks and what it is doing.
#[derive(Clone, Debug, PartialEq)]
pub struct PlayerState {
    /// Index of the player's body in [`WorldState::bodies`].
    pub body: usize,
    /// Direction it looks.
    pub facing: Facing,
    /// The action in force.
    pub action: Action,
    /// Paint colour.
    pub paint: NamedColor,
}

/// Everything that changes over a clip.
#[derive(Clone, Debug, PartialEq)]
pub struct WorldState {
    /// Seconds since the clip started.
    pub time: f32,
    /// Centre of the camera's view, m.
    pub camera_x: f32,
    /// Balls and boxes in scene order, then the player.
    pub bodies: Vec<Body>,
    /// The player, if any.
    pub player: Option<PlayerState>,
    /// Paint on the ground, oldest first.
    pub paint: Vec<PaintStroke>,
    /// Whether the newest stroke is still being painted.
    painting: bool,
}

/// Steps a scene's world through time.
#[derive(Clone, Debug)]
pub struct Simulation {
    config: PhysicsConfig,
    material: Material,
    stage: f32,
    camera: Camera,
    fps: u32,
    state: WorldState,
}

impl Simulation {
    /// The world of `scene` at time 0.
    pub fn new(scene: &Scene) -> Simulation {
        Simulation::with_config(scene, PhysicsConfig::default())
    }

    /// Like [`Simulation::new`] with other physical constants.
    pub fn with_config(scene: &Scene, config: PhysicsConfig) -> Simulation {
        let mut bodies: Vec<Body> = scene.objects.iter().map(Body::from_object).collect();
        let player = scene.player.as_ref().map(|p| {
            bodies.push(Body {
                kind: BodyKind::Player,
                color: p.color,
                size: SizeClass::Medium,
                x: p.x,
                y: 0.0,
                vx: 0.0,
                vy: 0.0,
                width: PLAYER_SIZE.0,
                height: PLAYER_SIZE.1,
                bounces: 0,
            });
            PlayerState { body: bodies.len() - 1, facing: p.facing, action: p.action_at(0.0), paint: p.paint }
        });
        let mut sim = Simulation {
            config,
            material: scene.terrain.material(),
            stage: scene.stage,
            camera: scene.camera.clone(),
            fps: scene.fps,
            state: WorldState { time: 0.0, camera_x: 0.0, bodies, player, paint: Vec::new(), painting: false },
        };
        sim.state.camera_x = sim.camera_x();
        sim
    }

    /// The current state.
    pub fn state(&self) -> &WorldState {
        &self.state
    }

    /// Advances one frame (1 / fps seconds) with the player obeying `action` (ignored without
    /// a player). The action is recorded as the one in force from this frame on.
    pub fn step(&mut self, action: Action) {
        if let Some(p) = self.state.player.as_mut() {
            p.action = action;
            match action {
                Action::Left => p.facing = Facing::Left,
                Action::Right => p.facing = Facing::Right,
                _ => {}
            }
        }
        // Time from the frame counter, not accumulated sums, so frame i is exactly at i / fps.
        let next_frame = (self.state.time * self.fps as f32).round() + 1.0;
        let substeps = (self.config.substep_hz / self.fps as f32).ceil().max(1.0) as u32;
        let dt = 1.0 / (self.fps as f32 * substeps as f32);
        for _ in 0..substeps {
            self.substep(dt);
        }
        self.state.time = next_frame / self.fps as f32;
        self.state.camera_x = self.camera_x();
    }

    fn substep(&mut self, dt: f32) {
        let cfg = &self.config;
        let m = self.material;
        let player = self.state.player.clone();
        for (i, b) in self.state.bodies.iter_mut().enumerate() {
            let is_player = player.as_ref().is_some_and(|p| p.body == i);
            if is_player {
                let p = player.as_ref().expect("checked above");
                b.vx = match p.action {
                    Action::Left => -cfg.walk_speed,
                    Action::Right => cfg.walk_speed,
                    Action::Paint => p.facing.sign() * cfg.paint_speed,
                    Action::Jump | Action::Stand => 0.0,
                };
                if p.action == Action::Jump && b.on_ground() {
                    b.vy = cfg.jump_speed;
                }
            }
            let grounded = b.on_ground();
            if !grounded || b.vy > 0.0 {
                b.vy -= cfg.gravity * dt;
            }
            b.x += b.vx * dt;
            b.y += b.vy * dt;
            if b.y < 0.0 {
                b.y = 0.0;
                if b.vy < 0.0 {
                    let rebound = -b.vy * m.restitution;
                    if b.kind == BodyKind::Ball && rebound > cfg.rest_speed {
                        b.vy = rebound;
                        b.vx *= cfg.bounce_grip;
                        b.bounces += 1;
                    } else {
                        b.vy = 0.0;
                    }
                }
            }
            if b.on_ground() && !is_player {
                let decel = match b.kind {
                    BodyKind::Ball => m.rolling_decel,
                    _ => m.sliding_mu * cfg.gravity,
                };
                b.vx = b.vx.signum() * (b.vx.abs() - decel * dt).max(0.0);
            }
            let half = b.width / 2.0;
            if b.x - half < -self.stage || b.x + half > self.stage {
                b.x = b.x.clamp(-self.stage + half, self.stage - half);
                b.vx = if b.kind == BodyKind::Ball { -b.vx * cfg.wall_restitution } else { 0.0 };
            }
        }
        self.paint();
        self.state.time += dt;
    }

    fn paint(&mut self) {
        let Some(p) = &self.state.player else { return };
        let body = &self.state.bodies[p.body];
        let painting = p.action == Action::Paint && body.on_ground();
        if painting {
            let (x0, x1) = (body.x - self.config.paint_half_width, body.x + self.config.paint_half_width);
            match self.state.paint.last_mut() {
                Some(s) if self.state.painting => {
                    s.x0 = s.x0.min(x0);
                    s.x1 = s.x1.max(x1);
                }
                _ => self.state.paint.push(PaintStroke { x0, x1, color: p.paint }),
            }
        }
        self.state.painting = painting;
    }

    /// Where the camera looks at the current time.
    fn camera_x(&self) -> f32 {
        let t = self.state.time;
        match &self.camera {
            Camera::Fixed { x } => *x,
            Camera::Pan { x, speed } => x + speed * t,
            Camera::Path { keys } => path_at(keys, t),
            Camera::Follow => self.state.player.as_ref().map_or(0.0, |p| self.state.bodies[p.body].x),
        }
    }
}

/// Piecewise-linear interpolation of `(time, value)` keys, holding at both ends.
pub fn path_at(keys: &[(f32, f32)], t: f32) -> f32 {
    match keys {
        [] => 0.0,
        [first, ..] if t <= first.0 => first.1,
        [.., last] if t >= last.0 => last.1,
        _ => {
            let i = keys.iter().position(|k| k.0 > t).unwrap_or(keys.len() - 1);
            let (a, b) = (keys[i - 1], keys[i]);
            a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0)
        }
    }
}

/// The world state at every frame of `scene` (index `i` is time `i / fps`), with the player
/// following the scene's action script.
pub fn simulate(scene: &Scene) -> Vec<WorldState> {
    let mut sim = Simulation::new(scene);
    let mut states = Vec::with_capacity(scene.frames as usize);
    for i in 0..scene.frames {
        let action = scene.player.as_ref().map_or(Action::Stand, |p| p.action_at(i as f32 / scene.fps as f32));
        // Frame i shows the world at time i / fps and records the command in force from it on;
        // the command's effect shows from frame i + 1.
        let mut state = sim.state().clone();
        if let Some(p) = state.player.as_mut() {
            p.action = action;
        }
        states.push(state);
        if i + 1 < scene.frames {
            sim.step(action);
        }
    }
    states
}
