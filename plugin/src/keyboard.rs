//! Keys as action captions: a stream with [`ActionKeys`] takes its [`StreamAction`] from the
//! keyboard (arrows walk, space jumps, P paints, nothing held stands still).

use bevy::input::ButtonInput;
use bevy::prelude::*;
use worldsim_scenes::scene::Action;

use crate::components::StreamAction;

/// Steer this stream's player with the keyboard.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct ActionKeys;

/// The keys and what they do, for help texts.
pub const KEY_HINTS: [(&str, &str); 5] = [
    ("Left", "the player moves left"),
    ("Right", "the player moves right"),
    ("Space", "the player jumps"),
    ("P", "the player paints"),
    ("(none)", "the player stands still"),
];

/// The player command the held keys mean (`Stand` when none is held).
pub fn action_from_keys(keys: &ButtonInput<KeyCode>) -> Action {
    if keys.pressed(KeyCode::Space) {
        Action::Jump
    } else if keys.pressed(KeyCode::ArrowLeft) {
        Action::Left
    } else if keys.pressed(KeyCode::ArrowRight) {
        Action::Right
    } else if keys.pressed(KeyCode::KeyP) {
        Action::Paint
    } else {
        Action::Stand
    }
}

/// Sets the action of every [`ActionKeys`] stream from the keyboard (only when it changes, so
/// the worker hears each change once).
pub fn keys_to_actions(
    keys: Option<Res<ButtonInput<KeyCode>>>,
    mut streams: Query<&mut StreamAction, With<ActionKeys>>,
) {
    let Some(keys) = keys else { return };
    let wanted = StreamAction::player(action_from_keys(&keys));
    for mut action in &mut streams {
        action.set_if_neq(wanted.clone());
    }
}
