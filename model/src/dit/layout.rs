//! Patch n' Pack: samples of different durations, sizes and text lengths share one batch as
//! rows of packed tokens, each row holding whole samples one after another (padding only at a
//! row's end). The layout knows where every sample sits and builds the attention masks that keep
//! samples apart: block-diagonal, and within a sample either bidirectional or frame-causal (a
//! token sees its own latent frame and the frames before it).

use burn::prelude::*;
use burn::tensor::{Bool, Int, TensorData};

use super::action_shift::running_sum;
use super::patch::positions;
use super::rope::Rope;

/// The token grid of one sample and the length of its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleShape {
    /// Latent frames.
    pub frames: usize,
    /// Patches along height and width.
    pub grid: (usize, usize),
    /// Text tokens.
    pub text_len: usize,
    /// Time position of the first frame (non-zero for frames later in a stream).
    pub first_frame: usize,
}

impl SampleShape {
    /// A sample starting at time 0.
    pub fn new(frames: usize, grid: (usize, usize), text_len: usize) -> Self {
        SampleShape { frames, grid, text_len, first_frame: 0 }
    }

    /// Tokens per latent frame.
    pub fn frame_tokens(&self) -> usize {
        self.grid.0 * self.grid.1
    }

    /// Tokens in all.
    pub fn tokens(&self) -> usize {
        self.frames * self.frame_tokens()
    }
}

/// Which keys a token may attend to inside its own sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttentionMode {
    /// Every token of the sample.
    Bidirectional,
    /// Tokens of its own latent frame and of earlier ones (streaming).
    FrameCausal,
}

/// Where a sample sits in a packed batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Its row.
    pub row: usize,
    /// Its first token in the row.
    pub offset: usize,
    /// Its first text token in the row's text.
    pub text_offset: usize,
    /// Index of its first latent frame in the batch's frame table (frames of all samples, in
    /// sample order).
    pub frame_base: usize,
}

/// A packed batch's arrangement.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// The samples, in the caller's order.
    pub samples: Vec<SampleShape>,
    /// Where each sample sits.
    pub places: Vec<Placement>,
    /// Rows of the batch.
    pub rows: usize,
    /// Tokens per row (the longest row; shorter ones are padded).
    pub len: usize,
    /// Text tokens per row (likewise).
    pub text_len: usize,
    /// Attention inside a sample.
    pub mode: AttentionMode,
}

/// The device tensors of a layout that the network uses.
#[derive(Clone, Debug)]
pub struct LayoutTensors<B: Backend> {
    /// Rotary tables of every token.
    pub rope: Rope<B>,
    /// `[rows, heads, len, len]`, `true` where attention is blocked (`None`: nothing is, as
    /// for one bidirectional sample, which then skips the masking work).
    pub self_mask: Option<Tensor<B, 4, Bool>>,
    /// `[rows, heads, len, text_len]`, `true` where attention is blocked (`None`: nothing is).
    pub cross_mask: Option<Tensor<B, 4, Bool>>,
    /// `[rows · len]`: each token's row in the frame table (0 for padding).
    pub frame_index: Tensor<B, 1, Int>,
    /// `[frames, frames]`: sums each frame's sample up to it ([`running_sum`]), for action
    /// displacements.
    pub running_sum: Tensor<B, 2>,
    /// `[rows · len]`: each token's previous-frame token ([`Layout::previous_tokens`]), for the
    /// previous-frame input.
    pub previous_tokens: Tensor<B, 1, Int>,
    /// `[frames]`: each frame's previous frame ([`Layout::previous_frames`]).
    pub previous_frames: Tensor<B, 1, Int>,
}

impl Layout {
    /// Packs samples in order, first fit, into rows of at most `max_tokens` tokens (a longer
    /// sample gets a row of its own).
    pub fn pack(samples: Vec<SampleShape>, mode: AttentionMode, max_tokens: usize) -> Self {
        let mut row_tokens: Vec<usize> = Vec::new();
        let mut row_text: Vec<usize> = Vec::new();
        let mut places = Vec::with_capacity(samples.len());
        let mut frame_base = 0;
        for s in &samples {
            let row = row_tokens.iter().position(|used| used + s.tokens() <= max_tokens).unwrap_or_else(|| {
                row_tokens.push(0);
                row_text.push(0);
                row_tokens.len() - 1
            });
            places.push(Placement { row, offset: row_tokens[row], text_offset: row_text[row], frame_base });
            row_tokens[row] += s.tokens();
            row_text[row] += s.text_len;
            frame_base += s.frames;
        }
        Layout {
            rows: row_tokens.len(),
            len: row_tokens.iter().copied().max().unwrap_or(0),
            text_len: row_text.iter().copied().max().unwrap_or(0).max(1),
            samples,
            places,
            mode,
        }
    }

    /// Each sample in a row of its own (the unpacked reference).
    pub fn single(sample: SampleShape, mode: AttentionMode) -> Self {
        Layout::pack(vec![sample], mode, usize::MAX)
    }

    /// Latent frames over all samples (rows of the frame table).
    pub fn frames(&self) -> usize {
        self.samples.iter().map(|s| s.frames).sum()
    }

    /// For each row and token: its sample and its latent frame within it, or `None` (padding).
    fn owners(&self) -> Vec<Vec<Option<(usize, usize)>>> {
        let mut rows = vec![vec![None; self.len]; self.rows];
        for (i, (s, p)) in self.samples.iter().zip(&self.places).enumerate() {
            for k in 0..s.tokens() {
                rows[p.row][p.offset + k] = Some((i, k / s.frame_tokens()));
            }
        }
        rows
    }

    /// The `(t, y, x)` position of every token, per row (padding at the origin).
    pub fn positions(&self) -> Vec<Vec<[f32; 3]>> {
        let mut rows = vec![vec![[0.0; 3]; self.len]; self.rows];
        for (s, p) in self.samples.iter().zip(&self.places) {
            for (k, pos) in positions(s.frames, s.grid, s.first_frame).into_iter().enumerate() {
                rows[p.row][p.offset + k] = pos;
            }
        }
        rows
    }

    /// `[rows · len · len]`, `true` = blocked. A padding token sees only itself (so no row of
    /// scores is empty) and is seen by no one.
    pub fn self_mask(&self) -> Vec<bool> {
        let owners = self.owners();
        let mut mask = vec![true; self.rows * self.len * self.len];
        for (r, row) in owners.iter().enumerate() {
            for (q, owner_q) in row.iter().enumerate() {
                let base = (r * self.len + q) * self.len;
                match owner_q {
                    None => mask[base + q] = false,
                    Some((sq, fq)) => {
                        for (k, owner_k) in row.iter().enumerate() {
                            if let Some((sk, fk)) = owner_k {
                                let visible = sk == sq && (self.mode == AttentionMode::Bidirectional || fk <= fq);
                                mask[base + k] = !visible;
                            }
                        }
                    }
                }
            }
        }
        mask
    }

    /// `[rows · len · text_len]`, `true` = blocked: a token reads its own sample's text only.
    /// Padding tokens read text slot 0 (their output is discarded).
    pub fn cross_mask(&self) -> Vec<bool> {
        let owners = self.owners();
        let mut mask = vec![true; self.rows * self.len * self.text_len];
        for (r, row) in owners.iter().enumerate() {
            for (q, owner) in row.iter().enumerate() {
                let base = (r * self.len + q) * self.text_len;
                match owner {
                    None => mask[base] = false,
                    Some((s, _)) => {
                        let (p, n) = (self.places[*s], self.samples[*s].text_len);
                        mask[base + p.text_offset..base + p.text_offset + n].fill(false);
                    }
                }
            }
        }
        mask
    }

    /// `[rows · len]`: each token's row in the frame table (padding: 0).
    pub fn frame_index(&self) -> Vec<i64> {
        self.owners()
            .into_iter()
            .flatten()
            .map(|o| o.map_or(0, |(s, f)| (self.places[s].frame_base + f) as i64))
            .collect()
    }

    /// `[rows · len]`: for each token, the flat index (`row · len + position`) of the token at
    /// the same place in its sample's previous latent frame; `rows · len` (one past the end:
    /// a zero token) for a sample's first frame and for padding.
    pub fn previous_tokens(&self) -> Vec<i64> {
        let none = (self.rows * self.len) as i64;
        let mut index = vec![none; self.rows * self.len];
        for (s, p) in self.samples.iter().zip(&self.places) {
            let base = p.row * self.len + p.offset;
            for k in s.frame_tokens()..s.tokens() {
                index[base + k] = (base + k - s.frame_tokens()) as i64;
            }
        }
        index
    }

    /// `[frames]`: for each frame of the frame table, its sample's previous frame there, or
    /// `frames` (one past the end: no previous frame) for a sample's first frame.
    pub fn previous_frames(&self) -> Vec<i64> {
        let total = self.frames();
        let mut index = vec![total as i64; total];
        for (s, p) in self.samples.iter().zip(&self.places) {
            for f in 1..s.frames {
                index[p.frame_base + f] = (p.frame_base + f - 1) as i64;
            }
        }
        index
    }

    /// Uploads what the network needs.
    pub fn tensors<B: Backend>(
        &self,
        heads: usize,
        head_dim: usize,
        theta: f64,
        device: &B::Device,
    ) -> LayoutTensors<B> {
        let bool_tensor = |values: Vec<bool>, cols: usize| {
            values.iter().any(|&blocked| blocked).then(|| {
                Tensor::<B, 1, Bool>::from_data(TensorData::new(values, [self.rows * self.len * cols]), device)
                    .reshape([self.rows, 1, self.len, cols])
                    .repeat_dim(1, heads)
            })
        };
        let index = self.frame_index();
        let frames: Vec<usize> = self.samples.iter().map(|s| s.frames).collect();
        let total = self.frames();
        LayoutTensors {
            rope: Rope::new(&self.positions(), head_dim, theta, device),
            self_mask: bool_tensor(self.self_mask(), self.len),
            cross_mask: bool_tensor(self.cross_mask(), self.text_len),
            frame_index: Tensor::from_data(TensorData::new(index, [self.rows * self.len]), device),
            running_sum: Tensor::from_data(TensorData::new(running_sum(&frames), [total, total]), device),
            previous_tokens: Tensor::from_data(TensorData::new(self.previous_tokens(), [self.rows * self.len]), device),
            previous_frames: Tensor::from_data(TensorData::new(self.previous_frames(), [total]), device),
        }
    }

    /// Packs per-sample tokens into rows.
    ///
    /// # Shapes
    /// - input: one `[tokens_i, dim]` per sample
    /// - output `[rows, len, dim]`
    pub fn pack_tokens<B: Backend>(&self, samples: Vec<Tensor<B, 2>>) -> Tensor<B, 3> {
        let lens: Vec<usize> = self.samples.iter().map(SampleShape::tokens).collect();
        self.pack_rows(samples, &lens, self.len, |p| p.offset)
    }

    /// Packs per-sample text tokens into rows.
    ///
    /// # Shapes
    /// - input: one `[text_len_i, text_dim]` per sample
    /// - output `[rows, text_len, text_dim]`
    pub fn pack_text<B: Backend>(&self, texts: Vec<Tensor<B, 2>>) -> Tensor<B, 3> {
        let lens: Vec<usize> = self.samples.iter().map(|s| s.text_len).collect();
        self.pack_rows(texts, &lens, self.text_len, |p| p.text_offset)
    }

    fn pack_rows<B: Backend>(
        &self,
        parts: Vec<Tensor<B, 2>>,
        lens: &[usize],
        width: usize,
        start: impl Fn(&Placement) -> usize,
    ) -> Tensor<B, 3> {
        let dim = parts.first().map_or(1, |t| t.dims()[1]);
        let device = parts.first().map(|t| t.device()).unwrap_or_default();
        let mut rows: Vec<Vec<(usize, Tensor<B, 2>)>> = vec![Vec::new(); self.rows];
        for ((part, p), n) in parts.into_iter().zip(&self.places).zip(lens) {
            debug_assert_eq!(part.dims()[0], *n);
            rows[p.row].push((start(p), part));
        }
        let packed: Vec<Tensor<B, 2>> = rows
            .into_iter()
            .map(|mut row| {
                row.sort_by_key(|(s, _)| *s);
                let used: usize = row.iter().map(|(_, t)| t.dims()[0]).sum();
                let mut pieces: Vec<Tensor<B, 2>> = row.into_iter().map(|(_, t)| t).collect();
                if used < width {
                    pieces.push(Tensor::zeros([width - used, dim], &device));
                }
                Tensor::cat(pieces, 0)
            })
            .collect();
        Tensor::stack(packed, 0)
    }

    /// Splits packed rows back into per-sample tokens.
    ///
    /// # Shapes
    /// - input `[rows, len, dim]`
    /// - output: one `[tokens_i, dim]` per sample
    pub fn unpack_tokens<B: Backend>(&self, packed: Tensor<B, 3>) -> Vec<Tensor<B, 2>> {
        let dim = packed.dims()[2];
        self.samples
            .iter()
            .zip(&self.places)
            .map(|(s, p)| packed.clone().narrow(0, p.row, 1).narrow(1, p.offset, s.tokens()).reshape([s.tokens(), dim]))
            .collect()
    }
}
