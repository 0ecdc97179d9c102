//! The DiT: token embedding, per-latent-frame conditioning (noise level + action caption +
//! pooled text), the blocks, and an adaLN-modulated output layer that predicts the flow velocity
//! of every token. Runs a packed batch in one call ([`Dit::forward`]) or a stream one latent
//! frame at a time against a key/value cache of the frames before it ([`Dit::forward_frame`]).
//! With [`DitConfig::action_shift`], the action captions also displace the frames' rotary
//! positions ([`super::action_shift`]); with [`DitConfig::previous_frame`], every token also
//! reads its place one latent frame earlier ([`super::previous`]).

use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Int;
use burn::tensor::activation::silu;

use super::action_shift::{AXES, ShiftRotation};
use super::attention::{KeyValue, linear2, linear3};
use super::block::{BlockContext, DitBlock, modulated_norm, per_token};
use super::config::DitConfig;
use super::layout::{AttentionMode, Layout, LayoutTensors, SampleShape};
use super::previous::{PreviousFrame, PreviousInput};
use crate::grow::{remap, splice};

/// What the network reads besides the tokens, per latent frame of the batch (the frame table,
/// in [`Layout`] order) and per row.
#[derive(Clone, Debug)]
pub struct DitInput<B: Backend> {
    /// `[rows, len, token_dim]` noisy latent tokens, packed.
    pub tokens: Tensor<B, 3>,
    /// `[frames]` noise level of each latent frame, 0 (clean) to 1 (pure noise).
    pub noise: Tensor<B, 1>,
    /// `[frames, text_dim]` pooled text of the frame's sample.
    pub pooled_text: Tensor<B, 2>,
    /// `[frames, text_dim]` pooled action caption in force at the frame (zeros: none).
    pub action: Tensor<B, 2>,
    /// `[rows, text_len, text_dim]` text tokens, packed.
    pub text: Tensor<B, 3>,
}

/// What a frame leaves for the frames after it: its keys and values per block, with action
/// displacements its running offset, and its own tokens and noise level (the next frame's
/// previous frame).
#[derive(Clone, Debug)]
pub struct FrameKeys<B: Backend> {
    /// One per block, `[rows, heads, gh · gw, head_dim]`.
    pub layers: Vec<KeyValue<B>>,
    /// `[rows, depth · heads · 2]` the displacement of the frame's positions (`None`: the
    /// network has none).
    pub shift: Option<Tensor<B, 2>>,
    /// The frame as the network read it: `[rows, gh · gw, token_dim]` tokens and `[rows]`
    /// noise levels.
    pub frame: PreviousInput<B>,
}

/// The displacement of one stream frame per row: the same for every network call of that frame
/// (it depends on the action caption and the cache only), so a stream makes it once per step
/// ([`Dit::frame_displacement`]).
#[derive(Clone, Debug)]
pub struct FrameDisplacement<B: Backend> {
    /// `[rows, depth · heads · 2]` the frame's running offset.
    pub offsets: Tensor<B, 2>,
    /// Each block's rotation of the frame's queries and keys.
    pub rotations: Vec<ShiftRotation<B>>,
}

/// Keys and values of the frames a stream has committed, per block.
#[derive(Clone, Debug, Default)]
pub struct DitCache<B: Backend> {
    /// One per block; empty before the first frame.
    pub layers: Vec<KeyValue<B>>,
    /// `[rows, depth · heads · 2]` the displacement of the last committed frame, which the next
    /// frame's own adds to (`None` before the first frame, or for a network without them).
    pub shift: Option<Tensor<B, 2>>,
    /// The last committed frame's tokens `[rows, gh · gw, token_dim]` and levels `[rows]`:
    /// the next frame's previous frame (`None` before the first frame).
    pub last: Option<PreviousInput<B>>,
    /// Latent frames committed.
    pub frames: usize,
}

impl<B: Backend> DitCache<B> {
    /// Appends a frame's keys and values (as returned by [`Dit::forward_frame`]).
    pub fn push(&mut self, frame: FrameKeys<B>) {
        self.layers = if self.layers.is_empty() {
            frame.layers
        } else {
            std::mem::take(&mut self.layers).into_iter().zip(frame.layers).map(|(a, b)| a.append(b)).collect()
        };
        self.shift = frame.shift;
        self.last = Some(frame.frame);
        self.frames += 1;
    }

    /// Keeps the rows `index` names, in that order (a stream's guidance branches changing).
    pub fn select_rows(&mut self, index: Tensor<B, 1, Int>) {
        for kv in &mut self.layers {
            kv.k = kv.k.clone().select(0, index.clone());
            kv.v = kv.v.clone().select(0, index.clone());
        }
        self.shift = self.shift.take().map(|s| s.select(0, index.clone()));
        self.last = self
            .last
            .take()
            .map(|p| PreviousInput { tokens: p.tokens.select(0, index.clone()), level: p.level.select(0, index) });
    }

    /// Tokens cached per block.
    pub fn tokens(&self) -> usize {
        self.layers.first().map_or(0, KeyValue::tokens)
    }

    /// Forgets all but the last `keep` frames of `per_frame` tokens each (a stream's rolling
    /// window). `frames` keeps counting every frame ever committed: the next frame's time
    /// position stays absolute, and rotary positions make attention depend only on distances.
    pub fn keep_last(&mut self, keep: usize, per_frame: usize) {
        let keep_tokens = keep * per_frame;
        let tokens = self.tokens();
        if tokens <= keep_tokens {
            return;
        }
        let drop = tokens - keep_tokens;
        for kv in &mut self.layers {
            kv.k = kv.k.clone().narrow(2, drop, keep_tokens);
            kv.v = kv.v.clone().narrow(2, drop, keep_tokens);
        }
    }
}

/// The diffusion transformer.
#[derive(Module, Debug)]
pub struct Dit<B: Backend> {
    embed: Linear<B>,
    time_in: Linear<B>,
    time_out: Linear<B>,
    text_pool: Linear<B>,
    action: Linear<B>,
    /// Action caption → each block's and head's displacement per frame (`None`: positions
    /// are not displaced).
    action_shift: Option<Linear<B>>,
    /// The previous-frame input (`None`: tokens read the past through attention only).
    previous: Option<PreviousFrame<B>>,
    blocks: Vec<DitBlock<B>>,
    final_ada: Linear<B>,
    final_out: Linear<B>,
    heads: usize,
    freq_dim: usize,
    theta: f64,
    eps: f64,
}

impl<B: Backend> Dit<B> {
    /// This network grown to `config`, which must [grow from](DitConfig::grows_from) its own:
    /// tokens of more latent channels, whose inputs start with zero weights and whose outputs
    /// start at zero. The old channels are the first values of each token (see
    /// [`super::patch::patchify`]), so the grown network predicts them exactly as before,
    /// whatever the new channels hold, until it is trained.
    pub fn grown(mut self, config: &DitConfig, device: &B::Device) -> Self {
        let [own, d] = self.embed.weight.lazy_shape().dims::<2>();
        let tokens = config.token_dim();
        if tokens > own {
            let zeros =
                |i: usize, o: usize| LinearConfig::new(i, o).with_initializer(Initializer::Zeros).init::<B>(device);
            let keep = [(0, 0, own)];
            let (embed, out) = (self.embed, self.final_out);
            let mut wider_embed = zeros(tokens, d);
            let weight = embed.weight.val();
            wider_embed.weight = remap(wider_embed.weight, |w| splice(w, weight, 0, &keep));
            wider_embed.bias = embed.bias;
            let mut wider_out = zeros(d, tokens);
            let weight = out.weight.val();
            wider_out.weight = remap(wider_out.weight, |w| splice(w, weight, 1, &keep));
            let bias = out.bias.map(|b| b.val());
            wider_out.bias = wider_out.bias.map(|b| {
                remap(b, |zero| match bias {
                    Some(bias) => splice(zero, bias, 0, &keep),
                    None => zero,
                })
            });
            (self.embed, self.final_out) = (wider_embed, wider_out);
        }
        if config.displaces() && self.action_shift.is_none() {
            self.action_shift = Some(config.action_shift_layer(device));
        }
        if config.reads_previous() && self.previous.is_none() {
            self.previous = Some(config.previous_frame_layer(device));
        }
        self
    }
}

impl DitConfig {
    /// The displacement layer, at zero: positions start where they were.
    fn action_shift_layer<B: Backend>(&self, device: &B::Device) -> Linear<B> {
        LinearConfig::new(self.text_dim, self.depth * self.heads * AXES)
            .with_initializer(Initializer::Zeros)
            .init(device)
    }

    /// Builds the network with fresh weights (modulations, displacements and output at zero).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Dit<B> {
        let d = self.dim;
        Dit {
            embed: LinearConfig::new(self.token_dim(), d).init(device),
            time_in: LinearConfig::new(self.freq_dim, d).init(device),
            time_out: LinearConfig::new(d, d).init(device),
            text_pool: LinearConfig::new(self.text_dim, d).init(device),
            action: LinearConfig::new(self.text_dim, d).init(device),
            action_shift: self.displaces().then(|| self.action_shift_layer(device)),
            previous: self.reads_previous().then(|| self.previous_frame_layer(device)),
            blocks: (0..self.depth)
                .map(|_| DitBlock::new(d, self.heads, self.mlp_ratio, self.text_dim, self.norm_eps, device))
                .collect(),
            final_ada: LinearConfig::new(d, 2 * d).with_initializer(Initializer::Zeros).init(device),
            final_out: LinearConfig::new(d, self.token_dim()).with_initializer(Initializer::Zeros).init(device),
            heads: self.heads,
            freq_dim: self.freq_dim,
            theta: self.rope_theta,
            eps: self.norm_eps,
        }
    }
}

/// Sinusoidal features of noise levels (scaled to 0..1000).
///
/// # Shapes
/// - input `[frames]`, output `[frames, dim]`
pub fn noise_features<B: Backend>(t: Tensor<B, 1>, dim: usize) -> Tensor<B, 2> {
    let half = dim / 2;
    let freqs: Vec<f32> = (0..half).map(|i| (-(10000f32.ln()) * i as f32 / half as f32).exp()).collect();
    let freqs = Tensor::<B, 1>::from_floats(freqs.as_slice(), &t.device()).reshape([1, half]);
    let n = t.dims()[0];
    let args = t.reshape([n, 1]) * 1000.0 * freqs; // [frames, half]
    Tensor::cat(vec![args.clone().cos(), args.sin()], 1)
}

impl<B: Backend> Dit<B> {
    /// Width of a head.
    fn head_dim(&self) -> usize {
        self.embed.weight.dims()[1] / self.heads
    }

    /// The blocks, in order.
    pub fn blocks(&self) -> &[DitBlock<B>] {
        &self.blocks
    }

    /// Every block's cross-attention keys and values of `text`, for
    /// [`Dit::forward_frames`] calls that read the same text.
    ///
    /// # Shapes
    /// - `text` `[rows, text_len, text_dim]`; each `[rows, heads, text_len, head_dim]`
    pub fn text_keys(&self, text: Tensor<B, 3>) -> Vec<KeyValue<B>> {
        self.blocks.iter().map(|b| b.text_keys(text.clone())).collect()
    }

    /// The layout's tensors for this network.
    pub fn layout_tensors(&self, layout: &Layout, device: &B::Device) -> LayoutTensors<B> {
        layout.tensors(self.heads, self.head_dim(), self.theta, device)
    }

    /// The conditioning vector of every latent frame, through SiLU (with the previous-frame
    /// input, its previous frame's level is part of it).
    ///
    /// # Shapes
    /// - output `[frames, dim]`
    fn frame_cond(&self, input: &DitInput<B>, previous: Option<&PreviousInput<B>>) -> Tensor<B, 2> {
        let t =
            linear2(&self.time_out, silu(linear2(&self.time_in, noise_features(input.noise.clone(), self.freq_dim))));
        let cond =
            t + linear2(&self.text_pool, input.pooled_text.clone()) + linear2(&self.action, input.action.clone());
        match (&self.previous, previous) {
            (Some(layer), Some(p)) => silu(cond + layer.condition(p.level.clone(), self.freq_dim)),
            _ => silu(cond),
        }
    }

    /// How far each pooled action caption moves its frame's positions relative to the frame
    /// before, per block and head (height, width in patches); `None` for a network without
    /// displacements.
    ///
    /// # Shapes
    /// - `action` `[frames, text_dim]`; output `[frames, depth · heads · 2]`, block-major, then
    ///   head, then (height, width)
    pub fn action_displacement(&self, action: Tensor<B, 2>) -> Option<Tensor<B, 2>> {
        Some(linear2(self.action_shift.as_ref()?, action))
    }

    /// The displacement of a packed batch: each frame's sample's action displacements summed up
    /// to it.
    fn batch_displacement(&self, input: &DitInput<B>, layout: &LayoutTensors<B>) -> Option<FrameDisplacement<B>> {
        let own = self.action_displacement(input.action.clone())?; // [frames, depth · heads · 2]
        let offsets = layout.running_sum.clone().matmul(own);
        let rotations = self.rotations(&offsets, &layout.frame_index, input.tokens.dims()[0]);
        Some(FrameDisplacement { offsets, rotations })
    }

    /// Each block's rotation for frame offsets `table`, gathered to the tokens by `frame_index`.
    ///
    /// # Shapes
    /// - `table` `[frames, depth · heads · 2]`, `frame_index` `[rows · n]`
    fn rotations(&self, table: &Tensor<B, 2>, frame_index: &Tensor<B, 1, Int>, rows: usize) -> Vec<ShiftRotation<B>> {
        let per_block = self.heads * AXES;
        (0..self.blocks.len())
            .map(|i| {
                let offsets = per_token(table.clone().narrow(1, i * per_block, per_block), frame_index.clone(), rows); // [rows, n, heads · 2]
                ShiftRotation::new(offsets, self.heads, self.head_dim(), self.theta)
            })
            .collect()
    }

    /// The displacement of a stream's next frame, one per row, for [`Dit::forward_frames`]
    /// calls of that frame: `action` is their `input.action` (`None` for a network without
    /// displacements).
    ///
    /// # Shapes
    /// - `action` `[rows, text_dim]`
    pub fn frame_displacement(
        &self,
        action: Tensor<B, 2>,
        grid: (usize, usize),
        cache: &DitCache<B>,
    ) -> Option<FrameDisplacement<B>> {
        let own = self.action_displacement(action)?; // [rows, depth · heads · 2]
        let offsets = match (&cache.shift, cache.tokens() > 0) {
            (Some(carry), true) => own + carry.clone(),
            _ => own,
        };
        let rows = offsets.dims()[0];
        let n = grid.0 * grid.1;
        let index: Vec<i64> = (0..rows).flat_map(|r| std::iter::repeat_n(r as i64, n)).collect();
        let frame_index = Tensor::<B, 1, Int>::from_ints(index.as_slice(), &offsets.device());
        let rotations = self.rotations(&offsets, &frame_index, rows);
        Some(FrameDisplacement { offsets, rotations })
    }

    fn run(
        &self,
        input: DitInput<B>,
        ctx: BlockContext<B>,
        past: Option<&DitCache<B>>,
        displacement: Option<&FrameDisplacement<B>>,
        previous: Option<PreviousInput<B>>,
    ) -> (Tensor<B, 3>, FrameKeys<B>) {
        let cond = self.frame_cond(&input, previous.as_ref());
        let rows = input.tokens.dims()[0];
        let frame = PreviousInput { tokens: input.tokens.clone(), level: input.noise.clone() };
        let mut x = linear3(&self.embed, input.tokens); // [rows, n, dim]
        if let (Some(layer), Some(p)) = (&self.previous, previous) {
            x = x + layer.embed(p.tokens);
        }
        let mut kvs = Vec::with_capacity(self.blocks.len());
        for (i, block) in self.blocks.iter().enumerate() {
            let text = ctx.text_keys.and_then(|keys| keys.get(i));
            let rotation = displacement.and_then(|d| d.rotations.get(i));
            let past = past.and_then(|c| c.layers.get(i));
            let (y, kv) = block.forward(x, cond.clone(), &ctx, rotation, past, text);
            x = y;
            kvs.push(kv);
        }
        let d = x.dims()[2];
        let table = linear2(&self.final_ada, cond); // [frames, 2d]
        let chunk = |i: usize| per_token(table.clone().narrow(1, i * d, d), ctx.frame_index.clone(), rows); // [rows, n, d]
        let (shift, scale) = (chunk(0), chunk(1));
        let x = modulated_norm(x, shift, scale, self.eps);
        let keys = FrameKeys { layers: kvs, shift: displacement.map(|d| d.offsets.clone()), frame };
        (linear3(&self.final_out, x), keys)
    }

    /// Predicts the velocity of every token of a packed batch.
    ///
    /// # Shapes
    /// - `input.tokens` `[rows, len, token_dim]`
    /// - output `[rows, len, token_dim]` (padding positions hold garbage)
    pub fn forward(&self, input: DitInput<B>, layout: &LayoutTensors<B>) -> Tensor<B, 3> {
        let ctx = BlockContext {
            rope: &layout.rope,
            self_mask: layout.self_mask.clone(),
            cross_mask: layout.cross_mask.clone(),
            frame_index: layout.frame_index.clone(),
            text: input.text.clone(),
            text_keys: None,
        };
        let displacement = self.batch_displacement(&input, layout);
        let previous = self.previous.as_ref().map(|_| {
            PreviousInput::within(
                &input.tokens,
                &input.noise,
                layout.previous_tokens.clone(),
                layout.previous_frames.clone(),
            )
        });
        self.run(input, ctx, None, displacement.as_ref(), previous).0
    }

    /// Predicts the velocity of the next latent frame of one stream, attending to itself and to
    /// the cached frames; also returns the frame's keys and values, for [`DitCache::push`] once
    /// the frame is final. Equals the frame's rows of a frame-causal [`Dit::forward`] over the
    /// whole clip.
    ///
    /// # Shapes
    /// - `input.tokens` `[1, gh · gw, token_dim]`; one frame in `noise`, `pooled_text`, `action`;
    ///   `input.text` `[1, text_len, text_dim]`
    /// - output `[1, gh · gw, token_dim]`
    pub fn forward_frame(
        &self,
        input: DitInput<B>,
        grid: (usize, usize),
        cache: &DitCache<B>,
    ) -> (Tensor<B, 3>, FrameKeys<B>) {
        let text_len = input.text.dims()[1];
        self.forward_frames(input, grid, &[text_len], cache, None, None)
    }

    /// [`Dit::forward_frame`] for several streams (or several conditionings of one stream, as
    /// classifier-free guidance needs) at once, one per row, each with its own cached past
    /// (the cache's rows, same length) and its own text (`text_lens[r]` real tokens of the
    /// padded `input.text`). `text_keys` are [`Dit::text_keys`] of `input.text`, for callers
    /// that run the same text many times (a stream's steps); `None` computes them. Likewise
    /// `displacement` is [`Dit::frame_displacement`] of `input.action` (`None`: computed here).
    ///
    /// # Shapes
    /// - `input.tokens` `[rows, gh · gw, token_dim]`; one frame per row in `noise`,
    ///   `pooled_text`, `action` (`[rows]`, `[rows, text_dim]`); `input.text`
    ///   `[rows, max text_len, text_dim]`
    /// - output `[rows, gh · gw, token_dim]`; keys and values `[rows, heads, gh · gw, head_dim]`
    pub fn forward_frames(
        &self,
        input: DitInput<B>,
        grid: (usize, usize),
        text_lens: &[usize],
        cache: &DitCache<B>,
        text_keys: Option<&[KeyValue<B>]>,
        displacement: Option<&FrameDisplacement<B>>,
    ) -> (Tensor<B, 3>, FrameKeys<B>) {
        let device = input.tokens.device();
        let shapes = text_lens
            .iter()
            .map(|&text_len| SampleShape { frames: 1, grid, text_len, first_frame: cache.frames })
            .collect();
        // One frame per row: rows never share a sequence, so no self-attention mask.
        let layout = Layout::pack(shapes, AttentionMode::FrameCausal, grid.0 * grid.1);
        let layout = self.layout_tensors(&layout, &device);
        let ctx = BlockContext {
            rope: &layout.rope,
            self_mask: None,
            cross_mask: layout.cross_mask.clone(),
            frame_index: layout.frame_index.clone(),
            text: input.text.clone(),
            text_keys,
        };
        let past = (cache.tokens() > 0).then_some(cache);
        let own;
        let displacement = match displacement {
            Some(d) => Some(d),
            None => {
                own = self.frame_displacement(input.action.clone(), grid, cache);
                own.as_ref()
            }
        };
        // The previous frame is the cache's last; the first frame reads none.
        let previous = match (&self.previous, &cache.last) {
            (Some(_), Some(last)) if past.is_some() => Some(last.clone()),
            (Some(_), _) => {
                let [rows, n, td] = input.tokens.dims();
                Some(PreviousInput {
                    tokens: Tensor::zeros([rows, n, td], &device),
                    level: Tensor::ones([rows], &device),
                })
            }
            _ => None,
        };
        self.run(input, ctx, past, displacement, previous)
    }
}
