//! `worldsim dataset make | check`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use worldsim_scenes::Clip;
use worldsim_scenes::dataset::{check_dataset, write_clip};
use worldsim_scenes::random::{RandomSceneConfig, random_scene};

/// `worldsim dataset …`
#[derive(Subcommand)]
pub enum DatasetCommand {
    /// Generate N random clips (varied durations from 1 frame, sizes and aspect ratios) into
    /// DIR/clip_00000, DIR/clip_00001, …
    Make {
        /// Output folder (created if missing; clips of the same name are replaced).
        #[arg(long)]
        out: PathBuf,
        /// Number of clips.
        #[arg(long)]
        clips: u32,
        /// Seed of the random scenes.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Validate a dataset folder and summarise it; exits non-zero if anything is wrong.
    Check {
        /// The dataset folder.
        dir: PathBuf,
    },
}

/// Runs a `dataset` sub-command.
pub fn run(command: DatasetCommand) -> Result<()> {
    match command {
        DatasetCommand::Make { out, clips, seed } => {
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let config = RandomSceneConfig::default();
            let start = Instant::now();
            let mut frames = 0usize;
            for i in 0..clips {
                let scene = random_scene(seed, u64::from(i), &config);
                let clip = Clip::render(&scene);
                frames += clip.frames.len();
                let dir = out.join(format!("clip_{i:05}"));
                write_clip(&dir, &clip).with_context(|| format!("writing {}", dir.display()))?;
            }
            println!(
                "wrote {clips} clips ({frames} frames) to {} in {:.1} s",
                out.display(),
                start.elapsed().as_secs_f64()
            );
            Ok(())
        }
        DatasetCommand::Check { dir } => {
            let report = check_dataset(&dir)?;
            println!("{}: {} valid clips, {} frames", dir.display(), report.clips, report.frames);
            let sizes: Vec<String> = report.sizes.iter().map(|((w, h), n)| format!("{w}x{h}: {n}")).collect();
            let lengths: Vec<String> = report.lengths.iter().map(|(f, n)| format!("{f}: {n}")).collect();
            if !sizes.is_empty() {
                println!("sizes:   {}", sizes.join(", "));
                println!("frames:  {}", lengths.join(", "));
            }
            if report.problems.is_empty() {
                println!("no problems found");
                Ok(())
            } else {
                for p in &report.problems {
                    eprintln!("{p}");
                }
                bail!("{} problem(s) found in {}", report.problems.len(), dir.display())
            }
        }
    }
}
