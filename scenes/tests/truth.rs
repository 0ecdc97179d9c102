//! Ground truth: occlusion, reappearance, paint, camera, pixel coordinates.

mod common;

use common::{scene, shipped};
use worldsim_scenes::{Clip, NamedColor, Visibility};

#[test]
fn occluded_objects_are_reported_and_reappear_where_physics_says() {
    let s = shipped("occlusion_pillar");
    let clip = Clip::render(&s);
    let states: Vec<Visibility> = clip.truth.iter().map(|t| t.objects[0].visibility).collect();
    let first = states.iter().position(|v| *v == Visibility::Occluded).expect("the ball is hidden at some frame");
    let last = states.iter().rposition(|v| *v == Visibility::Occluded).expect("hidden");
    assert_eq!(states[0], Visibility::Visible);
    assert!(
        states[..first].contains(&Visibility::PartlyOccluded) && states[last..].contains(&Visibility::PartlyOccluded)
    );
    assert_eq!(*states.last().expect("frames"), Visibility::Visible, "the ball came out again");

    // While hidden and after, the ball is where rolling with constant deceleration puts it.
    let decel = s.terrain.material().rolling_decel;
    for t in &clip.truth {
        let time = t.time.min(2.4 / decel);
        let expected = -3.0 + 2.4 * time - 0.5 * decel * time * time;
        assert!(
            (t.objects[0].world.x - expected).abs() < 0.02,
            "frame {}: x = {} vs {expected}",
            t.frame,
            t.objects[0].world.x
        );
    }

    // What the truth says is what the pixels show: pillar while hidden, ball once out.
    let centre = |i: usize| {
        let o = &clip.truth[i].objects[0];
        clip.frames[i].pixel(o.pixel.x as u32, o.pixel.y as u32)
    };
    assert_eq!(NamedColor::nearest(centre((first + last) / 2)), NamedColor::Gray);
    assert_eq!(NamedColor::nearest(centre(clip.frames.len() - 1)), NamedColor::Green);
    assert_eq!(clip.truth[0].objects[0].occluded_fraction, 0.0);
    assert_eq!(clip.truth[(first + last) / 2].objects[0].visible_fraction, 0.0);
}

#[test]
fn paint_persists_until_the_end() {
    let s = shipped("painting");
    let clip = Clip::render(&s);
    let painted = |i: usize| clip.truth[i].paint.clone();
    let start = clip.truth.iter().position(|t| !t.paint.is_empty()).expect("the player paints");
    let stop = clip.truth.iter().rposition(|t| t.action == Some(worldsim_scenes::Action::Paint)).expect("paint action");
    let last = clip.truth.len() - 1;
    assert!(start <= 1);
    // The trail grows while painting, then never changes.
    for i in start + 1..=stop {
        assert!(painted(i)[0].x1 > painted(i - 1)[0].x1, "frame {i}: trail did not grow");
    }
    for i in stop + 1..=last {
        assert_eq!(painted(i), painted(stop + 1), "frame {i}: paint changed after painting stopped");
    }
    let stroke = &painted(last)[0];
    assert!(stroke.x1 - stroke.x0 > 2.0, "trail is only {} m long", stroke.x1 - stroke.x0);
    // The last frame shows pink just below the ground line along the trail, after the player left.
    let t = &clip.truth[last];
    assert!(t.objects[0].pixel.x0 > stroke.px1, "the player should have walked past the trail");
    let row = t.ground_y as u32 + 1;
    for px in (stroke.px0.ceil() as u32 + 1)..(stroke.px1.floor() as u32 - 1) {
        assert_eq!(NamedColor::nearest(clip.frames[last].pixel(px, row)), NamedColor::Pink, "column {px}");
    }
}

#[test]
fn a_pan_that_leaves_and_returns_finds_the_object_again() {
    let s = shipped("camera_pan_return");
    let clip = Clip::render(&s);
    let vis: Vec<Visibility> = clip.truth.iter().map(|t| t.objects[0].visibility).collect();
    let gone = vis.iter().position(|v| *v == Visibility::OutOfView).expect("the ball leaves the view");
    assert!(vis[..gone].iter().all(|v| *v != Visibility::OutOfView));
    assert_eq!(*vis.last().expect("frames"), Visibility::Visible);
    // Same place, same pixels when the camera is back where it started.
    let (a, b) = (&clip.truth[0].objects[0], &clip.truth[clip.truth.len() - 1].objects[0]);
    assert_eq!((a.world.x, a.pixel.x), (b.world.x, b.pixel.x));
    assert_eq!(
        NamedColor::nearest(clip.frames.last().expect("frames").pixel(b.pixel.x as u32, b.pixel.y as u32)),
        NamedColor::Red
    );
}

#[test]
fn pixel_coordinates_follow_the_camera() {
    let s = scene(
        "Scene(name: \"pan\", width: 100, height: 50, fps: 10, frames: 11, terrain: sand, sky: dusk, camera: Pan(x: 0.0, speed: 1.0), objects: [Box(color: blue, x: 0.0)])",
    );
    let (truth, _) = Clip::truth(&s);
    // 50 px for 5 m: 10 px per metre; the box stands still while the view moves 1 m/s right.
    for t in &truth {
        let expected = 50.0 - 10.0 * t.time;
        assert!(
            (t.objects[0].pixel.x - expected).abs() < 1e-3,
            "frame {}: {} vs {expected}",
            t.frame,
            t.objects[0].pixel.x
        );
        assert!((t.camera_x - t.time).abs() < 1e-5);
    }
    assert!((truth[0].view_x.1 - truth[0].view_x.0 - 10.0).abs() < 1e-4, "a 2:1 frame sees 10 m");
}

#[test]
fn objects_beyond_the_frame_are_out_of_view_not_occluded() {
    let s = scene(
        "Scene(name: \"o\", width: 64, height: 64, frames: 1, terrain: grass, sky: day, objects: [Ball(color: red, x: 8.0), Ball(color: blue, x: 2.5)])",
    );
    let (truth, _) = Clip::truth(&s);
    assert_eq!(truth[0].objects[0].visibility, Visibility::OutOfView);
    assert_eq!(truth[0].objects[0].in_view_fraction, 0.0);
    // Half of the second ball crosses the right edge (the view is ±2.5 m).
    assert_eq!(truth[0].objects[1].visibility, Visibility::Visible);
    assert!((truth[0].objects[1].in_view_fraction - 0.5).abs() < 0.1);
}
