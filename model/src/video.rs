//! Conversions between RGB8 frames and video tensors `[batch, 3, frames, height, width]` with
//! values in `[-1, 1]`.

use burn::prelude::*;
use worldsim_scenes::Frame;

/// A clip ready for the model: `[3, frames, height, width]` values in `[-1, 1]`.
#[derive(Clone, Debug)]
pub struct VideoSample {
    /// Frames.
    pub frames: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
    /// Channel-major values.
    pub data: Vec<f32>,
}

impl VideoSample {
    /// Converts RGB8 frames (all the same size) into a sample.
    pub fn from_frames(frames: &[Frame]) -> Self {
        let (w, h, t) = (frames[0].width as usize, frames[0].height as usize, frames.len());
        let mut data = vec![0.0; 3 * t * h * w];
        for (f, frame) in frames.iter().enumerate() {
            for (p, px) in frame.rgb.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    data[(c * t + f) * h * w + p] = f32::from(px[c]) / 127.5 - 1.0;
                }
            }
        }
        VideoSample { frames: t, height: h, width: w, data }
    }

    /// The sample as a batch of one.
    ///
    /// # Shapes
    /// - output `[1, 3, frames, height, width]`
    pub fn tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 5> {
        Tensor::<B, 1>::from_floats(self.data.as_slice(), device).reshape([1, 3, self.frames, self.height, self.width])
    }
}

/// The frames of the first clip of a video tensor (values clamped to `[-1, 1]`).
///
/// # Shapes
/// - input `[batch, 3, frames, height, width]`
pub fn frames_from_tensor<B: Backend>(x: Tensor<B, 5>) -> Vec<Frame> {
    let [_, _, t, h, w] = x.dims();
    let values: Vec<f32> = x.narrow(0, 0, 1).into_data().to_vec().unwrap_or_default();
    (0..t)
        .map(|f| {
            let mut rgb = vec![0u8; h * w * 3];
            for c in 0..3 {
                for p in 0..h * w {
                    let v = values[(c * t + f) * h * w + p];
                    rgb[p * 3 + c] = ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8;
                }
            }
            Frame { width: w as u32, height: h as u32, rgb }
        })
        .collect()
}
