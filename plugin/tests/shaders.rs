//! Every WGSL file in `shaders/` parses and validates with naga (no GPU needed), after the one
//! substitution Bevy's preprocessor makes for materials (`#{MATERIAL_BIND_GROUP}`).

use std::path::PathBuf;

fn shaders_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("../shaders")
}

/// Bevy's substitution for 2D materials (`MATERIAL_2D_BIND_GROUP_INDEX`).
fn preprocess(source: &str) -> String {
    source.replace("#{MATERIAL_BIND_GROUP}", "2")
}

fn validate(source: &str) -> Result<naga::valid::ModuleInfo, String> {
    let module = naga::front::wgsl::parse_str(&preprocess(source)).map_err(|e| e.emit_to_string(source))?;
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default())
        .validate(&module)
        .map_err(|e| format!("{e:?}"))
}

#[test]
fn every_shader_validates() {
    let mut checked = 0;
    for entry in std::fs::read_dir(shaders_dir()).expect("shaders/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let source = std::fs::read_to_string(&path).expect("read");
            if let Err(e) = validate(&source) {
                panic!("{} does not validate:\n{e}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 1, "no shaders found in {}", shaders_dir().display());
}

#[test]
fn the_display_shader_is_the_one_the_plugin_embeds_and_has_its_entry_point() {
    let source = std::fs::read_to_string(shaders_dir().join("stream_display.wgsl")).expect("read");
    assert_eq!(source, bevy_worldsim::display::STREAM_DISPLAY_WGSL);
    let module = naga::front::wgsl::parse_str(&preprocess(&source)).expect("parses");
    let entry = module.entry_points.iter().find(|e| e.name == "fragment").expect("a `fragment` entry point");
    assert_eq!(entry.stage, naga::ShaderStage::Fragment);
    // The material binds a uniform and two texture/sampler pairs in the material group.
    let bindings: Vec<u32> = module
        .global_variables
        .iter()
        .filter_map(|(_, g)| g.binding.as_ref().filter(|b| b.group == 2).map(|b| b.binding))
        .collect();
    let mut sorted = bindings.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
}

#[test]
fn validation_catches_a_broken_shader() {
    let source = std::fs::read_to_string(shaders_dir().join("stream_display.wgsl")).expect("read");
    // A type error: a vec4 blended with a vec3.
    let broken = source.replace("mix(previous, current,", "mix(previous.rgb, current,");
    assert_ne!(broken, source);
    assert!(validate(&broken).is_err(), "the test must be able to fail");
}
