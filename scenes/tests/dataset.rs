//! The dataset format: writing, reading back, validation with precise problems, and the random
//! clip generator's variety.

mod common;

use std::collections::BTreeSet;

use common::temp_dir;
use worldsim_scenes::Clip;
use worldsim_scenes::dataset::{ClipMeta, META_FILE, check_dataset, read_clip, write_clip};
use worldsim_scenes::media::{encode_png, frame_file_name};
use worldsim_scenes::random::{RandomSceneConfig, random_scene};
use worldsim_scenes::{DatasetError, Frame};

fn make(dir: &std::path::Path, n: u64) -> Vec<Clip> {
    let config = RandomSceneConfig { areas: vec![32 * 32], max_k: 2, ..RandomSceneConfig::default() };
    (0..n)
        .map(|i| {
            let clip = Clip::render(&random_scene(3, i, &config));
            write_clip(&dir.join(format!("clip_{i:05}")), &clip).expect("writes");
            clip
        })
        .collect()
}

#[test]
fn written_clips_read_back_exactly() {
    let dir = temp_dir("roundtrip");
    let clips = make(&dir, 4);
    let report = check_dataset(&dir).expect("readable");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.clips, 4);
    assert_eq!(report.frames, clips.iter().map(|c| c.frames.len()).sum::<usize>());
    for (i, clip) in clips.iter().enumerate() {
        let back = read_clip(&dir.join(format!("clip_{i:05}"))).expect("valid");
        assert_eq!(back.frames, clip.frames);
        assert_eq!(back.meta, ClipMeta::of(clip));
        assert_eq!(back.meta.actions.as_ref().map(Vec::len), Some(clip.frames.len()));
        let truth = std::fs::read_to_string(back.dir.join("truth.jsonl")).expect("truth");
        assert_eq!(truth.lines().count(), clip.frames.len());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn problems(dir: &std::path::Path) -> Vec<String> {
    match read_clip(dir) {
        Err(DatasetError::Invalid(p)) => p.iter().map(ToString::to_string).collect(),
        Ok(_) => Vec::new(),
        Err(e) => vec![e.to_string()],
    }
}

#[test]
fn broken_clips_are_reported_precisely() {
    let dir = temp_dir("broken");
    make(&dir, 1);
    let clip = dir.join("clip_00000");
    let meta_text = std::fs::read_to_string(clip.join(META_FILE)).expect("meta");
    let mut meta: ClipMeta = serde_json::from_str(&meta_text).expect("json");
    // Make it a 3-frame clip whatever the generator chose.
    meta.frames = 3;
    meta.actions = Some(vec!["the player jumps".into(); 3]);
    let frame = Frame::filled(meta.width, meta.height, [10, 20, 30]);
    for i in 0..3 {
        let mut bytes = Vec::new();
        encode_png(&mut bytes, &frame, &clip).expect("png");
        std::fs::write(clip.join(frame_file_name(i)), bytes).expect("write");
    }
    let write_meta = |m: &ClipMeta| {
        std::fs::write(clip.join(META_FILE), serde_json::to_string_pretty(m).expect("json")).expect("write")
    };
    write_meta(&meta);
    for i in 3..40 {
        let _ = std::fs::remove_file(clip.join(frame_file_name(i)));
    }
    assert!(problems(&clip).is_empty(), "{:?}", problems(&clip));

    std::fs::remove_file(clip.join(frame_file_name(1))).expect("remove");
    let p = problems(&clip);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("1 of 3 frames are missing: 000001.png"), "{p:?}");

    let mut bytes = Vec::new();
    encode_png(&mut bytes, &Frame::filled(8, 8, [0, 0, 0]), &clip).expect("png");
    std::fs::write(clip.join(frame_file_name(1)), bytes).expect("write");
    let p = problems(&clip);
    assert!(p[0].contains("000001.png: is 8×8 but clip.json says"), "{p:?}");

    std::fs::write(clip.join(frame_file_name(1)), b"not a png").expect("write");
    std::fs::write(clip.join(frame_file_name(5)), b"stray").expect("write");
    let mut bad = meta.clone();
    bad.actions = Some(vec!["x".into(); 2]);
    bad.fps = 0;
    write_meta(&bad);
    let p = problems(&clip).join("\n");
    assert!(p.contains("000001.png: not a readable PNG"), "{p}");
    assert!(p.contains("`actions` has 2 entries but `frames` is 3"), "{p}");
    assert!(p.contains("`fps` is 0"), "{p}");
    assert!(p.contains("frames beyond `frames` = 3: 000005.png"), "{p}");

    std::fs::write(clip.join(META_FILE), "{\n  \"format\": \"worldsim-clip/1\",\n  \"width\": 64,\n  oops\n}")
        .expect("write");
    let p = problems(&clip);
    assert!(p[0].contains("clip.json: line 4, column 3"), "{p:?}");

    std::fs::remove_file(clip.join(META_FILE)).expect("remove");
    assert!(problems(&clip)[0].contains("every clip folder needs a clip.json"));
    let report = check_dataset(&dir).expect("readable");
    assert_eq!((report.clips, report.problems.len()), (0, 1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_or_missing_dataset_is_an_error() {
    let dir = temp_dir("empty");
    let report = check_dataset(&dir).expect("readable");
    assert!(report.problems[0].message.contains("has no clip folders"));
    assert!(check_dataset(&dir.join("missing")).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn random_clips_vary_in_duration_size_and_aspect() {
    let config = RandomSceneConfig::default();
    let scenes: Vec<_> = (0..200).map(|i| random_scene(7, i, &config)).collect();
    let lengths: BTreeSet<u32> = scenes.iter().map(|s| s.frames).collect();
    let aspects: BTreeSet<(u32, u32)> = scenes.iter().map(|s| (s.width * 100 / s.height, 0)).collect();
    let images = scenes.iter().filter(|s| s.frames == 1).count();
    assert!(images > 20 && images < 80, "{images} images in 200 clips");
    assert!(lengths.len() >= 6, "lengths {lengths:?}");
    assert!(lengths.iter().all(|f| (f - 1) % 4 == 0), "lengths are 1 + 4k: {lengths:?}");
    assert!(aspects.len() >= 6, "aspect ratios {aspects:?}");
    assert!(scenes.iter().all(|s| s.width % 8 == 0 && s.height % 8 == 0 && s.validate().is_ok()));
    assert!(scenes.iter().any(|s| s.width >= 2 * s.height) && scenes.iter().any(|s| s.height >= 2 * s.width));
    // Same seed and index, same scene; another seed, another stream.
    assert_eq!(random_scene(7, 3, &config), scenes[3]);
    assert_ne!(random_scene(8, 3, &config), scenes[3]);
}
