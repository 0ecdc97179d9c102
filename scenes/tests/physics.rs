//! Physics against reference math: bounces, friction, walls, player commands.

mod common;

use common::scene;
use worldsim_scenes::physics::{ball_radius, box_side};
use worldsim_scenes::scene::SizeClass;
use worldsim_scenes::{Action, Clip, Simulation, Terrain, simulate};

#[test]
fn balls_stay_in_bounds_and_bounce_lower_each_time() {
    for terrain in Terrain::ALL {
        let s = scene(&format!(
            "Scene(name: \"b\", width: 64, height: 64, fps: 60, frames: 400, terrain: {}, sky: day, stage: 4.0,
               objects: [Ball(color: red, size: large, x: 0.0, y: 3.0, vx: 4.0), Ball(color: blue, size: small, x: -1.0, y: 1.5, vx: -7.0)])",
            terrain.name()
        ));
        let states = simulate(&s);
        for (k, radius) in [(0, ball_radius(SizeClass::Large)), (1, ball_radius(SizeClass::Small))] {
            let mut apex = vec![0.0f32; 1];
            for st in &states {
                let b = &st.bodies[k];
                assert!(b.y >= 0.0, "{terrain:?} ball {k} below the ground: {}", b.y);
                assert!(
                    b.x - radius >= -4.0 - 1e-4 && b.x + radius <= 4.0 + 1e-4,
                    "{terrain:?} ball {k} left the stage: x = {}",
                    b.x
                );
                let n = b.bounces as usize;
                if apex.len() <= n {
                    apex.push(0.0);
                }
                apex[n] = apex[n].max(b.y);
            }
            assert!(apex.len() >= 3, "{terrain:?} ball {k} bounced {} times", apex.len() - 1);
            // Between bounces, the apex falls by restitution² (energy ∝ v², height ∝ v²).
            let e2 = terrain.material().restitution.powi(2);
            for w in apex[1..].windows(2) {
                assert!(w[1] < w[0], "{terrain:?} ball {k}: apexes {apex:?} do not fall");
                assert!(
                    (w[1] / w[0] - e2).abs() < 0.06,
                    "{terrain:?} ball {k}: apex ratio {} vs restitution² {e2}",
                    w[1] / w[0]
                );
            }
        }
    }
}

#[test]
fn a_dropped_ball_falls_as_gravity_says() {
    let s = scene(
        "Scene(name: \"f\", width: 32, height: 32, fps: 10, frames: 6, terrain: grass, sky: day, objects: [Ball(color: red, x: 0.0, y: 4.0)])",
    );
    let states = simulate(&s);
    for st in &states[..6] {
        let expected = 4.0 - 0.5 * 9.81 * st.time * st.time;
        assert!((st.bodies[0].y - expected).abs() < 0.03, "t = {}: y = {} vs {expected}", st.time, st.bodies[0].y);
    }
}

#[test]
fn boxes_slide_and_stop_where_friction_says() {
    for terrain in Terrain::ALL {
        let s = scene(&format!(
            "Scene(name: \"s\", width: 64, height: 64, fps: 30, frames: 90, terrain: {}, sky: day, objects: [Box(color: brown, x: -2.0, vx: 3.0)])",
            terrain.name()
        ));
        let states = simulate(&s);
        let last = &states.last().expect("frames").bodies[0];
        let decel = terrain.material().sliding_mu * 9.81;
        let expected = -2.0 + 3.0 * 3.0 / (2.0 * decel);
        assert_eq!(last.vx, 0.0, "{terrain:?}: box still moving");
        assert!((last.x - expected).abs() < 0.03, "{terrain:?}: box stopped at {} instead of {expected}", last.x);
        // It moves right and never turns back.
        assert!(states.windows(2).all(|w| w[1].bodies[0].x >= w[0].bodies[0].x));
        assert!((box_side(SizeClass::Medium) - last.width).abs() < 1e-6);
    }
}

#[test]
fn the_player_obeys_commands() {
    let s = scene(
        "Scene(name: \"p\", width: 64, height: 64, fps: 12, frames: 2, terrain: grass, sky: day, player: Some(Player(color: red, x: 0.0)))",
    );
    let mut sim = Simulation::new(&s);
    let x = |sim: &Simulation| sim.state().bodies[0].x;
    let y = |sim: &Simulation| sim.state().bodies[0].y;

    let x0 = x(&sim);
    for _ in 0..12 {
        sim.step(Action::Right);
    }
    assert!((x(&sim) - (x0 + 2.0)).abs() < 0.02, "one second walking right: {} → {}", x0, x(&sim));
    assert_eq!(sim.state().player.as_ref().expect("player").facing, worldsim_scenes::scene::Facing::Right);

    let x1 = x(&sim);
    for _ in 0..6 {
        sim.step(Action::Left);
    }
    assert!((x(&sim) - (x1 - 1.0)).abs() < 0.02, "half a second walking left: {} → {}", x1, x(&sim));
    assert_eq!(sim.state().player.as_ref().expect("player").facing, worldsim_scenes::scene::Facing::Left);

    let x2 = x(&sim);
    for _ in 0..6 {
        sim.step(Action::Stand);
    }
    assert_eq!(x(&sim), x2, "standing still moved the player");

    // A jump rises to v²/2g and lands again.
    let mut peak = 0.0f32;
    sim.step(Action::Jump);
    for _ in 0..11 {
        peak = peak.max(y(&sim));
        sim.step(Action::Stand);
    }
    let expected = 4.5f32.powi(2) / (2.0 * 9.81);
    assert!(peak > 0.85 * expected && peak <= expected + 1e-3, "jump peak {peak} vs {expected}");
    assert_eq!(y(&sim), 0.0, "the player did not land");
    assert_eq!(x(&sim), x2, "jumping in place moved the player");
}

#[test]
fn scripted_players_move_in_the_commanded_direction() {
    let s = common::shipped("player_walk_jump");
    let clip = Clip::render(&s);
    let player = |i: usize| &clip.truth[i].objects[0];
    for w in clip.truth.windows(2) {
        let (a, b) = (&w[0].objects[0], &w[1].objects[0]);
        let dx = b.world.x - a.world.x;
        match w[0].action.expect("player action") {
            Action::Right => assert!(dx > 0.1, "frame {}: moving right but dx = {dx}", w[0].frame),
            Action::Left => assert!(dx < -0.1, "frame {}: moving left but dx = {dx}", w[0].frame),
            Action::Stand | Action::Jump => {
                assert!(dx.abs() < 1e-6, "frame {}: dx = {dx} while {:?}", w[0].frame, w[0].action)
            }
            Action::Paint => {}
        }
    }
    assert!(
        clip.truth.iter().any(|t| t.objects[0].world.y - t.objects[0].world.height / 2.0 > 0.5),
        "the player never jumped"
    );
    assert!(player(0).world.x < player(clip.truth.len() - 1).world.x + 10.0);
}

#[test]
fn physics_does_not_depend_on_frame_size() {
    let s = common::shipped("bouncing_balls");
    let small = Clip::truth(&s.with_overrides(Some((32, 16)), None, None).expect("valid")).0;
    let big = Clip::truth(&s.with_overrides(Some((300, 200)), None, None).expect("valid")).0;
    for (a, b) in small.iter().zip(&big) {
        for (p, q) in a.objects.iter().zip(&b.objects) {
            assert_eq!((p.world.x, p.world.y), (q.world.x, q.world.y));
        }
    }
}
