//! # worldsim-scenes: the ground-truth world
//!
//! A small procedural 2D world, seen from the side, that makes the training data of worldsim's
//! video model and is the truth its simulations are judged against. It renders any size from
//! 16×16 to 1024×1024 and any aspect ratio, any number of frames, deterministically from a scene
//! and a seed, and it knows the true state of every object in every frame.
//!
//! ```
//! use worldsim_scenes::{Clip, Scene};
//!
//! let scene = Scene::parse(r#"Scene(
//!     name: "demo", width: 64, height: 48, frames: 9, seed: 1,
//!     terrain: snow, sky: night,
//!     objects: [Ball(color: red, size: large, x: 0.0, y: 2.0)],
//! )"#, "<doc>").unwrap();
//! let clip = Clip::render(&scene);
//! assert_eq!(clip.frames.len(), 9);
//! assert_eq!(clip.captions.prompt, "red ball bouncing on snow at night");
//! assert_eq!(clip.truth[0].objects[0].id, "ball0");
//! ```
//!
//! Modules, by concern: [`scene`] (definitions and validation), [`physics`] (state and motion),
//! [`render`] with [`scenery`], [`geometry`], [`shape`] and [`view`] (pixels), [`truth`]
//! (what is where), [`captions`] and [`vocabulary`] (language), [`clip`] (all of it for one
//! scene), [`random`] (training scenes), [`dataset`] and [`media`] (files).
#![warn(missing_docs)]

pub mod captions;
pub mod clip;
pub mod color;
pub mod dataset;
pub mod error;
pub mod fidelity;
pub mod frame;
pub mod geometry;
pub mod media;
pub mod physics;
pub mod prompt;
pub mod random;
pub mod render;
pub mod rng;
pub mod scene;
pub mod scenery;
pub mod shape;
pub mod truth;
pub mod view;
pub mod vocabulary;

pub use captions::{Captions, action_caption};
pub use clip::Clip;
pub use color::NamedColor;
pub use error::{DatasetError, Invalid, MediaError, SceneError};
pub use frame::Frame;
pub use physics::{Simulation, WorldState, simulate};
pub use render::Renderer;
pub use scene::{Action, Camera, Object, Occluder, Player, Scene, SizeClass, Sky, Terrain};
pub use truth::{FrameTruth, ObjectTruth, Visibility};
