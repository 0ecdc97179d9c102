//! Motion supervision of the action displacements: the ground truth says how far the player
//! moved on screen from one latent frame to the next, and the first head of every block is
//! taught to displace its frame's positions by the opposite of that move, from the frame's
//! action caption alone ([`motion_loss`]). That head then sees the player where it was, so
//! reading the past at "the same place" follows the player — what the flow loss alone did not
//! find from displacements that start at zero. Only the displacement layer and the text encoder
//! get this gradient; at run time the caption's displacement is the mean move the world made
//! under that caption.

use burn::prelude::*;
use burn::tensor::{Int, TensorData};
use worldsim_scenes::physics::BodyKind;
use worldsim_scenes::truth::FrameTruth;

use super::action_shift::AXES;
use super::denoiser::Denoiser;
use super::train::LatentSample;
use crate::prompting::roles::pixel_span;
use crate::text::Tokenizer;

/// A visible share below this, in either frame, leaves a move unmeasured.
const MIN_VISIBLE: f32 = 0.5;

/// The player's on-screen move into each latent frame, `(down, right)` in patches of `cell`
/// pixels, between the mean centres of the pixel frames of that latent frame and of the one
/// before it; `None` for the first frame and where the player is missing or mostly hidden.
pub fn player_motion(
    truth: &[FrameTruth],
    latent_frames: usize,
    temporal: usize,
    cell: usize,
) -> Vec<Option<[f32; 2]>> {
    let centre = |f: usize| -> Option<[f32; 2]> {
        let span = pixel_span(f, temporal);
        let mut sum = [0.0f32; 2];
        for i in span.clone() {
            let p = truth.get(i)?.objects.iter().find(|o| o.kind == BodyKind::Player)?;
            if p.visible_fraction < MIN_VISIBLE {
                return None;
            }
            sum = [sum[0] + p.pixel.y, sum[1] + p.pixel.x];
        }
        let n = span.len() as f32;
        Some([sum[0] / n, sum[1] / n])
    };
    let centres: Vec<Option<[f32; 2]>> = (0..latent_frames).map(centre).collect();
    (0..latent_frames)
        .map(|f| {
            let (a, b) = (centres.get(f.checked_sub(1)?)?.as_ref()?, centres[f].as_ref()?);
            Some([(b[0] - a[0]) / cell as f32, (b[1] - a[1]) / cell as f32])
        })
        .collect()
}

/// Mean squared error, in patches², between the first head's displacement in every block under
/// each latent frame's action caption and the opposite of the player's measured move into that
/// frame, over the frames of `batch` that have both; `None` when none has.
///
/// # Shapes
/// - output `[1]`
pub fn motion_loss<B: Backend>(
    denoiser: &Denoiser<B>,
    tokenizer: &Tokenizer,
    batch: &[LatentSample],
    heads: usize,
    device: &B::Device,
) -> Option<Tensor<B, 1>> {
    let mut texts = Vec::new();
    let mut targets: Vec<f32> = Vec::new();
    for s in batch {
        for (action, motion) in s.actions.iter().zip(&s.motion) {
            if let (Some([down, right]), Ok(tokens)) = (motion, tokenizer.encode(action)) {
                texts.push(tokens);
                targets.extend([-down, -right]);
            }
        }
    }
    if texts.is_empty() {
        return None;
    }
    let pooled = denoiser.text.forward(&texts, device).pooled; // [k, text_dim]
    let all = denoiser.dit.action_displacement(pooled)?; // [k, depth · heads · 2]
    let depth = all.dims()[1] / (heads * AXES);
    let columns: Vec<i64> = (0..depth).flat_map(|b| (0..AXES).map(move |a| (b * heads * AXES + a) as i64)).collect();
    let first_heads = all.select(1, Tensor::<B, 1, Int>::from_ints(columns.as_slice(), device)); // [k, depth · 2]
    let k = texts.len();
    let target = Tensor::<B, 2>::from_data(TensorData::new(targets, [k, AXES]), device).repeat_dim(1, depth); // [k, depth · 2]
    Some((first_heads - target).powi_scalar(2).mean())
}
