//! The CPU convolution as shifted-window matrix products. Each input frame is laid out once as
//! zero-padded planes, split by phase when the spatial stride is above 1 (plane `(py, px)` holds
//! the padded pixels `(qy · sh + py, qx · sw + px)`), so that every kernel tap `(b, e)` reads a
//! *contiguous* window of one plane: output pixel `(oy, ox)` ↦ plane row `oy + b / sh`, column
//! `ox + e / sw`. With the output laid out at the planes' width, one tap is one matrix product
//! `[pixels, c_in] · [c_in, c_out]` straight from the planes (no unfold), the forward is their
//! sum over taps, the weight gradient their transposes, and the input gradient the same products
//! scattered back into planes. The columns past the output width are scratch (forward) or zero
//! (gradients). For kernels wider than their stride the forward uses the same planes laid out
//! channels-last (`planes_channels_last`): a pixel's `c_in` values are adjacent, so the windows
//! of the horizontal taps sharing a phase are one `[pixels, taps · c_in]` view, with the weight
//! packed to match (`weight_channels_last`) and the products written back channel-major
//! (`output_from_channels_last`).

use std::borrow::Cow;

use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

/// Rows per tile of the products (output pixels). Measured (`cargo bench --bench vae`): at
/// 256×256 tiles of 4,096 or 2,048 rows are equally fast and ~13 % faster than none; at 64×64
/// (4,224 rows) tiling makes no difference, and 4,096 keeps the gemm calls fewer.
const PIXEL_TILE: usize = 4096;

/// Rows per task of the forward (output pixels, channels-last): a task's products (`rows ×
/// c_out`) stay in L2 across its taps.
const FORWARD_TILE: usize = 1024;

/// Output channels per task when the forward's channels-last products are written back
/// channel-major: each task reads `OUT_CHANNELS` neighbouring values of a pixel at once.
const OUT_CHANNELS: usize = 8;

/// Where frame `(n, t)` of a `[.., channels, pixels]` operand starts, and its channel stride.
#[derive(Clone, Copy, Debug)]
pub struct Frames {
    sample: usize,
    frame: usize,
    pub channel: usize,
}

impl Frames {
    /// Offset of frame `t` of sample `n`.
    pub fn at(&self, n: usize, t: usize) -> usize {
        n * self.sample + t * self.frame
    }
}

/// The sizes of one convolution (groups 1, dilation 1) and of its input planes.
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    pub batch: usize,
    /// Input channels, frames, height, width.
    pub ci: usize,
    pub t: usize,
    pub h: usize,
    pub w: usize,
    /// Output channels, frames, height, width.
    pub co: usize,
    pub to: usize,
    pub ho: usize,
    pub wo: usize,
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
}

impl Geometry {
    /// The geometry of `x` `[batch, c_in, t, h, w]` convolved with `weight` `[c_out, c_in, kt,
    /// kh, kw]`.
    pub fn new(x: &[usize], weight: &[usize], options: &ConvOptions<3>) -> Self {
        let out = |i: usize, k: usize, len: usize| (len + 2 * options.padding[i] - k) / options.stride[i] + 1;
        let kernel = [weight[2], weight[3], weight[4]];
        Geometry {
            batch: x[0],
            ci: x[1],
            t: x[2],
            h: x[3],
            w: x[4],
            co: weight[0],
            to: out(0, kernel[0], x[2]),
            ho: out(1, kernel[1], x[3]),
            wo: out(2, kernel[2], x[4]),
            kernel,
            stride: options.stride,
            padding: options.padding,
        }
    }

    /// Whether `x` and `weight` make a convolution with at least one output value per axis
    /// and non-empty channels (anything else is left to burn, which reports it).
    pub fn fits(x: &[usize], weight: &[usize], options: &ConvOptions<3>) -> bool {
        let axes_fit = || (0..3).all(|i| x[2 + i] + 2 * options.padding[i] >= weight[2 + i] && options.stride[i] > 0);
        x.len() == 5 && weight.len() == 5 && x[1] == weight[1] && x[0] * x[1] * weight[0] > 0 && axes_fit()
    }

    /// Taps of one input channel: `kt · kh · kw`.
    pub fn taps(&self) -> usize {
        self.kernel.iter().product()
    }

    /// Index of tap `(a, b, e)` within a channel's taps.
    pub fn tap(&self, a: usize, b: usize, e: usize) -> usize {
        (a * self.kernel[1] + b) * self.kernel[2] + e
    }

    /// Phases in height and width (`min(stride, kernel)`: the ones some tap reads).
    fn phases(&self) -> [usize; 2] {
        [self.stride[1].min(self.kernel[1]), self.stride[2].min(self.kernel[2])]
    }

    /// Width of a plane (and of the output rows the products write).
    fn plane_width(&self) -> usize {
        self.wo + (self.kernel[2] - 1) / self.stride[2]
    }

    /// Rows of a plane.
    fn plane_height(&self) -> usize {
        self.ho + (self.kernel[1] - 1) / self.stride[1]
    }

    /// Values of one plane: its rows, plus the columns the last tap's window reads past them.
    fn plane_len(&self) -> usize {
        self.plane_height() * self.plane_width() + (self.kernel[2] - 1) / self.stride[2]
    }

    /// Values of one channel of one frame: all its planes.
    pub fn channel_len(&self) -> usize {
        let [py, px] = self.phases();
        py * px * self.plane_len()
    }

    /// Rows of every tap's product: output pixels at the planes' width.
    pub fn rows(&self) -> usize {
        self.ho * self.plane_width()
    }

    /// The products' rows in tiles `(first, len)` of near-equal length: every tap of a tile is done before the next
    /// tile, so the tile's products and windows stay in cache across taps.
    pub fn tiles(&self) -> impl Iterator<Item = (usize, usize)> {
        // Equal tiles of at most `PIXEL_TILE` rows, a multiple of 16 (one AVX-512 vector).
        let rows = self.rows();
        let tile = rows.div_ceil(rows.div_ceil(PIXEL_TILE).max(1)).next_multiple_of(16).max(16);
        (0..rows).step_by(tile).map(move |first| (first, tile.min(rows - first)))
    }

    /// Where tap `(b, e)`'s window starts within a channel's planes.
    pub fn window(&self, b: usize, e: usize) -> usize {
        let [sh, sw] = [self.stride[1], self.stride[2]];
        let phase = (b % sh) * self.phases()[1] + e % sw;
        phase * self.plane_len() + (b / sh) * self.plane_width() + e / sw
    }

    /// The input frame temporal tap `a` of output frame `ot` reads (`None` in the padding).
    pub fn input_frame(&self, ot: usize, a: usize) -> Option<usize> {
        (ot * self.stride[0] + a).checked_sub(self.padding[0]).filter(|&it| it < self.t)
    }

    /// Whether the planes are the input frames themselves (a `1×1` window, stride 1, no padding).
    fn planes_are_input(&self) -> bool {
        self.kernel[1..] == [1, 1] && self.stride[1..] == [1, 1] && self.padding[1..] == [0, 0]
    }

    /// Whether the products' rows are the output rows (no scratch columns).
    fn rows_are_output(&self) -> bool {
        self.plane_width() == self.wo
    }

    /// Frames of a `[batch, channels, frames, pixels]` tensor.
    fn channel_major(channels: usize, frames: usize, pixels: usize) -> Frames {
        Frames { sample: channels * frames * pixels, frame: pixels, channel: frames * pixels }
    }

    /// Frames of a `[batch, frames, channels, pixels]` buffer.
    fn frame_major(channels: usize, frames: usize, pixels: usize) -> Frames {
        Frames { sample: frames * channels * pixels, frame: channels * pixels, channel: pixels }
    }

    /// The input row that row `qy` of the planes of vertical phase `py` holds (`None` in the
    /// padding).
    fn input_row(&self, qy: usize, py: usize) -> Option<usize> {
        (qy * self.stride[1] + py).checked_sub(self.padding[1]).filter(|&y| y < self.h)
    }

    /// The columns of a plane of horizontal phase `px` that hold input pixels: column `qx`
    /// reads input column `qx · sw + px − pw`.
    fn plane_columns(&self, px: usize) -> std::ops::Range<usize> {
        let ([sw, pw], w) = ([self.stride[2], self.padding[2]], self.w);
        let lo = pw.saturating_sub(px).div_ceil(sw);
        let hi = (w + pw).checked_sub(px).map_or(0, |v| v.div_ceil(sw)).min(self.plane_width());
        lo..hi.max(lo)
    }

    /// The input's planes, frame-major `[batch, t, c_in, planes]` (or the input itself when
    /// they are the same).
    ///
    /// # Shapes
    /// - `x` `[batch, c_in, t, h, w]`
    pub fn planes<'a>(&self, x: &'a [f32]) -> (Cow<'a, [f32]>, Frames) {
        let Geometry { ci, t, h, w, .. } = *self;
        if self.planes_are_input() {
            return (Cow::Borrowed(x), Self::channel_major(ci, t, h * w));
        }
        let (len, wq, hq) = (self.plane_len(), self.plane_width(), self.plane_height());
        let [phy, phx] = self.phases();
        let sw = self.stride[2];
        let pw = self.padding[2];
        let channel = self.channel_len();
        let mut planes = vec![0.0f32; self.batch * t * ci * channel];
        planes.par_chunks_mut(ci * channel).enumerate().for_each(|(frame, out)| {
            let (n, it) = (frame / t, frame % t);
            for c in 0..ci {
                let src = &x[((n * ci + c) * t + it) * h * w..][..h * w];
                for py in 0..phy {
                    for px in 0..phx {
                        let plane = &mut out[c * channel + (py * phx + px) * len..][..len];
                        for qy in 0..hq {
                            let Some(y) = self.input_row(qy, py) else { continue };
                            let row = &src[y * w..(y + 1) * w];
                            let dst = &mut plane[qy * wq..(qy + 1) * wq];
                            for qx in self.plane_columns(px) {
                                dst[qx] = row[qx * sw + px - pw];
                            }
                        }
                    }
                }
            }
        });
        (Cow::Owned(planes), Self::frame_major(ci, t, channel))
    }

    /// The forward's tiles of a frame's rows `(first, len)`: near-equal, at most
    /// `FORWARD_TILE` rows, and enough of them that `frames` frames make a few tasks per thread.
    pub fn forward_tiles(&self, frames: usize, threads: usize) -> impl Iterator<Item = (usize, usize)> {
        let rows = self.rows();
        let wanted = (4 * threads).div_ceil(frames.max(1)).max(rows.div_ceil(FORWARD_TILE));
        let tile = rows.div_ceil(wanted).next_multiple_of(16).max(16);
        (0..rows).step_by(tile).map(move |first| (first, tile.min(rows - first)))
    }

    /// Whether some horizontal taps share a phase (the kernel is wider than its stride).
    pub fn merges_taps(&self) -> bool {
        self.kernel[2] > self.stride[2]
    }

    /// Horizontal taps of phase `px` (`e = px, px + sw, …`): consecutive columns of one plane.
    pub fn phase_taps(&self, px: usize) -> usize {
        (self.kernel[2] - px).div_ceil(self.stride[2])
    }

    /// Horizontal phases some tap reads.
    pub fn horizontal_phases(&self) -> usize {
        self.phases()[1]
    }

    /// Values of one frame of the channels-last planes.
    pub fn frame_len_channels_last(&self) -> usize {
        self.channel_len() * self.ci
    }

    /// Where the window of taps `(b, px + j · sw)` (every `j`) starts within a frame of the
    /// channels-last planes, in values.
    pub fn window_channels_last(&self, b: usize, px: usize) -> usize {
        self.window(b, px) * self.ci
    }

    /// The input's planes channels-last, `[batch, t, planes, c_in]`: each padded pixel holds its
    /// `c_in` values together, so the windows of a phase's horizontal taps are one
    /// `[pixels, taps · c_in]` view (row stride `c_in`).
    ///
    /// # Shapes
    /// - `x` `[batch, c_in, t, h, w]`
    pub fn planes_channels_last(&self, x: &[f32]) -> Vec<f32> {
        let Geometry { ci, t, h, w, .. } = *self;
        let (len, wq, hq) = (self.plane_len(), self.plane_width(), self.plane_height());
        let [phy, phx] = self.phases();
        let sw = self.stride[2];
        let pw = self.padding[2];
        let mut planes = vec![0.0f32; self.batch * t * self.frame_len_channels_last()];
        planes.par_chunks_mut(self.frame_len_channels_last()).enumerate().for_each(|(frame, out)| {
            let (n, it) = (frame / t, frame % t);
            for py in 0..phy {
                for px in 0..phx {
                    let plane = &mut out[(py * phx + px) * len * ci..][..len * ci];
                    for qy in 0..hq {
                        let Some(y) = self.input_row(qy, py) else { continue };
                        // One plane row of every channel: `wq × c_in` values, in cache.
                        let dst = &mut plane[qy * wq * ci..(qy + 1) * wq * ci];
                        for c in 0..ci {
                            let row = &x[((n * ci + c) * t + it) * h * w + y * w..][..w];
                            for qx in self.plane_columns(px) {
                                dst[qx * ci + c] = row[qx * sw + px - pw];
                            }
                        }
                    }
                }
            }
        });
        planes
    }

    /// The weight as the forward reads it: for each `(a, b, px)`, the `[taps · c_in, c_out]`
    /// matrix of that phase's horizontal taps (row `j · c_in + c` is tap `e = px + j · sw` of
    /// channel `c`), one after another; and where each starts.
    ///
    /// # Shapes
    /// - `weight` `[c_out, c_in, kt, kh, kw]`
    pub fn weight_channels_last(&self, weight: &[f32]) -> (Vec<f32>, Vec<usize>) {
        let Geometry { ci, co, .. } = *self;
        let ([kt, kh, kw], sw, taps) = (self.kernel, self.stride[2], self.taps());
        let mut packed = Vec::with_capacity(weight.len());
        let mut starts = Vec::new();
        for a in 0..kt {
            for b in 0..kh {
                for px in 0..self.horizontal_phases() {
                    starts.push(packed.len());
                    for j in 0..self.phase_taps(px) {
                        let e = px + j * sw;
                        for c in 0..ci {
                            packed.extend((0..co).map(|o| weight[(o * ci + c) * taps + (a * kh + b) * kw + e]));
                        }
                    }
                }
            }
        }
        (packed, starts)
    }

    /// The output `[batch, c_out, t', h', w']` from the forward's channels-last products
    /// `[batch, t', rows, c_out]`, scratch columns dropped and `bias` added.
    pub fn output_from_channels_last(&self, products: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let Geometry { co, to, ho, wo, .. } = *self;
        let (rows, wq, slab) = (self.rows(), self.plane_width(), to * ho * wo);
        let mut y = vec![0.0f32; self.batch * co * slab];
        // Tasks of `OUT_CHANNELS` output channels of one sample (never across samples).
        let per_sample = co.div_ceil(OUT_CHANNELS);
        let mut tasks: Vec<(usize, usize, &mut [f32])> = Vec::new();
        for (n, sample) in y.chunks_mut(co * slab).enumerate() {
            for (i, part) in sample.chunks_mut(OUT_CHANNELS * slab).enumerate() {
                tasks.push((n, i * OUT_CHANNELS, part));
            }
        }
        debug_assert_eq!(tasks.len(), self.batch * per_sample);
        tasks.into_par_iter().for_each(|(n, o0, out)| {
            let channels = out.len() / slab;
            for ot in 0..to {
                let frame = &products[(n * to + ot) * rows * co..][..rows * co];
                for oy in 0..ho {
                    for ox in 0..wo {
                        let src = &frame[(oy * wq + ox) * co + o0..][..channels];
                        for (k, &v) in src.iter().enumerate() {
                            out[k * slab + (ot * ho + oy) * wo + ox] = v + bias.map_or(0.0, |b| b[o0 + k]);
                        }
                    }
                }
            }
        });
        y
    }

    /// A `[batch, c_out, t', h', w']` tensor (an output gradient) at the products' row width,
    /// frame-major `[batch, t', c_out, rows]` with zeros in the scratch columns (or the tensor
    /// itself when no columns are added).
    pub fn out_rows<'a>(&self, dy: &'a [f32]) -> (Cow<'a, [f32]>, Frames) {
        let Geometry { co, to, ho, wo, .. } = *self;
        if self.rows_are_output() {
            return (Cow::Borrowed(dy), Self::channel_major(co, to, ho * wo));
        }
        let (rows, wq) = (self.rows(), self.plane_width());
        let mut out = vec![0.0f32; self.batch * to * co * rows];
        out.par_chunks_mut(co * rows).enumerate().for_each(|(frame, out)| {
            let (n, ot) = (frame / to, frame % to);
            for o in 0..co {
                let src = &dy[((n * co + o) * to + ot) * ho * wo..][..ho * wo];
                for oy in 0..ho {
                    out[o * rows + oy * wq..][..wo].copy_from_slice(&src[oy * wo..(oy + 1) * wo]);
                }
            }
        });
        (Cow::Owned(out), Self::frame_major(co, to, rows))
    }

    /// The output `[batch, c_out, t', h', w']` from the products' frame-major rows `[batch, t',
    /// c_out, rows]`, scratch columns dropped and `bias` added.
    pub fn output(&self, rows_buf: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let Geometry { co, to, ho, wo, .. } = *self;
        let (rows, wq) = (self.rows(), self.plane_width());
        let mut y = vec![0.0f32; self.batch * co * to * ho * wo];
        y.par_chunks_mut(to * ho * wo).enumerate().for_each(|(slab, out)| {
            let (n, o) = (slab / co, slab % co);
            let b = bias.map_or(0.0, |b| b[o]);
            for ot in 0..to {
                let src = &rows_buf[((n * to + ot) * co + o) * rows..][..rows];
                for oy in 0..ho {
                    let dst = &mut out[(ot * ho + oy) * wo..][..wo];
                    for (d, &s) in dst.iter_mut().zip(&src[oy * wq..oy * wq + wo]) {
                        *d = s + b;
                    }
                }
            }
        });
        y
    }

    /// The input gradient `[batch, c_in, t, h, w]` from gradients of the planes, frame-major
    /// `[batch, t, c_in, planes]` (padding and unread pixels dropped).
    pub fn input_from_planes(&self, planes: &[f32]) -> Vec<f32> {
        let Geometry { ci, t, h, w, .. } = *self;
        let (len, wq, hq, channel) = (self.plane_len(), self.plane_width(), self.plane_height(), self.channel_len());
        let [phy, phx] = self.phases();
        let [_, sh, sw] = self.stride;
        let [_, ph, pw] = self.padding;
        let mut dx = vec![0.0f32; self.batch * ci * t * h * w];
        dx.par_chunks_mut(t * h * w).enumerate().for_each(|(slab, out)| {
            let (n, c) = (slab / ci, slab % ci);
            for it in 0..t {
                let src = &planes[((n * t + it) * ci + c) * channel..][..channel];
                for y in 0..h {
                    let (py, qy) = ((y + ph) % sh, (y + ph) / sh);
                    if py >= phy || qy >= hq {
                        continue;
                    }
                    let dst = &mut out[(it * h + y) * w..][..w];
                    for (x, d) in dst.iter_mut().enumerate() {
                        let (px, qx) = ((x + pw) % sw, (x + pw) / sw);
                        if px < phx && qx < wq {
                            *d = src[(py * phx + px) * len + qy * wq + qx];
                        }
                    }
                }
            }
        });
        dx
    }
}
