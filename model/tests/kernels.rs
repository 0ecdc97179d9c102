//! The fused CPU kernels against the plain burn ops they replace: values on burn-flex, and
//! gradients under autodiff, within float tolerance.

use burn::prelude::*;
use burn::tensor::activation;
use burn::tensor::module;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Distribution, TensorData};
use worldsim_model::kernels;
use worldsim_model::{Cpu, CpuAutodiff};

fn max_diff<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f32 {
    (a - b).abs().max().into_scalar().elem::<f32>()
}

fn random<B: Backend, const D: usize>(shape: [usize; D], seed: u64) -> Tensor<B, D> {
    B::seed(&Default::default(), seed);
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Default::default())
}

/// Gradients of `Σ f(inputs) ⊙ w` with respect to each input.
fn grads<const D: usize, const E: usize>(
    inputs: &[Tensor<Cpu, D>],
    weight: Tensor<Cpu, E>,
    f: impl Fn(Vec<Tensor<CpuAutodiff, D>>) -> Tensor<CpuAutodiff, E>,
) -> (Tensor<Cpu, E>, Vec<Tensor<Cpu, D>>) {
    let tracked: Vec<_> =
        inputs.iter().map(|x| Tensor::<CpuAutodiff, D>::from_inner(x.clone()).require_grad()).collect();
    let out = f(tracked.clone());
    let value = out.clone().inner();
    let g = (out * Tensor::from_inner(weight)).sum().backward();
    (value, tracked.iter().map(|x| x.grad(&g).expect("input is tracked")).collect())
}

#[test]
fn gelu_matches_burn() {
    let x = random::<Cpu, 3>([3, 70, 200], 1) * 3.0;
    assert!(max_diff(kernels::gelu(x.clone()), activation::gelu(x.clone())) < 2e-6);
    // A shared (not uniquely owned) input is left untouched.
    let kept = x.clone();
    let _ = kernels::gelu(x.clone());
    assert_eq!(max_diff(kept, x.clone()), 0.0);

    let w = random::<Cpu, 3>([3, 70, 200], 2);
    let (ours, g_ours) = grads(std::slice::from_ref(&x), w.clone(), |v| kernels::gelu(v[0].clone()));
    let (plain, g_plain) = grads(&[x], w, |v| activation::gelu(v[0].clone()));
    assert!(max_diff(ours, plain) < 2e-6);
    assert!(max_diff(g_ours[0].clone(), g_plain[0].clone()) < 1e-5);
}

#[test]
fn rope_matches_plain_ops() {
    let (b, h, n, d) = (2, 3, 37, 64);
    let x = random::<Cpu, 4>([b, h, n, d], 3);
    let angles = random::<Cpu, 3>([b, n, d / 2], 4) * 10.0;
    let (cos, sin) = (angles.clone().cos(), angles.sin());
    // A strided view as input, as the attention gives it.
    let view = x.clone().swap_dims(1, 2).swap_dims(1, 2);
    let ours = kernels::rope(view, cos.clone(), sin.clone());
    assert!(max_diff(ours, kernels::rope_plain(x.clone(), cos.clone(), sin.clone())) < 1e-6);

    let w = random::<Cpu, 4>([b, h, n, d], 5);
    let (c, s) = (Tensor::from_inner(cos.clone()), Tensor::from_inner(sin.clone()));
    let (ours, g_ours) =
        grads(std::slice::from_ref(&x), w.clone(), |v| kernels::rope(v[0].clone(), c.clone(), s.clone()));
    let (plain, g_plain) = grads(&[x], w, |v| kernels::rope_plain(v[0].clone(), c.clone(), s.clone()));
    assert!(max_diff(ours, plain) < 1e-6);
    assert!(max_diff(g_ours[0].clone(), g_plain[0].clone()) < 1e-5);
}

#[test]
fn attention_matches_burn_with_and_without_mask() {
    let (b, h, n, m, d) = (2, 3, 45, 61, 32);
    let q = random::<Cpu, 4>([b, h, n, d], 6);
    let k = random::<Cpu, 4>([b, h, m, d], 7);
    let v = random::<Cpu, 4>([b, h, m, d], 8);
    // Block about a third of the keys, never a whole row.
    let blocked: Vec<bool> = (0..b * h * n * m).map(|i| (i * 7919 % 13) < 4 && i % m != 0).collect();
    let mask = Tensor::<Cpu, 4, Bool>::from_data(TensorData::new(blocked, [b, h, n, m]), &Default::default());
    let w = random::<Cpu, 4>([b, h, n, d], 9);
    for mask in [None, Some(mask)] {
        let am = mask.clone().map(Tensor::<CpuAutodiff, 4, Bool>::from_inner);
        let plain_fwd =
            module::attention(q.clone(), k.clone(), v.clone(), mask.clone(), None, AttentionModuleOptions::default());
        let ours_fwd = kernels::attention(q.clone(), k.clone(), v.clone(), mask.clone());
        assert!(max_diff(ours_fwd, plain_fwd) < 1e-5);

        let inputs = [q.clone(), k.clone(), v.clone()];
        let (ours, g_ours) =
            grads(&inputs, w.clone(), |t| kernels::attention(t[0].clone(), t[1].clone(), t[2].clone(), am.clone()));
        let (plain, g_plain) = grads(&inputs, w.clone(), |t| {
            module::attention(
                t[0].clone(),
                t[1].clone(),
                t[2].clone(),
                am.clone(),
                None,
                AttentionModuleOptions::default(),
            )
        });
        assert!(max_diff(ours, plain) < 1e-5);
        for (name, (a, p)) in ["q", "k", "v"].iter().zip(g_ours.into_iter().zip(g_plain)) {
            let diff = max_diff(a, p);
            assert!(diff < 1e-4, "gradient of {name} differs by {diff}");
        }
    }
}

/// burn's attention with `mask` expanded to the scores' shape.
fn plain_attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    mask: Option<Tensor<B, 4, Bool>>,
) -> Tensor<B, 4> {
    let [b, h, n, _] = q.dims();
    let m = k.dims()[2];
    module::attention(q, k, v, mask.map(|x| x.expand([b, h, n, m])), None, AttentionModuleOptions::default())
}

#[test]
fn attention_reads_head_views_and_broadcast_masks() {
    // Heads split from tokens (strided views), a mask shared by all heads, and enough queries
    // for several blocks per head.
    let (b, h, n, m, d) = (2, 3, 150, 70, 16);
    let split = |x: Tensor<Cpu, 3>| x.reshape([b as i32, -1, h as i32, d as i32]).swap_dims(1, 2);
    let q = split(random::<Cpu, 3>([b, n, h * d], 20));
    let k = split(random::<Cpu, 3>([b, m, h * d], 21));
    let v = split(random::<Cpu, 3>([b, m, h * d], 22));
    let pattern = |full_row: Option<usize>| {
        let blocked: Vec<bool> =
            (0..b * n * m).map(|i| Some((i / m) % n) == full_row || ((i * 31 % 11) < 3 && i % m != 0)).collect();
        Tensor::<Cpu, 4, Bool>::from_data(TensorData::new(blocked, [b, 1, n, m]), &Default::default())
    };
    let mask = pattern(None);
    let ours = kernels::attention(q.clone(), k.clone(), v.clone(), Some(mask.clone()));
    assert!(max_diff(ours, plain_attention(q.clone(), k.clone(), v.clone(), Some(mask.clone()))) < 1e-5);

    let am = Some(Tensor::<CpuAutodiff, 4, Bool>::from_inner(mask));
    let w = random::<Cpu, 4>([b, h, n, d], 23);
    let inputs = [q.clone(), k.clone(), v.clone()];
    let (_, g_ours) =
        grads(&inputs, w.clone(), |t| kernels::attention(t[0].clone(), t[1].clone(), t[2].clone(), am.clone()));
    let (_, g_plain) = grads(&inputs, w, |t| plain_attention(t[0].clone(), t[1].clone(), t[2].clone(), am.clone()));
    for (name, (a, p)) in ["q", "k", "v"].iter().zip(g_ours.into_iter().zip(g_plain)) {
        let diff = max_diff(a, p);
        assert!(diff < 1e-4, "gradient of {name} differs by {diff}");
    }

    // A query that may attend to nothing gives 0.
    let out = kernels::attention(q, k, v, Some(pattern(Some(7))));
    assert_eq!(out.narrow(2, 7, 1).abs().max().into_scalar().elem::<f32>(), 0.0);
}

#[test]
fn attention_gradients_of_one_long_head_match_burn() {
    // One head of many queries (several forward blocks), more keys than one block of rows.
    let (n, m, d) = (300, 90, 16);
    let inputs =
        [random::<Cpu, 4>([1, 1, n, d], 40), random::<Cpu, 4>([1, 1, m, d], 41), random::<Cpu, 4>([1, 1, m, d], 42)];
    let w = random::<Cpu, 4>([1, 1, n, d], 43);
    let (ours, g_ours) =
        grads(&inputs, w.clone(), |t| kernels::attention(t[0].clone(), t[1].clone(), t[2].clone(), None));
    let (plain, g_plain) = grads(&inputs, w, |t| plain_attention(t[0].clone(), t[1].clone(), t[2].clone(), None));
    assert!(max_diff(ours, plain) < 1e-5);
    for (name, (a, p)) in ["q", "k", "v"].iter().zip(g_ours.into_iter().zip(g_plain)) {
        let diff = max_diff(a, p);
        assert!(diff < 1e-4, "gradient of {name} differs by {diff}");
    }
}

#[test]
fn rms_norm_matches_burn() {
    let x = random::<Cpu, 4>([2, 3, 29, 64], 10) * 2.0 + 0.5;
    let gamma = random::<Cpu, 1>([64], 11);
    let view = x.clone().swap_dims(1, 2).swap_dims(1, 2);
    assert!(
        max_diff(kernels::rms_norm(view, gamma.clone(), 1e-6), kernels::rms_norm_plain(x.clone(), gamma.clone(), 1e-6))
            < 1e-5
    );

    let w = random::<Cpu, 4>([2, 3, 29, 64], 12);
    let g = Tensor::<CpuAutodiff, 1>::from_inner(gamma.clone()).require_grad();
    let run = |fused: bool| {
        let xa = Tensor::<CpuAutodiff, 4>::from_inner(x.clone()).require_grad();
        let ga = Tensor::<CpuAutodiff, 1>::from_inner(gamma.clone()).require_grad();
        let y = if fused {
            kernels::rms_norm(xa.clone(), ga.clone(), 1e-6)
        } else {
            kernels::rms_norm_plain(xa.clone(), ga.clone(), 1e-6)
        };
        let grads = (y.clone() * Tensor::from_inner(w.clone())).sum().backward();
        (y.inner(), xa.grad(&grads).unwrap(), ga.grad(&grads).unwrap())
    };
    let _ = g;
    let (y1, dx1, dg1) = run(true);
    let (y2, dx2, dg2) = run(false);
    assert!(max_diff(y1, y2) < 1e-5);
    assert!(max_diff(dx1, dx2) < 1e-4);
    assert!(max_diff(dg1, dg2) < 1e-3);
}

#[test]
fn modulated_layer_norm_matches_plain_ops() {
    let (r, n, d) = (2, 33, 96);
    let x = random::<Cpu, 3>([r, n, d], 13) * 3.0 - 1.0;
    // Shift and scale as views of one wider tensor, as the adaLN chunks are.
    let m = random::<Cpu, 3>([r, n, 3 * d], 14);
    let (shift, scale) = (m.clone().narrow(2, 0, d), m.clone().narrow(2, 2 * d, d));
    for modulated in [false, true] {
        let mods = modulated.then(|| (shift.clone(), scale.clone()));
        assert!(
            max_diff(
                kernels::layer_norm(x.clone(), mods.clone(), 1e-6),
                kernels::layer_norm_plain(x.clone(), mods, 1e-6)
            ) < 1e-5
        );

        let w = random::<Cpu, 3>([r, n, d], 15);
        let run = |fused: bool| {
            let xa = Tensor::<CpuAutodiff, 3>::from_inner(x.clone()).require_grad();
            let ma = Tensor::<CpuAutodiff, 3>::from_inner(m.clone()).require_grad();
            let mods = modulated.then(|| (ma.clone().narrow(2, 0, d), ma.clone().narrow(2, 2 * d, d)));
            let y = if fused {
                kernels::layer_norm(xa.clone(), mods, 1e-6)
            } else {
                kernels::layer_norm_plain(xa.clone(), mods, 1e-6)
            };
            let grads = (y.clone() * Tensor::from_inner(w.clone())).sum().backward();
            (y.inner(), xa.grad(&grads).unwrap(), ma.grad(&grads))
        };
        let (y1, dx1, dm1) = run(true);
        let (y2, dx2, dm2) = run(false);
        assert!(max_diff(y1, y2) < 1e-5);
        assert!(max_diff(dx1, dx2) < 1e-4, "modulated {modulated}");
        if let (Some(a), Some(b)) = (dm1, dm2) {
            assert!(max_diff(a, b) < 1e-4);
        }
    }
}

#[test]
fn merge_heads_and_gated_residual_match_plain_ops() {
    let x = random::<Cpu, 4>([2, 3, 17, 16], 16);
    assert_eq!(max_diff(kernels::merge_heads(x.clone()), kernels::merge_heads_plain(x.clone())), 0.0);
    let w = random::<Cpu, 2>([2 * 17, 3 * 16], 17);
    let (a, ga) = grads(std::slice::from_ref(&x), w.clone(), |v| kernels::merge_heads(v[0].clone()));
    let (b, gb) = grads(&[x], w, |v| kernels::merge_heads_plain(v[0].clone()));
    assert_eq!(max_diff(a, b), 0.0);
    assert_eq!(max_diff(ga[0].clone(), gb[0].clone()), 0.0);

    let (r, n, d) = (2, 21, 48);
    let x = random::<Cpu, 3>([r, n, d], 18);
    let y = random::<Cpu, 3>([r, n, d], 19);
    let m = random::<Cpu, 3>([r, n, 3 * d], 20);
    let w = random::<Cpu, 3>([r, n, d], 21);
    let gated = |x: Tensor<CpuAutodiff, 3>, m: Tensor<CpuAutodiff, 3>, y: Tensor<CpuAutodiff, 3>, fused: bool| {
        let gate = m.narrow(2, d, d);
        if fused { kernels::gated_residual(x, gate, y) } else { x + gate * y }
    };
    let inputs = [x, m, y];
    let (a, ga) = grads(&inputs, w.clone(), |v| gated(v[0].clone(), v[1].clone(), v[2].clone(), true));
    let (b, gb) = grads(&inputs, w, |v| gated(v[0].clone(), v[1].clone(), v[2].clone(), false));
    assert!(max_diff(a, b) < 1e-6);
    for (a, b) in ga.into_iter().zip(gb) {
        assert!(max_diff(a, b) < 1e-6);
    }
}

/// A convolution-like op `f(x, weight, bias)` under autodiff: its output and the gradients of
/// `Σ y²` with respect to `x`, `weight` and `bias` (as `[1, 1, 1, 1, c_out]`).
fn conv_grads(
    f: impl Fn(Tensor<CpuAutodiff, 5>, Tensor<CpuAutodiff, 5>, Tensor<CpuAutodiff, 1>) -> Tensor<CpuAutodiff, 5>,
    x: &Tensor<Cpu, 5>,
    w: &Tensor<Cpu, 5>,
    bias: &Tensor<Cpu, 1>,
) -> [Tensor<Cpu, 5>; 4] {
    let xa = Tensor::<CpuAutodiff, 5>::from_inner(x.clone()).require_grad();
    let wa = Tensor::<CpuAutodiff, 5>::from_inner(w.clone()).require_grad();
    let ba = Tensor::<CpuAutodiff, 1>::from_inner(bias.clone()).require_grad();
    let y = f(xa.clone(), wa.clone(), ba.clone());
    let g = y.clone().powi_scalar(2).sum().backward();
    let db = ba.grad(&g).unwrap().reshape([1, 1, 1, 1, bias.dims()[0]]);
    [y.inner(), xa.grad(&g).unwrap(), wa.grad(&g).unwrap(), db]
}

/// Asserts that two [`conv_grads`] results agree (gradients relative to their largest value).
fn assert_same_grads(ours: [Tensor<Cpu, 5>; 4], plain: [Tensor<Cpu, 5>; 4], case: &str) {
    for ((a, b), what) in
        ours.into_iter().zip(plain).zip(["output", "input gradient", "weight gradient", "bias gradient"])
    {
        let scale = b.clone().abs().max().into_scalar().max(1.0);
        assert!(max_diff(a, b) < 1e-5 * scale, "{what}, {case}");
    }
}

#[test]
fn conv3d_values_and_gradients_match_burn() {
    use burn::tensor::ops::ConvOptions;
    let x = random::<Cpu, 5>([2, 5, 6, 9, 11], 22);
    let bias = random::<Cpu, 1>([7], 24);
    // Every shape of the VAE (3×3×3, causal 1×3×3 and 3×1×1, 1×1×1 skips, stride-2 downsampling
    // in space and in time) and harder ones: stride 2 everywhere, padding in time, windows as
    // wide as their strides (2×3×2 at 1×3×2: one phase per tap) with no padding in width.
    let cases = [
        ([3, 3, 3], [1, 1, 1], [0, 1, 1]),
        ([3, 3, 3], [2, 2, 2], [0, 1, 1]),
        ([3, 3, 3], [1, 1, 1], [1, 0, 1]),
        ([1, 3, 3], [1, 2, 2], [0, 1, 1]),
        ([3, 1, 1], [2, 1, 1], [0, 0, 0]),
        ([1, 1, 1], [1, 1, 1], [0, 0, 0]),
        ([2, 3, 2], [1, 3, 2], [1, 1, 0]),
    ];
    for (case, (kernel, stride, padding)) in cases.into_iter().enumerate() {
        let w = random::<Cpu, 5>([7, 5, kernel[0], kernel[1], kernel[2]], 23 + case as u64) * 0.2;
        let options = ConvOptions::new(stride, padding, [1, 1, 1], 1);
        let ours = kernels::conv3d(x.clone(), w.clone(), Some(bias.clone()), options.clone());
        let plain = module::conv3d(x.clone(), w.clone(), Some(bias.clone()), options.clone());
        assert_eq!(ours.dims(), plain.dims());
        assert!(max_diff(ours, plain) < 1e-5, "forward, kernel {kernel:?} stride {stride:?}");
        let unbiased = kernels::conv3d(x.clone(), w.clone(), None, options.clone());
        assert!(max_diff(unbiased, module::conv3d(x.clone(), w.clone(), None, options.clone())) < 1e-5);
        let ours = conv_grads(|x, w, b| kernels::conv3d(x, w, Some(b), options.clone()), &x, &w, &bias);
        let plain = conv_grads(|x, w, b| module::conv3d(x, w, Some(b), options.clone()), &x, &w, &bias);
        assert_same_grads(ours, plain, &format!("kernel {kernel:?} stride {stride:?}"));
    }
}

#[test]
fn large_frames_are_done_in_several_tiles() {
    use burn::tensor::ops::ConvOptions;
    // 50×52-pixel planes and 48×50 ones: more rows than one tile of the products.
    let options = ConvOptions::new([1, 1, 1], [0, 1, 1], [1, 1, 1], 1);
    let x = random::<Cpu, 5>([1, 3, 3, 50, 50], 50);
    let w = random::<Cpu, 5>([4, 3, 3, 3, 3], 51) * 0.3;
    let bias = random::<Cpu, 1>([4], 52);
    let ours = conv_grads(|x, w, b| kernels::conv3d(x, w, Some(b), options.clone()), &x, &w, &bias);
    let plain = conv_grads(|x, w, b| module::conv3d(x, w, Some(b), options.clone()), &x, &w, &bias);
    assert_same_grads(ours, plain, "conv3d, 50×50");
    let x = random::<Cpu, 5>([1, 3, 2, 48, 48], 53);
    let w = random::<Cpu, 5>([4, 3, 1, 3, 3], 54) * 0.3;
    let ours = conv_grads(|x, w, b| kernels::upsample2x_conv3d(x, w, Some(b), options.clone()), &x, &w, &bias);
    let plain =
        conv_grads(|x, w, b| module::conv3d(kernels::upsample2x(x), w, Some(b), options.clone()), &x, &w, &bias);
    assert_same_grads(ours, plain, "upsample + conv, 48×48");
}

#[test]
fn conv3d_reads_strided_views() {
    use burn::tensor::ops::ConvOptions;
    // A time slice of a larger clip and a permuted weight: views, not contiguous tensors.
    let clip = random::<Cpu, 5>([1, 4, 9, 8, 10], 31);
    let x = clip.narrow(2, 2, 5);
    let w = random::<Cpu, 5>([4, 6, 3, 3, 3], 32).swap_dims(0, 1) * 0.3;
    let options = ConvOptions::new([1, 1, 1], [0, 1, 1], [1, 1, 1], 1);
    let ours = kernels::conv3d(x.clone(), w.clone(), None, options.clone());
    assert!(max_diff(ours, module::conv3d(x, w, None, options)) < 1e-5);
}

#[test]
fn upsampled_conv3d_matches_upsample_then_conv() {
    use burn::tensor::ops::ConvOptions;
    let options = ConvOptions::new([1, 1, 1], [0, 1, 1], [1, 1, 1], 1);
    // Odd sizes and one-pixel-wide frames: every phase meets the padding.
    for (case, [c_in, c_out, t, h, w]) in [[5, 7, 3, 6, 9], [4, 3, 1, 1, 5], [8, 8, 2, 7, 1]].into_iter().enumerate() {
        let seed = 40 + 3 * case as u64;
        let x = random::<Cpu, 5>([2, c_in, t, h, w], seed);
        let weight = random::<Cpu, 5>([c_out, c_in, 1, 3, 3], seed + 1) * 0.3;
        let bias = random::<Cpu, 1>([c_out], seed + 2);
        let fused = kernels::upsample2x_conv3d(x.clone(), weight.clone(), Some(bias.clone()), options.clone());
        let up = kernels::upsample2x(x.clone());
        assert_eq!(up.dims(), [2, c_in, t, 2 * h, 2 * w]);
        // The upsampled pixels repeat their source.
        for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let copy = up.clone().reshape([2, c_in, t, h, 2, w, 2]).narrow(4, dy, 1).narrow(6, dx, 1);
            assert_eq!(max_diff(copy.reshape([2, c_in, t, h, w]), x.clone()), 0.0);
        }
        let plain = module::conv3d(up, weight.clone(), Some(bias.clone()), options.clone());
        assert_eq!(fused.dims(), plain.dims());
        assert!(max_diff(fused, plain) < 1e-5, "case {case}");
        // Gradients of the fused node against burn's upsample and convolution.
        let ours = conv_grads(|x, w, b| kernels::upsample2x_conv3d(x, w, Some(b), options.clone()), &x, &weight, &bias);
        let plain = conv_grads(
            |x, w, b| module::conv3d(kernels::upsample2x(x), w, Some(b), options.clone()),
            &x,
            &weight,
            &bias,
        );
        assert_same_grads(ours, plain, &format!("case {case}"));
    }
}

#[test]
fn group_norm_silu_matches_plain_ops() {
    let x = random::<Cpu, 5>([2, 8, 3, 5, 7], 25) * 2.0 + 0.3;
    let gamma = random::<Cpu, 1>([8], 26);
    let beta = random::<Cpu, 1>([8], 27);
    let plain = kernels::group_norm_silu_plain(x.clone(), gamma.clone(), beta.clone(), 4, 1e-5);
    assert!(max_diff(kernels::group_norm_silu(x.clone(), gamma.clone(), beta.clone(), 4, 1e-5), plain) < 1e-5);

    let w = random::<Cpu, 5>([2, 8, 3, 5, 7], 28);
    let run = |fused: bool| {
        let xa = Tensor::<CpuAutodiff, 5>::from_inner(x.clone()).require_grad();
        let ga = Tensor::<CpuAutodiff, 1>::from_inner(gamma.clone()).require_grad();
        let ba = Tensor::<CpuAutodiff, 1>::from_inner(beta.clone()).require_grad();
        let f = if fused { kernels::group_norm_silu } else { kernels::group_norm_silu_plain };
        let y = f(xa.clone(), ga.clone(), ba.clone(), 4, 1e-5);
        let g = (y * Tensor::from_inner(w.clone())).sum().backward();
        (xa.grad(&g).unwrap(), ga.grad(&g).unwrap(), ba.grad(&g).unwrap())
    };
    let (dx1, dg1, db1) = run(true);
    let (dx2, dg2, db2) = run(false);
    assert!(max_diff(dx1, dx2) < 1e-4);
    assert!(max_diff(dg1, dg2) < 1e-4);
    assert!(max_diff(db1, db2) < 1e-4);
}

/// A tensor's two AdamW moments.
type Moments = (Tensor<Cpu, 2>, Tensor<Cpu, 2>);
/// One AdamW step: `(param, grad, moments, step) → (param, moment 1, moment 2)`.
type Update = fn(
    Tensor<Cpu, 2>,
    Tensor<Cpu, 2>,
    Option<Moments>,
    &kernels::AdamWStep,
) -> (Tensor<Cpu, 2>, Tensor<Cpu, 2>, Tensor<Cpu, 2>);

/// Three AdamW steps of `param` with the given gradients, through `update`.
fn adamw_steps(
    update: Update,
    param: Tensor<Cpu, 2>,
    grads: &[Tensor<Cpu, 2>],
    max_grad_norm: Option<f32>,
) -> [Tensor<Cpu, 2>; 3] {
    let mut state: Option<Moments> = None;
    let mut param = param;
    for (i, g) in grads.iter().enumerate() {
        let step = kernels::AdamWStep {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-5,
            weight_decay: 0.01,
            max_grad_norm,
            lr: 1e-2,
            time: i + 1,
        };
        let (p, m, v) = update(param, g.clone(), state, &step);
        param = p;
        state = Some((m, v));
    }
    let (m, v) = state.expect("at least one step");
    [param, m, v]
}

#[test]
fn adamw_update_matches_plain_ops() {
    // 300×70 is more than one task's chunk, so the threaded path runs; 3×5 is one chunk.
    for (shape, seed) in [([300, 70], 40), ([3, 5], 50)] {
        let param = random::<Cpu, 2>(shape, seed);
        let grads: Vec<_> = (0..3).map(|i| random::<Cpu, 2>(shape, seed + 1 + i) * (i as f32 + 0.5)).collect();
        // Norms: ~√(21,000) and ~√15 times the scale; 5.0 clips the large tensor's steps and
        // not the small one's first step, `None` never.
        for clip in [Some(5.0), None] {
            let kept = param.clone();
            let ours = adamw_steps(kernels::adamw_update, param.clone(), &grads, clip);
            let plain = adamw_steps(kernels::adamw_update_plain, param.clone(), &grads, clip);
            // A parameter held elsewhere is not written in place.
            assert_eq!(max_diff(kept, param.clone()), 0.0);
            for (name, (a, b)) in ["param", "moment 1", "moment 2"].iter().zip(ours.into_iter().zip(plain)) {
                let scale = b.clone().abs().max().into_scalar().elem::<f32>();
                let diff = max_diff(a, b);
                assert!(diff <= 1e-6 * scale.max(1.0), "{name} {shape:?} clip {clip:?}: differs by {diff}");
            }
        }
    }
}

#[test]
fn linear_matches_burn_on_views() {
    let (rows, inputs, out) = (70, 48, 3 * 40);
    // Rows of a wider matrix and a column block of a fused weight: both strided views.
    let x = random::<Cpu, 2>([rows, inputs + 5], 30).narrow(1, 2, inputs);
    let w = random::<Cpu, 2>([inputs, out], 31).narrow(1, 40, 40);
    let bias = random::<Cpu, 1>([out], 32).narrow(0, 40, 40);
    let plain = module::linear(x.clone(), w.clone(), Some(bias.clone()));
    assert!(max_diff(kernels::linear(x.clone(), w.clone(), Some(bias.clone())), plain) < 1e-5);
    let plain = module::linear(x.clone(), w.clone(), None);
    assert!(max_diff(kernels::linear(x.clone(), w.clone(), None), plain) < 1e-5);

    // Gradients of x, w and the bias, all three tracked.
    let track2 = |t: &Tensor<Cpu, 2>| Tensor::<CpuAutodiff, 2>::from_inner(t.clone()).require_grad();
    let gw = random::<Cpu, 2>([rows, 40], 33);
    let run = |fused: bool| {
        let (xa, wa) = (track2(&x), track2(&w));
        let ba = Tensor::<CpuAutodiff, 1>::from_inner(bias.clone()).require_grad();
        let y = if fused {
            kernels::linear(xa.clone(), wa.clone(), Some(ba.clone()))
        } else {
            module::linear(xa.clone(), wa.clone(), Some(ba.clone()))
        };
        let g = (y * Tensor::from_inner(gw.clone())).sum().backward();
        let grad2 = |t: &Tensor<CpuAutodiff, 2>| t.grad(&g).expect("tracked");
        (grad2(&xa), grad2(&wa), ba.grad(&g).expect("tracked"))
    };
    let (ours, plain) = (run(true), run(false));
    assert!(max_diff(ours.0, plain.0) < 1e-4, "input gradient");
    assert!(max_diff(ours.1, plain.1) < 1e-4, "weight gradient");
    assert!(max_diff(ours.2, plain.2) < 1e-4, "bias gradient");
}

#[test]
fn cat_matches_burn_on_views() {
    // Split heads (a permuted view), a narrowed window and a plain tensor, along the token axis.
    let heads = random::<Cpu, 4>([2, 5, 3, 16], 40).swap_dims(1, 2); // [2, 3, 5, 16]
    let window = random::<Cpu, 4>([2, 3, 9, 16], 41).narrow(2, 4, 4);
    let plain = random::<Cpu, 4>([2, 3, 2, 16], 42);
    let parts = vec![window, heads, plain];
    let ours = kernels::cat(parts.clone(), 2);
    assert_eq!(ours.dims(), [2, 3, 11, 16]);
    assert_eq!(max_diff(ours, Tensor::cat(parts, 2)), 0.0);
    // The decoder's frames: [b, c, t, h, w] along time, and along the first axis.
    let past = random::<Cpu, 5>([1, 4, 6, 3, 5], 43).narrow(2, 4, 2);
    let next = random::<Cpu, 5>([1, 4, 3, 3, 5], 44);
    let both = vec![past, next];
    assert_eq!(max_diff(kernels::cat(both.clone(), 2), Tensor::cat(both.clone(), 2)), 0.0);
    let rows = vec![both[1].clone(), both[1].clone().swap_dims(3, 3)];
    assert_eq!(max_diff(kernels::cat(rows.clone(), 0), Tensor::cat(rows, 0)), 0.0);
    // Along the last axis it is burn's own cat; under autodiff too, with its gradients.
    let a = random::<Cpu, 3>([2, 3, 4], 45);
    let b = random::<Cpu, 3>([2, 3, 5], 46).swap_dims(0, 0);
    assert_eq!(max_diff(kernels::cat(vec![a.clone(), b.clone()], 2), Tensor::cat(vec![a.clone(), b], 2)), 0.0);
    let c = random::<Cpu, 3>([2, 6, 4], 47);
    let w = random::<Cpu, 3>([2, 9, 4], 48);
    let (ours, g) = grads(&[a.clone(), c.clone()], w.clone(), |v| kernels::cat(v, 1));
    let (theirs, g_plain) = grads(&[a, c], w, |v| Tensor::cat(v, 1));
    assert_eq!(max_diff(ours, theirs), 0.0);
    assert_eq!(max_diff(g[1].clone(), g_plain[1].clone()), 0.0);
}
