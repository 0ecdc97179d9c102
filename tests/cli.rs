//! End-to-end tests of the `worldsim` command line: every command on shipped scenes, the
//! output formats, and errors that go to stderr with a non-zero exit and leave no output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// This package's folder, from cargo at run time (a test binary built in another checkout that
/// shares the target folder must still read this checkout's files).
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
}

fn worldsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_worldsim")).args(args).current_dir(manifest_dir()).output().expect("runs")
}

fn ok(args: &[&str]) -> String {
    let out = worldsim(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "worldsim {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).expect("utf8")
}

fn fails(args: &[&str]) -> String {
    let out = worldsim(args);
    assert!(!out.status.success(), "worldsim {args:?} should fail");
    String::from_utf8(out.stderr).expect("utf8")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("worldsim-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

#[test]
fn render_writes_every_format_and_prints_captions() {
    let dir = temp_dir("render");
    let scene = "scenes/night_snow.ron";
    let gif = dir.join("a.gif");
    let stdout = ok(&["scene", "render", scene, "--out", s(&gif), "--size", "48x32", "--frames", "13"]);
    assert!(stdout.contains("prompt:  red ball bouncing on snow at night"), "{stdout}");
    assert!(stdout.contains("caption: Night on a snowy field"), "{stdout}");
    assert!(stdout.contains("the camera holds still"), "{stdout}");
    assert_eq!(&std::fs::read(&gif).expect("gif")[..6], b"GIF89a");

    let npy = dir.join("a.npy");
    ok(&["scene", "render", scene, "--out", s(&npy), "--size", "48x32", "--frames", "5"]);
    let bytes = std::fs::read(&npy).expect("npy");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert!(std::str::from_utf8(&bytes[10..10 + header_len]).expect("ascii").contains("(5, 32, 48, 3)"));
    assert_eq!(bytes.len() - 10 - header_len, 5 * 32 * 48 * 3);

    let png = dir.join("a.png");
    ok(&["scene", "render", scene, "--out", s(&png), "--size", "48x32"]);
    assert_eq!(&std::fs::read(&png).expect("png")[1..4], b"PNG");

    let folder = format!("{}/frames/", dir.display());
    ok(&["scene", "render", scene, "--out", &folder, "--frames", "3", "--seed", "9"]);
    let mut names: Vec<String> = std::fs::read_dir(dir.join("frames"))
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["000000.png", "000001.png", "000002.png"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_shipped_scene_renders_from_the_cli() {
    let dir = temp_dir("shipped");
    for entry in std::fs::read_dir(manifest_dir().join("scenes")).expect("scenes/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "ron") {
            let out = dir.join("x.gif");
            ok(&["scene", "render", s(&path), "--out", s(&out), "--size", "32x32", "--frames", "3"]);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn truth_prints_one_json_line_per_frame() {
    let stdout = ok(&["scene", "truth", "scenes/occlusion_pillar.ron", "--frames", "30"]);
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(lines.len(), 30);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["frame"], i);
        let ball = &l["objects"][0];
        assert_eq!(ball["id"], "ball0");
        assert_eq!(ball["color"], "green");
        assert!(ball["pixel"]["x"].is_number() && ball["world"]["x"].is_number());
    }
    assert!(lines.iter().any(|l| l["objects"][0]["visibility"] == "occluded"));
}

#[test]
fn bad_scenes_fail_with_location_and_leave_no_output() {
    let dir = temp_dir("bad");
    let bad = dir.join("bad.ron");
    std::fs::write(
        &bad,
        "Scene(\n  name: \"x\",\n  width: 64,\n  height: 64,\n  frames: 3,\n  terrain: lava,\n  sky: day,\n)\n",
    )
    .expect("write");
    let out = dir.join("out.gif");
    let stderr = fails(&["scene", "render", s(&bad), "--out", s(&out)]);
    assert!(stderr.contains(&format!("{}:6:", bad.display())), "{stderr}");
    assert!(stderr.contains("lava"), "{stderr}");

    let stderr = fails(&["scene", "render", "scenes/night_snow.ron", "--out", s(&out), "--size", "8x8"]);
    assert!(stderr.contains("field `width`") && stderr.contains("16..=1024"), "{stderr}");
    let stderr = fails(&["scene", "render", "scenes/night_snow.ron", "--out", s(&dir.join("out.mp4"))]);
    assert!(stderr.contains("end the name in .gif, .png, .npy, or /"), "{stderr}");
    let stderr = fails(&["scene", "render", "scenes/night_snow.ron", "--out", s(&dir.join("out.gif")), "--size", "64"]);
    assert!(stderr.contains("WIDTHxHEIGHT"), "{stderr}");
    let stderr = fails(&["scene", "truth", "scenes/no_such_scene.ron"]);
    assert!(stderr.contains("scenes/no_such_scene.ron: cannot read"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(left, [std::ffi::OsString::from("bad.ron")], "output left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dataset_make_then_check() {
    let dir = temp_dir("dataset");
    let data = dir.join("data");
    let stdout = ok(&["dataset", "make", "--out", s(&data), "--clips", "3", "--seed", "4"]);
    assert!(stdout.contains("wrote 3 clips"), "{stdout}");
    let stdout = ok(&["dataset", "check", s(&data)]);
    assert!(stdout.contains("3 valid clips") && stdout.contains("no problems found"), "{stdout}");

    std::fs::remove_file(data.join("clip_00001/000000.png")).expect("remove a frame");
    let stderr = fails(&["dataset", "check", s(&data)]);
    assert!(stderr.contains("clip_00001") && stderr.contains("missing: 000000.png"), "{stderr}");
    assert!(stderr.contains("1 problem(s) found"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn vocabulary_lists_the_words() {
    let stdout = ok(&["scene", "vocabulary"]);
    let words: Vec<&str> = stdout.lines().collect();
    assert!(words.len() > 100 && words.contains(&"bouncing") && words.contains(&"night"));
    assert!(words.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
}

#[test]
fn vae_train_export_roundtrip_and_eval_end_to_end() {
    let dir = temp_dir("vae");
    let run = dir.join("run");
    let stdout = ok(&["train", "vae", "--out", s(&run), "--steps", "2", "--batch", "1"]);
    assert!(stdout.contains("trained to step 2"), "{stdout}");
    assert!(
        run.join("checkpoint/state.json").is_file()
            && run.join("metrics.jsonl").is_file()
            && run.join("loss.png").is_file()
    );
    let stdout = ok(&["train", "vae", "--out", s(&run), "--steps", "3", "--batch", "1", "--resume"]);
    assert!(stdout.contains("trained to step 3"), "{stdout}");

    let model = dir.join("model");
    let stdout = ok(&["vae", "export", "--run", s(&run), "--out", s(&model), "--clips", "2"]);
    assert!(stdout.contains("exported step 3"), "{stdout}");
    assert!(model.join("vae.json").is_file() && model.join("vae.mpk").is_file());

    // A decoder-only fine-tune of the exported folder, growing its decoder by a block at full
    // resolution and its latent by two channels, exports with its latent statistics, bit for bit
    // (the latent space a DiT learnt is unchanged), those of the new channels, and the deeper
    // decoder; without a VAE to start from it is refused, and so is a depth list that does not
    // give every level.
    let tuned = dir.join("tuned");
    let stdout = ok(&[
        "train",
        "vae",
        "--out",
        s(&tuned),
        "--init-from",
        s(&model),
        "--decoder-only",
        "--decoder-res-blocks",
        "2,2,2",
        "--latent-channels",
        "10",
        "--steps",
        "1",
        "--batch",
        "1",
    ]);
    assert!(stdout.contains("trained to step 1"), "{stdout}");
    let tuned_model = dir.join("tuned-model");
    let stdout = ok(&["vae", "export", "--run", s(&tuned), "--out", s(&tuned_model), "--clips", "2"]);
    assert!(stdout.contains("latent statistics of 8 channels kept from"), "{stdout}");
    assert!(stdout.contains("measured the 2 new channels"), "{stdout}");
    let meta = |folder: &Path| {
        let text = std::fs::read_to_string(folder.join("vae.json")).expect("vae.json");
        serde_json::from_str::<serde_json::Value>(&text).expect("json")
    };
    for part in ["mean", "std"] {
        let (kept, grown) = (&meta(&model)["latent_stats"][part], &meta(&tuned_model)["latent_stats"][part]);
        let grown = grown.as_array().expect("a list");
        assert_eq!(grown.len(), 10, "{part}: one per latent channel");
        assert_eq!(&serde_json::Value::from(grown[..8].to_vec()), kept, "{part}: the source's channels, bit for bit");
    }
    assert_eq!(meta(&tuned_model)["config"]["latent_channels"], 10);
    assert_eq!(meta(&tuned_model)["config"]["decoder_res_blocks"], serde_json::json!([2, 2, 2]));
    let stderr =
        fails(&["train", "vae", "--out", s(&dir.join("short")), "--decoder-res-blocks", "2,2", "--steps", "1"]);
    assert!(stderr.contains("decoder_res_blocks") && stderr.contains("one positive count per level"), "{stderr}");
    let stderr = fails(&["train", "vae", "--out", s(&dir.join("alone")), "--decoder-only", "--steps", "1"]);
    assert!(stderr.contains("--init-from"), "{stderr}");
    let stderr = fails(&["train", "vae", "--out", s(&dir.join("neg")), "--object-weight", "-1", "--steps", "1"]);
    assert!(stderr.contains("--object-weight -1 must be a finite number ≥ 0"), "{stderr}");
    let stderr = fails(&[
        "train",
        "vae",
        "--out",
        s(&dir.join("boxless")),
        "--object-weight",
        "4",
        "--data",
        s(&dir),
        "--steps",
        "1",
    ]);
    assert!(stderr.contains("--object-weight needs the ground truth of random scenes"), "{stderr}");

    // Held-out reconstruction quality, the pixels of objects on their own too.
    let stdout = ok(&["vae", "eval", "--model", s(&model), "--clips", "2"]);
    assert!(stdout.contains("objects (dB)"), "{stdout}");
    for case in ["64x64 video", "64x64 image", "128x64 video", "64x128 video"] {
        let line = stdout.lines().find(|l| l.starts_with(case)).unwrap_or_else(|| panic!("no {case} in {stdout}"));
        let numbers: Vec<f64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        // clips, PSNR, SSIM and the objects' PSNR (random scenes 0 and 1 of seed 9001 hold objects).
        assert_eq!(numbers.len(), 4, "{line}");
        assert!(numbers[1] > 5.0 && numbers[3] > 5.0 && numbers[2] <= 1.0, "{line}");
    }

    let out = dir.join("rt.gif");
    let stdout = ok(&[
        "vae",
        "roundtrip",
        "--in",
        "scenes/night_snow.ron",
        "--size",
        "32x24",
        "--frames",
        "5",
        "--model",
        s(&model),
        "--out",
        s(&out),
    ]);
    let frames: Vec<&str> =
        stdout.lines().filter(|l| l.trim_start().chars().next().is_some_and(|c| c.is_ascii_digit())).collect();
    assert_eq!(frames.len(), 5, "{stdout}");
    assert!(stdout.contains("mean") && out.is_file(), "{stdout}");
    // The reconstruction reads back as a video input.
    ok(&["vae", "roundtrip", "--in", s(&out), "--model", s(&model), "--out", s(&dir.join("rt2.npy"))]);

    let stderr = fails(&[
        "vae",
        "roundtrip",
        "--in",
        "scenes/night_snow.ron",
        "--frames",
        "4",
        "--model",
        s(&model),
        "--out",
        s(&dir.join("x.gif")),
    ]);
    assert!(stderr.contains("frames is 4") && stderr.contains("nearest valid value is 5"), "{stderr}");
    let stderr = fails(&[
        "vae",
        "roundtrip",
        "--in",
        "scenes/night_snow.ron",
        "--size",
        "30x24",
        "--frames",
        "5",
        "--model",
        s(&model),
        "--out",
        s(&dir.join("x.gif")),
    ]);
    assert!(stderr.contains("width is 30"), "{stderr}");
    assert!(!dir.join("x.gif").exists());
    let stderr = fails(&[
        "vae",
        "roundtrip",
        "--in",
        "scenes/night_snow.ron",
        "--model",
        s(&dir.join("nope")),
        "--out",
        s(&dir.join("x.gif")),
    ]);
    assert!(stderr.contains("vae.json: cannot read"), "{stderr}");
    #[cfg(not(feature = "cuda"))]
    {
        let stderr = fails(&["vae", "eval", "--device", "cuda", "--model", s(&model)]);
        assert!(stderr.contains("rebuild with `cargo build --release --features cuda`"), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dit_train_export_generate_and_prompt_expand_end_to_end() {
    let dir = temp_dir("dit");
    let run = dir.join("run");
    // A model folder with the shipped VAE; the DiT is trained on its latents and exported next
    // to it (the VAE files stay).
    let model = dir.join("model");
    std::fs::create_dir_all(&model).expect("dir");
    for f in ["vae.json", "vae.mpk"] {
        std::fs::copy(Path::new("assets/models/tiny").join(f), model.join(f)).expect("copy");
    }
    let stdout = ok(&["train", "dit", "--out", s(&run), "--steps", "2", "--batch", "2", "--vae", s(&model)]);
    assert!(stdout.contains("trained to step 2"), "{stdout}");
    let stdout = ok(&["train", "dit", "--out", s(&run), "--steps", "3", "--batch", "2", "--resume"]);
    assert!(stdout.contains("trained to step 3"), "{stdout}");
    let stdout = ok(&["dit", "export", "--run", s(&run), "--out", s(&model)]);
    assert!(stdout.contains("exported step 3"), "{stdout}");
    assert!(model.join("dit.json").is_file() && model.join("vae.json").is_file());

    // Both grown to two more latent channels: a decoder-only VAE fine-tune that keeps the
    // DiT's channels, then the DiT fine-tuned from its own weights on the wider latent; the
    // pair generates.
    let wide_run = dir.join("wide-vae");
    let wide = dir.join("wide");
    let vae_args = ["train", "vae", "--init-from", s(&model), "--decoder-only", "--latent-channels", "10"];
    ok(&[&vae_args[..], &["--out", s(&wide_run), "--steps", "1", "--batch", "1"]].concat());
    ok(&["vae", "export", "--run", s(&wide_run), "--out", s(&wide), "--clips", "2"]);
    // The widened VAE with the old DiT is refused before any work, naming the mismatch.
    for f in ["dit.json", "dit.mpk"] {
        std::fs::copy(model.join(f), wide.join(f)).expect("copy");
    }
    let stderr = fails(&["generate", "--prompt", "red ball", "--model", s(&wide), "--out", s(&dir.join("x.gif"))]);
    assert!(stderr.contains("latent channels is 10 but this model uses 8"), "{stderr}");
    let wide_dit = dir.join("wide-dit");
    let dit_args = ["train", "dit", "--vae", s(&wide), "--init-from", s(&model), "--steps", "1", "--batch", "2"];
    let stderr = fails(&[&dit_args[..], &["--given-share", "1.5", "--out", s(&dir.join("bad"))]].concat());
    assert!(stderr.contains("--given-share 1.5 must be between 0 and 1"), "{stderr}");
    let dit_args = [&dit_args[..], &["--given-share", "0"]].concat();
    let stdout = ok(&[&dit_args[..], &["--out", s(&wide_dit)]].concat());
    assert!(stdout.contains("has 10 latent channels: the DiT takes them"), "{stdout}");
    ok(&["dit", "export", "--run", s(&wide_dit), "--out", s(&wide)]);
    // The fine-tune's export records where it started and that start's own provenance.
    let text = std::fs::read_to_string(wide.join("dit.json")).expect("dit.json");
    let trained = &serde_json::from_str::<serde_json::Value>(&text).expect("json")["trained"];
    assert_eq!(trained["init_from"], serde_json::json!(s(&model)), "{trained}");
    assert_eq!(trained["init_trained"]["steps"], 3, "{trained}");
    assert_eq!(trained["given_share"], 0.0, "{trained}");
    let grown_out = dir.join("wide.gif");
    let args = ["generate", "--prompt", "red ball", "--frames", "5", "--size", "32x16", "--steps", "2"];
    ok(&[&args[..], &["--model", s(&wide), "--out", s(&grown_out)]].concat());
    assert_eq!(&std::fs::read(&grown_out).expect("gif")[..6], b"GIF89a");

    let out = dir.join("g.gif");
    let args = ["generate", "--prompt", "red ball on snow, zorble", "--frames", "5", "--size", "32x16"];
    let stdout = ok(&[&args[..], &["--steps", "2", "--model", s(&model), "--out", s(&out)]].concat());
    assert!(stdout.contains("caption: A sunny day on a snowy field"), "{stdout}");
    assert!(stdout.contains("unknown words (the model ignores them): zorble"), "{stdout}");
    assert_eq!(&std::fs::read(&out).expect("gif")[..6], b"GIF89a");
    let png = dir.join("g.png");
    ok(&["generate", "--prompt", "blue box", "--frames", "1", "--steps", "2", "--model", s(&model), "--out", s(&png)]);
    assert_eq!(&std::fs::read(&png).expect("png")[1..4], b"PNG");

    let stderr =
        fails(&["generate", "--prompt", "x", "--size", "36x16", "--model", s(&model), "--out", s(&dir.join("x.gif"))]);
    assert!(stderr.contains("width is 36") && stderr.contains("nearest valid value is 40"), "{stderr}");
    let stderr = fails(&["generate", "--prompt", "", "--model", s(&model), "--out", s(&dir.join("x.gif"))]);
    assert!(stderr.contains("no words"), "{stderr}");
    assert!(!dir.join("x.gif").exists());
    let stderr = fails(&["generate", "--prompt", "x", "--model", s(&dir.join("nope")), "--out", s(&dir.join("x.gif"))]);
    assert!(stderr.contains("vae.json"), "{stderr}");

    let stdout = ok(&["eval", "dit", "--model", s(&model), "--prompts", "1", "--seeds", "1", "--steps", "1"]);
    assert!(
        stdout.contains("all attributes") && stdout.contains("rendered (control)") && stdout.contains("VAE round-trip"),
        "{stdout}"
    );

    let stdout = ok(&["prompt", "expand", "yellow ball rolling on the beach at dusk"]);
    assert!(stdout.starts_with("Dusk on a sandy beach") && stdout.contains("yellow ball"), "{stdout}");
    assert!(fails(&["prompt", "expand", "  "]).contains("no words"));
}

#[test]
fn the_readme_main_job_runs_the_shipped_model() {
    let dir = temp_dir("main-job");
    let out = dir.join("ball.gif");
    let prompt = "red ball bouncing on snow at night";
    let stdout = ok(&["generate", "--prompt", prompt, "--frames", "9", "--size", "96x48", "--out", s(&out)]);
    assert!(stdout.contains("caption: Night on a snowy field"), "{stdout}");
    assert!(stdout.contains("wrote") && stdout.contains("9 frames 96×48"), "{stdout}");
    assert_eq!(&std::fs::read(&out).expect("gif")[..6], b"GIF89a");
}

#[test]
fn bench_prints_one_json_line_per_case_and_rejects_bad_input() {
    let stdout = ok(&["bench", "dit", "--tokens", "16,40", "--reps", "1", "--json"]);
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for (line, tokens) in lines.iter().zip([16, 40]) {
        assert_eq!(line["tokens"], tokens, "{line}");
        assert_eq!(
            (line["dim"].as_u64(), line["depth"].as_u64(), line["heads"].as_u64()),
            (Some(192), Some(6), Some(3))
        );
        assert_eq!(line["text_tokens"], 16);
        assert!(line["frames"].as_u64().is_some_and(|f| f >= 1));
        assert!(line["forward_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{line}");
        assert!(line["train_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{line}");
    }
    let stdout = ok(&["bench", "vae", "--frames", "5", "--size", "16x16", "--reps", "1", "--json"]);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(fails(&["bench", "dit", "--preset", "huge"]).contains("unknown --preset `huge`"));
    assert!(fails(&["bench", "vae", "--size", "30x30"]).contains("30"));
}

#[test]
fn prompting_verbs_fit_any_input_and_reject_bad_requests() {
    let dir = temp_dir("prompting");
    // A 70×50 scene render: not a valid size, so it is fitted to 72×48 with a note.
    let video = dir.join("in.gif");
    ok(&["scene", "render", "scenes/bouncing_balls.ron", "--size", "70x50", "--frames", "7", "--out", s(&video)]);
    let image = dir.join("in.png");
    ok(&["scene", "render", "scenes/night_snow.ron", "--size", "40x40", "--out", s(&image)]);
    let fast = ["--prompt", "red ball bouncing on grass", "--steps", "2"];
    let run = |verb: &[&str], out: &str| {
        let out_path = dir.join(out);
        let mut args: Vec<&str> = verb.to_vec();
        args.extend(fast);
        args.extend(["--out", s(&out_path)]);
        let stdout = ok(&args);
        let frames = worldsim_scenes::media::read_video(&out_path).expect("readable output");
        (stdout, frames)
    };

    let (stdout, frames) = run(&["animate", "--image", s(&image), "--frames", "5"], "animate.gif");
    assert_eq!((frames.len(), frames[0].width, frames[0].height), (5, 40, 40));
    assert!(stdout.contains("caption:"), "{stdout}");

    let (stdout, frames) = run(&["extend", "--video", s(&video), "--forward", "3", "--backward", "2"], "extend.gif");
    assert!(stdout.contains("70×50 resized and centre-cropped to 72×48"), "{stdout}");
    assert_eq!((frames.len(), frames[0].width, frames[0].height), (12, 72, 48));

    let (stdout, frames) = run(&["edit", "--video", s(&video), "--strength", "0.3"], "edit.gif");
    assert!(stdout.contains("7 frames padded to 9"), "{stdout}");
    assert_eq!(frames.len(), 7, "trimmed back to the input's length");
    let (_, kept) = run(&["edit", "--video", s(&video), "--strength", "0.3", "--keep-motion"], "kept.gif");
    assert_eq!((kept.len(), kept[0].width, kept[0].height), (7, 72, 48));

    let (stdout, frames) = run(&["loop", "--frames", "9", "--size", "32x32"], "loop.gif");
    assert!(stdout.contains("9 frames rounded up to 12"), "{stdout}");
    assert_eq!((frames.len(), frames[0].width), (12, 32));
    let (stdout, frames) = run(&["loop", "--video", s(&video)], "closed.gif");
    assert!(stdout.contains("4 frames leading back to the start rounded to 5"), "{stdout}");
    assert_eq!(frames.len(), 12, "7 frames and 5 new: a multiple of 4");
    let (stdout, frames) = run(&["connect", "--from", s(&video), "--to", s(&video), "--frames", "3"], "connect.gif");
    assert!(stdout.contains("3 connecting frames rounded up to 4"), "{stdout}");
    assert_eq!(frames.len(), 9);

    let err =
        fails(&["edit", "--video", s(&video), "--strength", "2", "--prompt", "ball", "--out", s(&dir.join("x.gif"))]);
    assert!(err.contains("strength") && err.contains("0..=1"), "{err}");
    assert!(!dir.join("x.gif").exists());
    let err = fails(&["extend", "--video", s(&video), "--prompt", "ball", "--out", s(&dir.join("y.gif"))]);
    assert!(err.contains("--forward N"), "{err}");
    let err = fails(&[
        "extend",
        "--video",
        s(&video),
        "--forward",
        "4",
        "--seam-strength",
        "1.5",
        "--prompt",
        "ball",
        "--out",
        s(&dir.join("y.gif")),
    ]);
    assert!(err.contains("--seam-strength 1.5 must be in 0..1"), "{err}");
    let (_, cold) =
        run(&["extend", "--video", s(&video), "--forward", "3", "--backward", "2", "--warm-start", "1"], "cold.gif");
    let (_, warm) = run(&["extend", "--video", s(&video), "--forward", "3", "--backward", "2"], "warm.gif");
    assert_eq!(cold.len(), 12);
    assert_ne!(cold[9..], warm[9..], "--warm-start 1 starts the new frames from pure noise, not warm");
    let err = fails(&[
        "connect",
        "--from",
        s(&video),
        "--to",
        s(&video),
        "--warm-start",
        "0",
        "--prompt",
        "ball",
        "--out",
        s(&dir.join("w.gif")),
    ]);
    assert!(err.contains("--warm-start 0 must be in 0 (exclusive) ..= 1"), "{err}");
    let err = fails(&["animate", "--image", "missing.png", "--prompt", "ball", "--out", s(&dir.join("z.gif"))]);
    assert!(err.contains("missing.png"), "{err}");
}
