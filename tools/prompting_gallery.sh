#!/usr/bin/env bash
# Regenerates docs/prompting/: every prompting task on shipped scenes with the shipped model
# (64×64, 12 fps, 30 Euler steps, each verb's default guidance, seed 0). Inputs are rendered
# by worldsim-scenes.
# Usage: tools/prompting_gallery.sh   (WORLDSIM=path/to/worldsim to skip cargo)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WORLDSIM:-"cargo run --release --quiet --"}
D=docs/prompting
mkdir -p "$D"
$W scene render scenes/bouncing_balls.ron --size 64x64 --frames 9 --seed 4242 --out "$D/in_balls.gif" > /dev/null
$W scene render scenes/player_walk_jump.ron --size 64x64 --frames 9 --out "$D/in_player.gif" > /dev/null
$W scene render scenes/night_snow.ron --size 64x64 --frames 9 --out "$D/in_snow.gif" > /dev/null
$W scene render scenes/night_snow.ron --size 64x64 --frames 1 --out "$D/in_snow_still.png" > /dev/null

BALLS="red ball bouncing on grass"
PLAYER="blue player walking right on sand at dusk"
SNOW="red ball falling on snow at night"
$W animate --image "$D/in_snow_still.png" --frames 17 --prompt "$SNOW" --out "$D/animate.gif"
$W extend --video "$D/in_player.gif" --forward 16 --prompt "$PLAYER" --out "$D/extend_forward.gif"
$W extend --video "$D/in_player.gif" --backward 16 --prompt "$PLAYER" --out "$D/extend_backward.gif"
$W loop --frames 16 --prompt "$BALLS" --out "$D/loop_prompt.gif"
$W loop --video "$D/in_balls.gif" --frames 7 --prompt "$BALLS" --out "$D/loop_video.gif"
$W edit --video "$D/in_balls.gif" --strength 0 --prompt "$BALLS" --out "$D/edit_0.gif"
$W edit --video "$D/in_balls.gif" --strength 0.5 --prompt "red ball bouncing on snow" --out "$D/edit_snow.gif"
$W edit --video "$D/in_balls.gif" --strength 0.5 --keep-motion --prompt "red ball bouncing on snow" --out "$D/edit_snow_kept.gif"
$W connect --from "$D/in_balls.gif" --to "$D/in_snow.gif" --frames 8 --prompt "$SNOW" --out "$D/connect.gif"
du -ch "$D"/*.gif | tail -1
