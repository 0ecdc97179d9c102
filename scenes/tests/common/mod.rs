//! Helpers shared by the world's tests.
#![allow(dead_code)]

use std::path::PathBuf;

use worldsim_scenes::Scene;

/// This package's folder, from cargo at run time (a test binary built in another checkout that
/// shares the target folder must still read this checkout's files).
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
}

/// The shipped scene files, sorted.
pub fn shipped_scenes() -> Vec<PathBuf> {
    let dir = manifest_dir().join("../scenes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenes/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    files
}

/// Loads a shipped scene by name.
pub fn shipped(name: &str) -> Scene {
    let path = manifest_dir().join(format!("../scenes/{name}.ron"));
    Scene::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A scene from RON text; panics with the error.
pub fn scene(text: &str) -> Scene {
    Scene::parse(text, "<test>").unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh, empty temporary folder unique to this test process and `name`.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("worldsim-scenes-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
