//! The diffusion transformer's mechanisms: patches round-trip, rotary positions are relative,
//! packed == unpacked, cached frame-by-frame == full frame-causal, per-frame conditioning stays
//! in its frame, action displacements move what a frame reads of its past and keep the cache
//! exact, the previous-frame input reads the frame before and keeps the cache exact, and limits
//! give precise errors.

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::Distribution;
use worldsim_model::dit::action_shift::ShiftRotation;
use worldsim_model::dit::patch::{patchify, positions, unpatchify};
use worldsim_model::dit::previous::PreviousInput;
use worldsim_model::dit::rope::Rope;
use worldsim_model::dit::{AttentionMode, Dit, DitCache, DitConfig, DitInput, FrameKeys, Layout, SampleShape};
use worldsim_model::{Cpu, ModelError};

type B = Cpu;

fn config() -> DitConfig {
    DitConfig::new(4, 32, 2, 2, 16).with_freq_dim(32)
}

/// Fresh weights start the modulations and the output at zero (the network outputs zeros);
/// tests of the mechanisms need every weight non-zero.
struct Randomize;

impl<Bk: Backend> ModuleMapper<Bk> for Randomize {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<Bk, D>>) -> Param<Tensor<Bk, D>> {
        let (id, tensor, mapper) = param.consume();
        let noise = tensor.random_like(Distribution::Normal(0.0, 0.2));
        Param::from_mapped_value(id, noise, mapper)
    }
}

fn network() -> Dit<B> {
    let device = Default::default();
    config().init::<B>(&device).map(&mut Randomize)
}

fn rand2(shape: [usize; 2]) -> Tensor<B, 2> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Default::default())
}

/// One sample's inputs: tokens `[n, token_dim]`, per-frame noise, pooled text, action, text.
struct Sample {
    shape: SampleShape,
    tokens: Tensor<B, 2>,
    noise: Tensor<B, 1>,
    pooled: Tensor<B, 2>,
    action: Tensor<B, 2>,
    text: Tensor<B, 2>,
}

fn sample(frames: usize, grid: (usize, usize), text_len: usize) -> Sample {
    let c = config();
    let shape = SampleShape::new(frames, grid, text_len);
    Sample {
        shape,
        tokens: rand2([shape.tokens(), c.token_dim()]),
        noise: Tensor::random([frames], Distribution::Uniform(0.0, 1.0), &Default::default()),
        pooled: rand2([frames, c.text_dim]),
        action: rand2([frames, c.text_dim]),
        text: rand2([text_len, c.text_dim]),
    }
}

fn run(net: &Dit<B>, samples: &[&Sample], mode: AttentionMode, max_tokens: usize) -> Vec<Tensor<B, 2>> {
    let device = Default::default();
    let layout = Layout::pack(samples.iter().map(|s| s.shape).collect(), mode, max_tokens);
    let input = DitInput {
        tokens: layout.pack_tokens(samples.iter().map(|s| s.tokens.clone()).collect()),
        noise: Tensor::cat(samples.iter().map(|s| s.noise.clone()).collect(), 0),
        pooled_text: Tensor::cat(samples.iter().map(|s| s.pooled.clone()).collect(), 0),
        action: Tensor::cat(samples.iter().map(|s| s.action.clone()).collect(), 0),
        text: layout.pack_text(samples.iter().map(|s| s.text.clone()).collect()),
    };
    let out = net.forward(input, &net.layout_tensors(&layout, &device));
    layout.unpack_tokens(out)
}

fn max_diff(a: Tensor<B, 2>, b: Tensor<B, 2>) -> f32 {
    (a - b).abs().max().into_scalar()
}

#[test]
fn patches_round_trip_in_frame_major_order() {
    let z: Tensor<B, 5> = Tensor::random([1, 3, 2, 4, 6], Distribution::Normal(0.0, 1.0), &Default::default());
    let tokens = patchify(z.clone(), 2);
    assert_eq!(tokens.dims(), [2 * 2 * 3, 3 * 4]);
    let back = unpatchify(tokens.clone(), 3, 2, (2, 3), 2);
    assert_eq!(back.clone().sub(z.clone()).abs().max().into_scalar(), 0.0);
    // Token 4 = frame 0, patch row 1, column 1: channel 0 of its top-left cell is z[0,0,0,2,2].
    let v: f32 = tokens.narrow(0, 4, 1).narrow(1, 0, 1).into_scalar();
    let w: f32 = z.narrow(2, 0, 1).narrow(3, 2, 1).narrow(4, 2, 1).narrow(1, 0, 1).reshape([1]).into_scalar();
    assert_eq!(v, w);
    assert_eq!(positions(2, (2, 3), 5)[4], [5.0, 1.0, 1.0]);
    assert_eq!(positions(2, (2, 3), 5)[6], [6.0, 0.0, 0.0]);
}

#[test]
fn rotary_scores_depend_only_on_relative_position() {
    let device = Default::default();
    // Fixed vectors (random ones drawn from the shared backend RNG made the last assertion fail
    // now and then, when a draw left the changed channels nearly orthogonal).
    let fixed = |phase: f32| {
        let v: Vec<f32> = (0..32).map(|i| (1.3 * i as f32 + phase).sin()).collect();
        Tensor::<B, 1>::from_floats(v.as_slice(), &device).reshape([1, 1, 1, 32])
    };
    let (q, k): (Tensor<B, 4>, Tensor<B, 4>) = (fixed(0.0), fixed(0.7));
    let score = |pq: [f32; 3], pk: [f32; 3]| -> f32 {
        let rq = Rope::<B>::new(&[vec![pq]], 32, 10000.0, &device).apply(q.clone());
        let rk = Rope::<B>::new(&[vec![pk]], 32, 10000.0, &device).apply(k.clone());
        (rq * rk).sum().into_scalar()
    };
    let a = score([1.0, 2.0, 3.0], [0.0, 5.0, 1.0]);
    let b = score([4.0, 9.0, 7.0], [3.0, 12.0, 5.0]); // both shifted by (3, 7, 4)
    assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    let c = score([1.0, 2.0, 3.0], [0.0, 5.0, 2.0]);
    assert!((a - c).abs() > 1e-3, "a different offset must change the score");
}

#[test]
fn packed_batch_equals_each_sample_alone() {
    let net = network();
    let samples = [sample(3, (2, 3), 5), sample(1, (4, 2), 3), sample(2, (1, 1), 7)];
    let refs: Vec<&Sample> = samples.iter().collect();
    for mode in [AttentionMode::Bidirectional, AttentionMode::FrameCausal] {
        // All in one row, then rows of at most 20 tokens (two rows, padding at the end).
        for max_tokens in [usize::MAX, 20] {
            let packed = run(&net, &refs, mode, max_tokens);
            for (s, got) in samples.iter().zip(packed) {
                let alone = run(&net, &[s], mode, usize::MAX).remove(0);
                let d = max_diff(got, alone);
                assert!(d < 1e-4, "{mode:?}, rows of {max_tokens}: packed differs from alone by {d}");
            }
        }
    }
    let layout = Layout::pack(samples.iter().map(|s| s.shape).collect(), AttentionMode::Bidirectional, 20);
    assert_eq!((layout.rows, layout.len), (2, 20), "{layout:?}");
}

/// Runs `s` one frame at a time against a cache and checks each frame against the full
/// frame-causal forward.
fn check_cached_equals_full(net: &Dit<B>, s: &Sample) -> DitCache<B> {
    let full = run(net, &[s], AttentionMode::FrameCausal, usize::MAX).remove(0); // [16, token_dim]
    let mut cache: DitCache<B> = DitCache::default();
    let n = s.shape.frame_tokens();
    for f in 0..s.shape.frames {
        let input = frame_input(s, f);
        // The displacement made once for the frame (as a stream's steps share it) changes nothing.
        let made = net.frame_displacement(input.action.clone(), (2, 2), &cache);
        let text_len = input.text.dims()[1];
        let (again, _) = net.forward_frames(input.clone(), (2, 2), &[text_len], &cache, None, made.as_ref());
        let (out, kv): (Tensor<B, 3>, FrameKeys<B>) = net.forward_frame(input, (2, 2), &cache);
        assert_eq!(max_diff(again.squeeze_dim(0), out.clone().squeeze_dim(0)), 0.0, "frame {f}: made once");
        let d = max_diff(out.squeeze_dim(0), full.clone().narrow(0, f * n, n));
        assert!(d < 1e-4, "frame {f}: cached step differs from the full causal forward by {d}");
        cache.push(kv);
    }
    cache
}

#[test]
fn cached_frame_by_frame_equals_full_frame_causal() {
    let cache = check_cached_equals_full(&network(), &sample(4, (2, 2), 3));
    assert_eq!((cache.frames, cache.tokens()), (4, 16));
    assert!(cache.shift.is_none(), "no displacements without action_shift");
}

fn shifted_network() -> Dit<B> {
    config().with_action_shift(Some(true)).init::<B>(&Default::default()).map(&mut Randomize)
}

#[test]
fn action_displacements_keep_the_cache_exact_and_reach_only_later_frames() {
    let net = shifted_network();
    let s = sample(4, (2, 2), 3);
    let cache = check_cached_equals_full(&net, &s);
    let shift = cache.shift.expect("a running displacement");
    assert_eq!(shift.dims(), [1, config().depth * config().heads * 2]);
    assert!(shift.abs().max().into_scalar() > 1e-3, "random weights displace");
    // A frame's action moves its own positions relative to the past: frame 2's new action
    // changes frames 2 and 3 (whose running offset includes it), never frames 0 and 1.
    let base = run(&net, &[&s], AttentionMode::FrameCausal, usize::MAX).remove(0);
    let changed = Sample {
        action: Tensor::cat(vec![s.action.clone().narrow(0, 0, 2), rand2([2, config().text_dim])], 0),
        ..sample_clone(&s)
    };
    let out = run(&net, &[&changed], AttentionMode::FrameCausal, usize::MAX).remove(0);
    let n = 4;
    assert!(max_diff(out.clone().narrow(0, 0, 2 * n), base.clone().narrow(0, 0, 2 * n)) < 1e-6);
    assert!(max_diff(out.narrow(0, 2 * n, 2 * n), base.narrow(0, 2 * n, 2 * n)) > 1e-3);
}

fn previous_network() -> Dit<B> {
    config()
        .with_action_shift(Some(true))
        .with_previous_frame(Some(true))
        .init::<B>(&Default::default())
        .map(&mut Randomize)
}

#[test]
fn the_previous_frame_input_keeps_packing_and_the_cache_exact() {
    let net = previous_network();
    let s = sample(4, (2, 2), 3);
    let cache = check_cached_equals_full(&net, &s);
    let last = cache.last.expect("the last frame is kept for the next");
    assert_eq!(last.tokens.dims(), [1, 4, config().token_dim()]);
    let n = 4;
    assert_eq!(max_diff(last.tokens.squeeze_dim(0), s.tokens.clone().narrow(0, 3 * n, n)), 0.0);
    // Packed with other samples (a first frame never reads its neighbour's last one).
    let others = [sample(1, (2, 2), 2), sample(3, (1, 2), 4)];
    for mode in [AttentionMode::Bidirectional, AttentionMode::FrameCausal] {
        let packed = run(&net, &[&others[0], &s, &others[1]], mode, 20);
        for (got, alone) in packed.into_iter().zip([&others[0], &s, &others[1]]) {
            let d = max_diff(got, run(&net, &[alone], mode, usize::MAX).remove(0));
            assert!(d < 1e-4, "{mode:?}: packed differs from alone by {d}");
        }
    }
}

#[test]
fn a_token_reads_the_frame_before_directly_and_never_a_later_one() {
    let net = previous_network();
    let s = sample(3, (2, 2), 3);
    let (n, td) = (4, config().token_dim());
    // Frame 1's first token changed: frame 0 is untouched under causal attention.
    let base = run(&net, &[&s], AttentionMode::FrameCausal, usize::MAX).remove(0);
    let tokens = s.tokens.clone().slice_assign([n..n + 1, 0..td], rand2([1, td]) * 3.0);
    let out = run(&net, &[&Sample { tokens, ..sample_clone(&s) }], AttentionMode::FrameCausal, usize::MAX).remove(0);
    assert!(max_diff(out.clone().narrow(0, 0, n), base.clone().narrow(0, 0, n)) < 1e-6, "the past is untouched");
    assert!(max_diff(out.narrow(0, 2 * n, n), base.narrow(0, 2 * n, n)) > 1e-3, "the next frame reads it");
    // The direct path alone: a stream frame against the same keys and values, with only the
    // cache's last frame (the previous-frame input) changed, changes; with it unchanged, not.
    let mut cache: DitCache<B> = DitCache::default();
    for f in 0..2 {
        let (_, kv) = net.forward_frame(frame_input(&s, f), (2, 2), &cache);
        cache.push(kv);
    }
    let (want, _) = net.forward_frame(frame_input(&s, 2), (2, 2), &cache);
    let mut moved = cache.clone();
    let last = moved.last.take().expect("a last frame");
    moved.last = Some(PreviousInput { tokens: last.tokens.clone() + 0.5, level: last.level.clone() });
    let (got, _) = net.forward_frame(frame_input(&s, 2), (2, 2), &moved);
    assert!(max_diff(got.squeeze_dim(0), want.clone().squeeze_dim(0)) > 1e-3, "the previous frame's tokens are read");
    moved.last = Some(PreviousInput { tokens: last.tokens, level: last.level + 0.3 });
    let (got, _) = net.forward_frame(frame_input(&s, 2), (2, 2), &moved);
    assert!(max_diff(got.squeeze_dim(0), want.squeeze_dim(0)) > 1e-3, "and so is its noise level");
}

/// Frame `f` of `s` as a stream's one-frame input.
fn frame_input(s: &Sample, f: usize) -> DitInput<B> {
    let n = s.shape.frame_tokens();
    DitInput {
        tokens: s.tokens.clone().narrow(0, f * n, n).unsqueeze(),
        noise: s.noise.clone().narrow(0, f, 1),
        pooled_text: s.pooled.clone().narrow(0, f, 1),
        action: s.action.clone().narrow(0, f, 1),
        text: s.text.clone().unsqueeze(),
    }
}

#[test]
fn a_dit_grown_to_read_the_previous_frame_predicts_exactly_as_before() {
    let device = Default::default();
    let small = config().with_action_shift(Some(true));
    let reading = small.clone().with_previous_frame(Some(true));
    assert!(reading.grows_from(&small), "the previous-frame input can be added");
    assert!(!small.grows_from(&reading), "it is never removed");
    assert!(!small.reads_previous() && reading.reads_previous());
    let net = shifted_network();
    let s = sample(3, (2, 2), 3);
    for mode in [AttentionMode::FrameCausal, AttentionMode::Bidirectional] {
        let want = run(&net, &[&s], mode, usize::MAX).remove(0);
        let grown = net.clone().grown(&reading, &device);
        assert_eq!(grown.num_params(), reading.init::<B>(&device).num_params());
        let got = run(&grown, &[&s], mode, usize::MAX).remove(0);
        assert_eq!(max_diff(got, want), 0.0, "{mode:?}: the previous-frame layers start at zero");
    }
}

#[test]
fn a_displacement_is_a_move_of_the_rotary_position() {
    let device = Default::default();
    let (heads, hd, theta) = (2, 16, 10000.0);
    let pos = vec![[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 2.0, 0.0]];
    // (height, width) displacement per head, the same for the three tokens.
    let moves = [[0.5f32, -1.25], [2.0, 0.75]];
    let offsets: Vec<f32> = (0..pos.len()).flat_map(|_| moves.iter().flatten().copied()).collect();
    let offsets = Tensor::<B, 1>::from_floats(offsets.as_slice(), &device).reshape([1, pos.len(), heads * 2]);
    let x = Tensor::<B, 4>::random([1, heads, pos.len(), hd], Distribution::Normal(0.0, 1.0), &device);
    let got = ShiftRotation::new(offsets, heads, hd, theta)
        .apply(Rope::new(std::slice::from_ref(&pos), hd, theta, &device).apply(x.clone()));
    for (h, [dy, dx]) in moves.into_iter().enumerate() {
        let moved: Vec<[f32; 3]> = pos.iter().map(|p| [p[0], p[1] + dy, p[2] + dx]).collect();
        let want = Rope::new(&[moved], hd, theta, &device).apply(x.clone().narrow(1, h, 1));
        let d = (got.clone().narrow(1, h, 1) - want).abs().max().into_scalar();
        assert!(d < 1e-5, "head {h}: displaced rotation differs from the moved rotary position by {d}");
    }
}

#[test]
fn a_frames_conditioning_reaches_only_its_own_frame_under_causal_attention() {
    let net = network();
    let s = sample(3, (2, 2), 3);
    let base = run(&net, &[&s], AttentionMode::FrameCausal, usize::MAX).remove(0);
    let n = 4;
    // Change frame 2's noise level and action caption.
    let changed = Sample {
        noise: Tensor::cat(vec![s.noise.clone().narrow(0, 0, 2), Tensor::from_floats([0.99], &Default::default())], 0),
        action: Tensor::cat(vec![s.action.clone().narrow(0, 0, 2), rand2([1, config().text_dim])], 0),
        ..sample_clone(&s)
    };
    let out = run(&net, &[&changed], AttentionMode::FrameCausal, usize::MAX).remove(0);
    assert!(max_diff(out.clone().narrow(0, 0, 2 * n), base.clone().narrow(0, 0, 2 * n)) < 1e-6);
    assert!(max_diff(out.narrow(0, 2 * n, n), base.clone().narrow(0, 2 * n, n)) > 1e-3);
    // Bidirectional attention does carry it to the other frames (through attention, not
    // modulation), which is what clips and editing want.
    let bi = run(&net, &[&s], AttentionMode::Bidirectional, usize::MAX).remove(0);
    let bi2 = run(&net, &[&changed], AttentionMode::Bidirectional, usize::MAX).remove(0);
    assert!(max_diff(bi.narrow(0, 0, n), bi2.narrow(0, 0, n)) > 1e-5);
}

fn sample_clone(s: &Sample) -> Sample {
    Sample {
        shape: s.shape,
        tokens: s.tokens.clone(),
        noise: s.noise.clone(),
        pooled: s.pooled.clone(),
        action: s.action.clone(),
        text: s.text.clone(),
    }
}

#[test]
fn a_fresh_network_predicts_zero_and_limits_are_precise() {
    let device = Default::default();
    let net = config().init::<B>(&device);
    let s = sample(2, (2, 2), 3);
    let out = run(&net, &[&s], AttentionMode::Bidirectional, usize::MAX).remove(0);
    assert_eq!(out.abs().max().into_scalar(), 0.0, "adaLN-Zero: a fresh DiT outputs zeros");

    let c = DitConfig::tiny();
    c.validate().expect("tiny is valid");
    DitConfig::base().validate().expect("base is valid");
    assert!(c.check_latent(8, 3, 16, 16).is_ok());
    match c.check_latent(8, 3, 15, 16) {
        Err(ModelError::InvalidSize { field, nearest, .. }) => assert_eq!((field, nearest), ("latent height", 16)),
        other => panic!("{other:?}"),
    }
    match c.check_latent(8, 100, 16, 16) {
        Err(ModelError::InvalidSize { field, nearest, .. }) => assert_eq!((field, nearest), ("latent frames", 64)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(c.check_latent(4, 3, 16, 16), Err(ModelError::LatentShape { field: "channels", .. })));
    let bad = DitConfig::new(8, 100, 2, 3, 16);
    assert!(bad.validate().unwrap_err().to_string().contains("heads"));
}

#[test]
fn a_dit_grown_to_more_latent_channels_predicts_the_old_ones_exactly() {
    let device = Default::default();
    let small = config();
    let wide = DitConfig { latent_channels: 6, ..small.clone() };
    assert!(wide.grows_from(&small) && small.grows_from(&small), "more or the same latent channels grow");
    assert!(!small.grows_from(&wide), "latent channels are never removed");
    let deeper = DitConfig { depth: 3, ..wide.clone() };
    assert!(!deeper.grows_from(&small), "nothing else may differ");

    let net = network();
    let s = sample(2, (2, 2), 3);
    let want = run(&net, &[&s], AttentionMode::Bidirectional, usize::MAX).remove(0); // [n, 4·p²]
    let grown = net.grown(&wide, &device);
    // The new channels' values follow the old ones in every token; they hold noise here.
    let own = small.token_dim();
    let extra = rand2([s.tokens.dims()[0], wide.token_dim() - own]);
    let wider = Sample { tokens: Tensor::cat(vec![s.tokens.clone(), extra], 1), ..sample_clone(&s) };
    let got = run(&grown, &[&wider], AttentionMode::Bidirectional, usize::MAX).remove(0); // [n, 6·p²]
    assert_eq!(got.dims()[1], wide.token_dim());
    assert_eq!(max_diff(got.clone().narrow(1, 0, own), want), 0.0, "the old channels are predicted as before");
    let new = got.narrow(1, own, wide.token_dim() - own).abs().max().into_scalar();
    assert_eq!(new, 0.0, "the new channels' outputs start at zero");
    assert_eq!(grown.num_params(), wide.init::<B>(&device).num_params());
}

#[test]
fn a_dit_grown_to_displace_positions_predicts_exactly_as_before() {
    let device = Default::default();
    let small = config();
    let shifted = small.clone().with_action_shift(Some(true));
    assert!(shifted.grows_from(&small), "displacements can be added");
    assert!(!small.grows_from(&shifted), "displacements are never removed");
    assert!(!small.displaces() && shifted.displaces());
    let net = network();
    let s = sample(3, (2, 2), 3);
    let want = run(&net, &[&s], AttentionMode::FrameCausal, usize::MAX).remove(0);
    let grown = net.grown(&shifted, &device);
    assert_eq!(grown.num_params(), shifted.init::<B>(&device).num_params());
    let got = run(&grown, &[&s], AttentionMode::FrameCausal, usize::MAX).remove(0);
    assert_eq!(max_diff(got, want), 0.0, "displacements start at zero");
}

#[test]
fn every_weight_of_a_grown_dit_trains() {
    use worldsim_model::CpuAutodiff;
    type A = CpuAutodiff;
    let device = Default::default();
    let small = config();
    let wide = DitConfig { latent_channels: 6, ..small.clone() };
    let source = small.init::<A>(&device);
    let _ = source.num_params(); // reads (initialises) the source before it is grown
    let grown = source.grown(&wide, &device);
    let s = sample(2, (2, 2), 3);
    let layout = Layout::pack(vec![s.shape], AttentionMode::Bidirectional, usize::MAX);
    let lift = |t: Tensor<B, 2>| Tensor::<A, 2>::from_inner(t);
    let tokens = lift(rand2([s.shape.tokens(), wide.token_dim()]));
    let input = DitInput {
        tokens: layout.pack_tokens(vec![tokens.clone()]),
        noise: Tensor::from_inner(s.noise.clone()),
        pooled_text: lift(s.pooled.clone()),
        action: lift(s.action.clone()),
        text: layout.pack_text(vec![lift(s.text.clone())]),
    };
    let out = grown.forward(input, &grown.layout_tensors(&layout, &device));
    let grads = (out - layout.pack_tokens(vec![tokens])).powi_scalar(2).mean().backward();
    struct Frozen<'a> {
        grads: &'a <A as burn::tensor::backend::AutodiffBackend>::Gradients,
        frozen: Vec<String>,
    }
    impl burn::module::ModuleVisitor<A> for Frozen<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<A, D>>) {
            if param.val().grad(self.grads).is_none() {
                self.frozen.push(format!("{:?}", param.lazy_shape()));
            }
        }
    }
    let mut check = Frozen { grads: &grads, frozen: Vec::new() };
    grown.visit(&mut check);
    assert!(check.frozen.is_empty(), "weights of the grown DiT that cannot train: {:?}", check.frozen);
}
