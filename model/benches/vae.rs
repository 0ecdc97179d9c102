//! VAE throughput on the CPU backend (frames per second): encode, full-clip decode and
//! streaming decode (one latent frame at a time) of a 9-frame clip at 64×64 and 256×256, with
//! the `tiny` preset. Run with `cargo bench -p worldsim-model --bench vae`.

use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use worldsim_model::Cpu;
use worldsim_model::vae::VaeConfig;

const FRAMES: usize = 9;

fn bench_vae(c: &mut Criterion) {
    let device = Default::default();
    let config = VaeConfig::tiny();
    let vae = config.init::<Cpu>(&device);
    let mut group = c.benchmark_group("vae");
    group.sample_size(10);
    for side in [64usize, 256] {
        let x = Tensor::<Cpu, 5>::random([1, 3, FRAMES, side, side], Distribution::Uniform(-1.0, 1.0), &device);
        let z = vae.encode(&config, x.clone()).expect("valid").mean;
        group.throughput(Throughput::Elements(FRAMES as u64));
        group.bench_function(format!("encode/{side}x{side}"), |b| {
            b.iter(|| vae.encode(&config, x.clone()).expect("valid").mean.into_data())
        });
        group.bench_function(format!("decode/{side}x{side}"), |b| {
            b.iter(|| vae.decode(&config, z.clone()).expect("valid").into_data())
        });
        group.bench_function(format!("decode_stream/{side}x{side}"), |b| {
            b.iter(|| {
                let mut stream = vae.stream_decoder();
                (0..z.dims()[2])
                    .map(|i| stream.next(&config, z.clone().narrow(2, i, 1)).expect("valid").into_data())
                    .count()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_vae);
criterion_main!(benches);
