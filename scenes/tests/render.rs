//! Rendering: determinism, sizes and aspect ratios, colours, anti-aliasing.

mod common;

use common::{scene, shipped};
use worldsim_scenes::{Clip, NamedColor, Renderer, simulate};

#[test]
fn same_scene_and_seed_give_the_same_bytes() {
    for name in ["bouncing_balls", "follow_player", "wide_beach"] {
        let s = shipped(name);
        let a = Clip::render(&s);
        let b = Clip::render(&s);
        assert!(a.frames == b.frames, "{name}: two renders differ");
        let other = Clip::render(&s.with_overrides(None, None, Some(s.seed + 1)).expect("valid"));
        assert!(a.frames[0] != other.frames[0], "{name}: a different seed gave the same scenery");
    }
}

#[test]
fn renders_any_size_and_aspect_ratio() {
    let s = shipped("bouncing_balls");
    for (w, h) in [(16, 16), (17, 23), (64, 64), (256, 64), (64, 256), (1024, 16), (16, 1024), (1024, 1024), (640, 360)]
    {
        let scene = s.with_overrides(Some((w, h)), Some(2), None).expect("valid size");
        let clip = Clip::render(&scene);
        for f in &clip.frames {
            assert_eq!((f.width, f.height, f.rgb.len()), (w, h, (w * h * 3) as usize));
        }
        // The ground line is at the same share of the height at every size.
        assert!((clip.truth[0].ground_y / h as f32 - 0.75).abs() < 1e-4);
    }
}

#[test]
fn sizes_outside_the_range_name_the_field() {
    let s = shipped("bouncing_balls");
    for (w, h, field) in [(15, 64, "width"), (64, 8, "height"), (2048, 64, "width")] {
        let e = s.with_overrides(Some((w, h)), None, None).expect_err("out of range");
        assert_eq!(e.field, field);
        assert!(e.message.contains("16..=1024"), "{}", e.message);
    }
}

fn ball_scene(color: NamedColor, sky: &str) -> worldsim_scenes::Scene {
    scene(&format!(
        "Scene(name: \"c\", width: 96, height: 96, frames: 1, terrain: grass, sky: {sky}, objects: [Ball(color: {}, size: large, x: 0.0, y: 1.0), Box(color: {}, size: large, x: 1.5)])",
        color.name(),
        color.name()
    ))
}

#[test]
fn named_colours_look_like_their_names() {
    for color in NamedColor::ALL {
        let clip = Clip::render(&ball_scene(color, "day"));
        let frame = &clip.frames[0];
        for object in &clip.truth[0].objects {
            let px = frame.pixel(object.pixel.x as u32, object.pixel.y as u32);
            let want = color.srgb8();
            let err = (0..3).map(|i| (px[i] as i32 - want[i] as i32).abs()).max().unwrap_or(0);
            assert_eq!(NamedColor::nearest(px), color, "{} {:?} rendered as {px:?}", color.name(), object.kind);
            assert!(err <= 24, "{} {:?}: {px:?} is {err} away from {want:?}", color.name(), object.kind);
        }
    }
}

#[test]
fn night_keeps_colours_apart_but_darker() {
    for color in [NamedColor::Red, NamedColor::Green, NamedColor::Blue, NamedColor::Yellow] {
        let day = Clip::render(&ball_scene(color, "day"));
        let night = Clip::render(&ball_scene(color, "night"));
        let o = &day.truth[0].objects[0];
        let (d, n) = (
            day.frames[0].pixel(o.pixel.x as u32, o.pixel.y as u32),
            night.frames[0].pixel(o.pixel.x as u32, o.pixel.y as u32),
        );
        let sum = |p: [u8; 3]| p.iter().map(|&c| u32::from(c)).sum::<u32>();
        assert!(sum(n) < sum(d), "{}: night {n:?} not darker than day {d:?}", color.name());
        let dominant = |p: [u8; 3]| (0..3).max_by_key(|&i| p[i]).unwrap_or(0);
        if color != NamedColor::Yellow {
            assert_eq!(dominant(n), dominant(d), "{}: night {n:?} changed hue from {d:?}", color.name());
        }
    }
}

#[test]
fn edges_are_anti_aliased() {
    let s = scene(
        "Scene(name: \"aa\", width: 128, height: 128, frames: 1, terrain: grass, sky: day, objects: [Ball(color: black, size: large, x: 0.0, y: 1.5)])",
    );
    let clip = Clip::render(&s);
    let (f, o) = (&clip.frames[0], &clip.truth[0].objects[0]);
    let r = (o.pixel.x1 - o.pixel.x0) / 2.0;
    // Pixels whose centres lie on the outline mix the ball with the sky.
    let (mut edge, mut mixed) = (0, 0);
    for y in 0..f.height {
        for x in 0..f.width {
            let d = ((x as f32 + 0.5 - o.pixel.x).powi(2) + (y as f32 + 0.5 - o.pixel.y).powi(2)).sqrt();
            if (d - r).abs() < 0.25 {
                edge += 1;
                let inside = f.pixel(o.pixel.x as u32, o.pixel.y as u32);
                let outside = f.pixel(x, (o.pixel.y0 - 3.0) as u32);
                let p = f.pixel(x, y);
                let between = (0..3).all(|i| p[i] >= inside[i].min(outside[i]) && p[i] <= inside[i].max(outside[i]));
                let distinct =
                    (0..3).any(|i| p[i].abs_diff(inside[i]) > 20) && (0..3).any(|i| p[i].abs_diff(outside[i]) > 20);
                mixed += usize::from(between && distinct);
            }
        }
    }
    assert!(edge > 10 && mixed * 2 > edge, "{mixed} of {edge} outline pixels are mixed");
}

#[test]
fn renderer_reuses_across_states() {
    let s = shipped("wide_beach");
    let states = simulate(&s);
    let r = Renderer::new(&s);
    let once = r.render(&states[7]);
    assert_eq!(once, Clip::render(&s).frames[7]);
}
