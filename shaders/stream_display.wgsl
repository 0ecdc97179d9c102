// Shows a worldsim stream on a 2D mesh (bevy_worldsim's `StreamMaterial`):
// - crisp upscale: "sharp bilinear" sampling, nearest inside each source texel and a linear
//   ramp one screen pixel wide across texel borders, so a 64×64 stream scaled to any size
//   (integer or not) stays sharp without shimmering;
// - smooth blending: when the display runs faster than the model, the frame before fades into
//   the frame on screen over one stream frame interval.
// The material bind group index comes from Bevy's preprocessor (#{MATERIAL_BIND_GROUP}).

// Bevy's 2D mesh vertex output (bevy_sprite::mesh2d_vertex_output), declared here so the
// shader stands alone.
struct VertexOutput {
    @builtin(position) position: vec4<f32>,
    @location(0) world_position: vec4<f32>,
    @location(1) world_normal: vec3<f32>,
    @location(2) uv: vec2<f32>,
}

struct StreamDisplay {
    // x: blend, 0 = the frame before, 1 = the frame on screen
    // y: crispness, 0 = plain bilinear, 1 = sharp bilinear
    // zw: the stream's size in pixels
    params: vec4<f32>,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> display: StreamDisplay;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var current_texture: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var current_sampler: sampler;
@group(#{MATERIAL_BIND_GROUP}) @binding(3) var previous_texture: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(4) var previous_sampler: sampler;

// Texture coordinates that make a linear sampler behave as nearest inside a texel and blend
// only over the last screen pixel before a texel border.
fn crisp_uv(uv: vec2<f32>, size: vec2<f32>) -> vec2<f32> {
    let texel = uv * size;
    // screen pixels per source texel (at least 1: minification falls back to bilinear)
    let scale = max(1.0 / max(fwidth(texel), vec2<f32>(1e-6)), vec2<f32>(1.0));
    let base = floor(texel - 0.5) + 0.5;
    let f = fract(texel - 0.5);
    let ramp = clamp((f - 0.5) * scale + 0.5, vec2<f32>(0.0), vec2<f32>(1.0));
    return (base + ramp) / size;
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let size = max(display.params.zw, vec2<f32>(1.0));
    let uv = mix(in.uv, crisp_uv(in.uv, size), display.params.y);
    let previous = textureSample(previous_texture, previous_sampler, uv);
    let current = textureSample(current_texture, current_sampler, uv);
    return mix(previous, current, clamp(display.params.x, 0.0, 1.0));
}
