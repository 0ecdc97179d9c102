//! A clip: a scene run through physics, rendered, measured and captioned.

use crate::captions::{Captions, describe};
use crate::frame::Frame;
use crate::physics::simulate;
use crate::render::Renderer;
use crate::scene::Scene;
use crate::truth::{FrameTruth, TruthProbe};

/// Everything the world knows about one clip.
#[derive(Clone, Debug)]
pub struct Clip {
    /// The scene it came from (after any overrides).
    pub scene: Scene,
    /// Rendered frames.
    pub frames: Vec<Frame>,
    /// Ground truth per frame.
    pub truth: Vec<FrameTruth>,
    /// Caption, prompt and per-frame action captions.
    pub captions: Captions,
}

impl Clip {
    /// Simulates, renders, measures and captions `scene`.
    pub fn render(scene: &Scene) -> Clip {
        let states = simulate(scene);
        let renderer = Renderer::new(scene);
        let frames = states.iter().map(|s| renderer.render(s)).collect();
        let (truth, captions) = measure(scene, &states);
        Clip { scene: scene.clone(), frames, truth, captions }
    }

    /// The ground truth and captions of `scene` without rendering a pixel.
    pub fn truth(scene: &Scene) -> (Vec<FrameTruth>, Captions) {
        measure(scene, &simulate(scene))
    }
}

fn measure(scene: &Scene, states: &[crate::physics::WorldState]) -> (Vec<FrameTruth>, Captions) {
    let probe = TruthProbe::new(scene);
    let truth: Vec<FrameTruth> = states.iter().enumerate().map(|(i, s)| probe.measure(i as u32, s)).collect();
    let captions = describe(scene, &truth);
    (truth, captions)
}
