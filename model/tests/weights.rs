//! VAE weight folders: save → load round trip, and precise errors for missing, corrupt and
//! mismatched files.

use std::path::{Path, PathBuf};

use worldsim_model::vae::weights::{VAE_FORMAT, VaeMeta, load_vae, save_vae};
use worldsim_model::vae::{LatentStats, VaeConfig};
use worldsim_model::{Cpu, ModelError};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("worldsim-weights-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn config() -> VaeConfig {
    VaeConfig::new(4, vec![8, 8], vec![true], vec![true]).with_groups(4)
}

fn save(dir: &Path) -> VaeMeta {
    let device = Default::default();
    let meta = VaeMeta {
        format: VAE_FORMAT.into(),
        config: config(),
        latent_stats: LatentStats::identity(4),
        trained: serde_json::Value::Null,
    };
    save_vae::<Cpu>(dir, &config().init(&device), &meta).expect("saves");
    meta
}

fn err(dir: &Path) -> String {
    match load_vae::<Cpu>(dir, &Default::default()) {
        Err(ModelError::Weights { path, message }) => format!("{path}: {message}"),
        Err(e) => e.to_string(),
        Ok(_) => panic!("should not load"),
    }
}

#[test]
fn saved_weights_load_back() {
    let dir = temp_dir("ok");
    let meta = save(&dir);
    let loaded = load_vae::<Cpu>(&dir, &Default::default()).expect("loads");
    assert_eq!(loaded.meta.config, meta.config);
    assert_eq!(loaded.meta.latent_stats, meta.latent_stats);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn saving_replaces_the_vae_files_and_keeps_the_rest_of_the_folder() {
    let dir = temp_dir("keep");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("MODEL_CARD.md"), "card").expect("write");
    std::fs::write(dir.join("vae.json"), "stale").expect("write");
    save(&dir);
    assert_eq!(std::fs::read_to_string(dir.join("MODEL_CARD.md")).expect("kept"), "card");
    load_vae::<Cpu>(&dir, &Default::default()).expect("the new files replaced the stale ones");
    let names: Vec<_> = std::fs::read_dir(&dir).expect("dir").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(names.len(), 3, "no staging folder left behind: {names:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_corrupt_or_mismatched_weights_give_precise_errors() {
    let dir = temp_dir("bad");
    assert!(err(&dir).contains("vae.json: cannot read"), "{}", err(&dir));

    save(&dir);
    std::fs::remove_file(dir.join("vae.mpk")).expect("remove");
    assert!(err(&dir).contains("vae.mpk: missing"), "{}", err(&dir));

    save(&dir);
    std::fs::write(dir.join("vae.mpk"), b"\x01\x02garbage").expect("write");
    assert!(err(&dir).contains("vae.mpk: cannot load"), "{}", err(&dir));

    // Weights of one architecture under the config of another.
    save(&dir);
    let text = std::fs::read_to_string(dir.join("vae.json")).expect("read");
    let mut meta: VaeMeta = serde_json::from_str(&text).expect("json");
    meta.config.latent_channels = 8;
    meta.latent_stats = LatentStats::identity(8);
    std::fs::write(dir.join("vae.json"), serde_json::to_string(&meta).expect("json")).expect("write");
    let e = err(&dir);
    assert!(e.contains("vae.mpk") && (e.contains("do not match") || e.contains("cannot load")), "{e}");

    meta.config.latent_channels = 4;
    std::fs::write(dir.join("vae.json"), serde_json::to_string(&meta).expect("json")).expect("write");
    assert!(err(&dir).contains("latent_stats has 8 means"), "{}", err(&dir));

    meta.format = "something-else".into();
    std::fs::write(dir.join("vae.json"), serde_json::to_string(&meta).expect("json")).expect("write");
    assert!(err(&dir).contains("this build reads \"worldsim-vae/1\""), "{}", err(&dir));

    std::fs::write(dir.join("vae.json"), "{ not json").expect("write");
    assert!(err(&dir).contains("vae.json: line 1, column 3"), "{}", err(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}
