//! The closed vocabulary of the world's captions, prompts and action captions.
//!
//! Words are lower-case runs of letters; punctuation and digits are not words. A text model
//! trained on this world knows exactly these words; anything else a user types is unknown to
//! it. `scenes/VOCABULARY.md` documents the same list (a test keeps it in step).

use std::collections::BTreeSet;

use crate::color::NamedColor;
use crate::physics::BodyKind;
use crate::scene::{Action, SizeClass, Sky, Terrain};

/// Every fixed phrase the captioner writes around the names of colours, sizes, terrains,
/// skies, actions and kinds.
const PHRASES: &[&str] = &[
    // the place and light
    "A sunny day on a green grassy meadow, seen from the side. The sky is blue with white clouds.",
    "on a sandy beach on a snowy field over calm blue water",
    "Dusk, seen from the side. The sun sets low under an orange and purple sky, and the light is warm.",
    "Night, seen from the side. The sky is dark with stars and a pale moon, and everything is dim and blue.",
    "Blue mountains and green hills stand in the background.",
    "Brown mountains and sand dunes stand in the background.",
    "Snowy mountains and white hills stand in the background.",
    "Blue mountains and a green shore stand in the background.",
    // objects and their motion
    "A An player on the left in the middle on the right",
    "stands on the rests on the is in the air",
    "falls and bounces once twice three times four times many times on the, lower each time, moving to the right to the left",
    "falls through the air falls and lands on the rolls and stops",
    "falls to the, then slides and stops stands still on the",
    "walks left walks right jumps stands still paints a trail on the ground first, then",
    ", out of view, and comes into view",
    "The leaves the view and comes back.",
    // occluders and occlusion
    "A tree pillar stands in the foreground",
    "The passes partly behind the stays hidden behind the starts hidden behind the and comes out",
    "goes behind the and stays hidden passes behind the and comes out again",
    "The paint stays on the ground where it was put.",
    // the camera
    "The camera follows the player. The camera is still. The camera pans, then holds still pans back",
    // prompts
    "ball bouncing falling rolling resting box falling sliding player walking left walking right jumping standing painting",
    "one two three four several more thing things empty landscape of at dusk at night",
    ", camera following the player, camera panning right left back and forth",
    // action captions
    "the player moves left the player moves right the player jumps the player stands still the player paints",
    "the camera pans right the camera pans left the camera holds still",
];

/// Splits text into vocabulary words: lower-case runs of ASCII letters.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_ascii_alphabetic()).filter(|w| !w.is_empty()).map(str::to_ascii_lowercase)
}

/// Every word the world's texts can contain, sorted.
pub fn vocabulary() -> BTreeSet<String> {
    let names = NamedColor::ALL
        .iter()
        .map(|c| c.name())
        .chain(SizeClass::ALL.iter().map(|s| s.name()))
        .chain(Terrain::ALL.iter().map(|t| t.name()))
        .chain(Sky::ALL.iter().map(|s| s.name()))
        .chain(Action::ALL.iter().map(|a| a.name()))
        .chain([BodyKind::Ball, BodyKind::Box, BodyKind::Player].iter().map(|k| k.noun()));
    names.chain(PHRASES.iter().copied()).flat_map(words).collect()
}
