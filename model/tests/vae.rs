//! The causal video VAE: shapes for any length and aspect ratio, causality of encoder and
//! decoder, images as first frames, streaming decode equal to full decode, precise size errors.
//! Weights are random: these are properties of the architecture, not of training.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use worldsim_model::vae::{LatentStats, VaeConfig, VideoVae};
use worldsim_model::{Cpu, ModelError};

type B = Cpu;

fn setup() -> (VaeConfig, VideoVae<B>, burn::tensor::Device<B>) {
    let device = Default::default();
    B::seed(&device, 7);
    let config = VaeConfig::tiny();
    let vae = config.init::<B>(&device);
    (config, vae, device)
}

fn random(shape: [usize; 5], device: &burn::tensor::Device<B>) -> Tensor<B, 5> {
    Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), device)
}

fn max_diff(a: Tensor<B, 5>, b: Tensor<B, 5>) -> f32 {
    (a - b).abs().max().into_scalar()
}

#[test]
fn shapes_follow_the_compression_factors_for_any_length_and_aspect() {
    let (config, vae, device) = setup();
    assert_eq!((config.spatial_factor(), config.temporal_factor()), (4, 4));
    for (t, h, w) in [(1, 16, 16), (5, 16, 32), (9, 32, 16), (13, 12, 20), (2 * 4 + 1, 8, 4)] {
        let z = vae.encode(&config, random([1, 3, t, h, w], &device)).expect("valid size");
        assert_eq!(z.mean.dims(), [1, 8, 1 + (t - 1) / 4, h / 4, w / 4], "latent of {t}×{h}×{w}");
        assert_eq!(z.log_var.dims(), z.mean.dims());
        let x = vae.decode(&config, z.mean).expect("valid latent");
        assert_eq!(x.dims(), [1, 3, t, h, w], "decoded {t}×{h}×{w}");
    }
}

#[test]
fn the_encoder_is_causal() {
    let (config, vae, device) = setup();
    let base = random([1, 3, 9, 16, 16], &device);
    let z0 = vae.encode(&config, base.clone()).expect("valid").mean;
    for f in [1usize, 3, 4, 5, 8] {
        let changed =
            base.clone().slice_assign([0..1, 0..3, f..f + 1, 0..16, 0..16], random([1, 3, 1, 16, 16], &device));
        let z1 = vae.encode(&config, changed).expect("valid").mean;
        let holder = f.div_ceil(4);
        for j in 0..holder {
            let d = max_diff(z0.clone().narrow(2, j, 1), z1.clone().narrow(2, j, 1));
            assert!(d < 1e-6, "frame {f} changed latent frame {j} (before {holder}) by {d}");
        }
        let d = max_diff(z0.clone().narrow(2, holder, 1), z1.clone().narrow(2, holder, 1));
        assert!(d > 1e-4, "frame {f} did not reach latent frame {holder}");
    }
}

#[test]
fn an_image_encodes_like_the_first_frame_of_a_video() {
    let (config, vae, device) = setup();
    let video = random([1, 3, 9, 12, 20], &device);
    let image = video.clone().narrow(2, 0, 1);
    let zi = vae.encode(&config, image).expect("valid").mean;
    let zv = vae.encode(&config, video).expect("valid").mean;
    assert_eq!(zi.dims(), [1, 8, 1, 3, 5]);
    let d = max_diff(zi, zv.narrow(2, 0, 1));
    assert!(d < 1e-5, "image latent differs from the video's first latent by {d}");
}

#[test]
fn streaming_decode_equals_full_decode() {
    let (config, vae, device) = setup();
    let z = random([1, 8, 4, 4, 6], &device);
    let full = vae.decode(&config, z.clone()).expect("valid");
    assert_eq!(full.dims(), [1, 3, 13, 16, 24]);
    for chunk in [1usize, 2] {
        let mut stream = vae.stream_decoder();
        let mut parts = Vec::new();
        let mut start = 0;
        while start < 4 {
            let n = chunk.min(4 - start);
            let frames = stream.next(&config, z.clone().narrow(2, start, n)).expect("valid");
            let expected = if start == 0 { 4 * n - 3 } else { 4 * n };
            assert_eq!(frames.dims()[2], expected, "chunk at {start}");
            parts.push(frames);
            start += n;
        }
        let d = max_diff(Tensor::cat(parts, 2), full.clone());
        assert!(d < 1e-4, "streaming in chunks of {chunk} differs from full decode by {d}");
    }
}

#[test]
fn the_decoder_is_causal() {
    let (config, vae, device) = setup();
    let z = random([1, 8, 3, 4, 4], &device);
    let x0 = vae.decode(&config, z.clone()).expect("valid");
    let changed = z.slice_assign([0..1, 0..8, 2..3, 0..4, 0..4], random([1, 8, 1, 4, 4], &device));
    let x1 = vae.decode(&config, changed).expect("valid");
    // Latent frame 2 holds video frames 5..=8.
    let d = max_diff(x0.clone().narrow(2, 0, 5), x1.clone().narrow(2, 0, 5));
    assert!(d < 1e-6, "changing latent frame 2 changed earlier frames by {d}");
    assert!(max_diff(x0.narrow(2, 5, 4), x1.narrow(2, 5, 4)) > 1e-4);
}

#[test]
fn bad_sizes_name_the_dimension_and_the_nearest_valid_size() {
    let (config, vae, device) = setup();
    let err = |shape: [usize; 5]| vae.encode(&config, random(shape, &device)).expect_err("invalid");
    assert_eq!(
        err([1, 3, 4, 16, 16]),
        ModelError::InvalidSize {
            field: "frames",
            got: 4,
            reason: "a video has 1 + 4·k frames (1 is an image)".into(),
            nearest: 5
        }
    );
    match err([1, 3, 5, 18, 16]) {
        ModelError::InvalidSize { field: "height", got: 18, nearest, .. } => assert!(nearest == 16 || nearest == 20),
        e => panic!("{e}"),
    }
    match err([1, 3, 1, 16, 2]) {
        ModelError::InvalidSize { field: "width", nearest: 4, .. } => {}
        e => panic!("{e}"),
    }
    assert!(matches!(err([1, 4, 1, 16, 16]), ModelError::InvalidSize { field: "channels", nearest: 3, .. }));
    let message = err([1, 3, 7, 16, 16]).to_string();
    assert_eq!(message, "frames is 7: a video has 1 + 4·k frames (1 is an image); the nearest valid value is 9");
    let wrong_latent = vae.decode(&config, random([1, 4, 2, 4, 4], &device)).expect_err("invalid");
    assert_eq!(wrong_latent, ModelError::LatentShape { field: "channels", got: 4, expected: 8 });
}

#[test]
fn latent_stats_normalize_and_invert() {
    let (_, _, device) = setup();
    let stats =
        LatentStats { mean: (0..8).map(|i| i as f32 * 0.1).collect(), std: (0..8).map(|i| 0.5 + i as f32).collect() };
    let z = random([2, 8, 2, 3, 3], &device);
    let n = stats.normalize(z.clone());
    assert!(max_diff(stats.denormalize(n.clone()), z.clone()) < 1e-5);
    // Channel 3: (z - 0.3) / 3.5.
    let expected = (z.narrow(1, 3, 1) - 0.3) / 3.5;
    assert!(max_diff(n.narrow(1, 3, 1), expected) < 1e-6);
    assert_eq!(LatentStats::identity(8).std, vec![1.0; 8]);
}

#[test]
fn a_grown_vae_codes_exactly_as_before_until_trained() {
    let (tiny, _, device) = setup();
    let shallow = tiny.clone().with_decoder_res_blocks(None);
    assert!(tiny.grows_from(&shallow) && tiny.grows_from(&tiny), "deeper or equal decoders grow");
    assert!(!shallow.grows_from(&tiny), "a decoder is never cut down");
    let wide = VaeConfig { latent_channels: 12, ..tiny.clone() };
    assert!(wide.grows_from(&shallow) && wide.grows_from(&tiny), "latent channels may be added");
    assert!(!tiny.grows_from(&wide), "latent channels are never removed");
    let other = tiny.clone().with_decoder_res_blocks(Some(vec![1, 1, 2]));
    assert!(!tiny.grows_from(&other) && !other.grows_from(&tiny), "every level must be at least as deep");
    let wider_net = VaeConfig { channels: vec![32, 64, 128], ..tiny.clone() };
    assert!(!wider_net.grows_from(&tiny), "nothing else may differ");

    let before = shallow.init::<B>(&device);
    let z = random([1, 8, 3, 4, 6], &device);
    let x = random([1, 3, 5, 16, 16], &device);
    // Reading the source first also initialises its (lazy) weights, which a clone would
    // otherwise draw again.
    let want = before.decode(&shallow, z.clone()).expect("valid");
    let want_latent = before.encode(&shallow, x.clone()).expect("valid");
    for (config, what) in [(&tiny, "deeper decoder"), (&wide, "deeper decoder and 4 more latent channels")] {
        let after = before.clone().grown(config, &device);
        assert_eq!(
            after.num_params(),
            config.init::<B>(&device).num_params(),
            "{what}: the grown model is its config's"
        );
        assert!(after.num_params() > before.num_params(), "{what}: the grown model has new weights");
        // Whatever the new latent channels hold, the decoder ignores them until trained.
        let extra = config.latent_channels - 8;
        let zz =
            if extra > 0 { Tensor::cat(vec![z.clone(), random([1, extra, 3, 4, 6], &device)], 1) } else { z.clone() };
        let d = max_diff(after.decode(config, zz.clone()).expect("valid"), want.clone());
        assert_eq!(d, 0.0, "{what}: the grown decoder decodes as the source");
        let mut stream = after.stream_decoder();
        let parts: Vec<_> = (0..3).map(|i| stream.next(config, zz.clone().narrow(2, i, 1)).expect("valid")).collect();
        let d = max_diff(Tensor::cat(parts, 2), want.clone());
        assert!(d < 1e-4, "{what}: the grown decoder streams like the source decodes ({d})");
        let got = after.encode(config, x.clone()).expect("valid");
        assert_eq!(got.mean.dims()[1], config.latent_channels);
        if extra > 0 {
            let d = max_diff(got.log_var.clone().narrow(1, 8, extra), want_latent.log_var.clone().narrow(1, 0, extra));
            assert_eq!(d, 0.0, "{what}: the new channels start as certain as the trained ones");
        }
        for (name, a, b) in [("mean", got.mean, &want_latent.mean), ("log-variance", got.log_var, &want_latent.log_var)]
        {
            assert_eq!(max_diff(a.narrow(1, 0, 8), b.clone()), 0.0, "{what}: the source's latent {name} is kept");
        }
    }
}

/// Counts the parameters of a module that got no gradient from `grads`: frozen ones.
struct Frozen<'a> {
    grads: &'a <worldsim_model::CpuAutodiff as burn::tensor::backend::AutodiffBackend>::Gradients,
    frozen: Vec<String>,
    seen: usize,
}

impl burn::module::ModuleVisitor<worldsim_model::CpuAutodiff> for Frozen<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<worldsim_model::CpuAutodiff, D>>) {
        self.seen += 1;
        if param.val().grad(self.grads).is_none() {
            self.frozen.push(format!("{:?}", param.lazy_shape()));
        }
    }
}

#[test]
fn every_weight_of_a_grown_vae_trains() {
    use worldsim_model::CpuAutodiff;
    let device = Default::default();
    let tiny = VaeConfig::tiny();
    let shallow = VaeConfig { latent_channels: 4, ..tiny.clone().with_decoder_res_blocks(None) };
    let source = shallow.init::<CpuAutodiff>(&device);
    let _ = source.num_params(); // reads (initialises) the source before it is grown
    let grown = source.grown(&tiny, &device);
    let x = Tensor::<CpuAutodiff, 5>::random([1, 3, 5, 16, 16], Distribution::Uniform(-1.0, 1.0), &device);
    let dist = grown.encode(&tiny, x.clone()).expect("valid");
    let loss = (grown.decode(&tiny, dist.sample()).expect("valid") - x).powi_scalar(2).mean() + dist.kl();
    let grads = loss.backward();
    let mut check = Frozen { grads: &grads, frozen: Vec::new(), seen: 0 };
    grown.visit(&mut check);
    assert!(check.seen > 0);
    assert!(check.frozen.is_empty(), "weights of the grown VAE that cannot train: {:?}", check.frozen);
}

#[test]
fn configs_are_validated_with_the_field_named() {
    assert_eq!(VaeConfig::tiny().validate(), Ok(()));
    assert_eq!(VaeConfig::base().validate(), Ok(()));
    let bad = VaeConfig { channels: vec![32, 60, 64], ..VaeConfig::tiny() };
    assert!(matches!(bad.validate(), Err(ModelError::Config { field: "channels", .. })), "{:?}", bad.validate());
    let bad = VaeConfig { spatial_down: vec![true], ..VaeConfig::tiny() };
    let e = bad.validate().expect_err("step count");
    assert!(e.to_string().contains("one per step between the 3 levels (2)"), "{e}");
    for blocks in [vec![2, 0, 1], vec![2, 2]] {
        let bad = VaeConfig::tiny().with_decoder_res_blocks(Some(blocks));
        assert!(matches!(bad.validate(), Err(ModelError::Config { field: "decoder_res_blocks", .. })));
    }
    assert_eq!(VaeConfig::preset("tiny"), Some(VaeConfig::tiny()));
    assert_eq!(VaeConfig::preset("huge"), None);
}
