//! Render throughput (frames per second) of the software renderer at 64×64 and 256×256, for a
//! busy scene (balls, a box, a player painting, two occluders, a panning camera) in each light.
//! Run with `cargo bench -p worldsim-scenes`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use worldsim_scenes::{Renderer, Scene, simulate};

const BUSY: &str = r#"Scene(
    name: "bench", width: 64, height: 64, frames: 24, seed: 3,
    terrain: grass, sky: day,
    camera: Pan(x: -1.0, speed: 0.8),
    objects: [
        Ball(color: red, size: large, x: -1.5, y: 2.5, vx: 0.6),
        Ball(color: blue, size: small, x: 0.5, y: 1.0, vx: -0.4),
        Box(color: orange, size: medium, x: 1.0, vx: -2.0),
    ],
    occluders: [Tree(x: 1.5, size: large), Pillar(x: -2.5)],
    player: Some(Player(color: yellow, x: 0.0, actions: [(0.0, paint), (1.0, jump)])),
)"#;

fn bench_render(c: &mut Criterion) {
    let base = Scene::parse(BUSY, "<bench>").expect("bench scene parses");
    let mut group = c.benchmark_group("render");
    for side in [64u32, 256] {
        for sky in [worldsim_scenes::Sky::Day, worldsim_scenes::Sky::Night] {
            let scene = Scene { width: side, height: side, sky, ..base.clone() };
            let states = simulate(&scene);
            let renderer = Renderer::new(&scene);
            group.throughput(Throughput::Elements(states.len() as u64));
            group.bench_function(format!("{side}x{side}/{}", sky.name()), |b| {
                b.iter(|| states.iter().map(|s| renderer.render(s).rgb[0] as u64).sum::<u64>())
            });
        }
    }
    group.finish();
    c.bench_function("simulate/24 frames", |b| b.iter(|| simulate(&base).len()));
}

criterion_group!(benches, bench_render);
criterion_main!(benches);
