//! `worldsim scene render | truth | vocabulary`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use worldsim_scenes::media::{OutputKind, write_video};
use worldsim_scenes::vocabulary::vocabulary;
use worldsim_scenes::{Clip, Scene};

/// `worldsim scene …`
#[derive(Subcommand)]
pub enum SceneCommand {
    /// Render a scene to a .gif, .png (first frame), folder of PNGs (OUT ends in /) or .npy
    /// (uint8 [frames, height, width, 3]); prints its captions.
    Render {
        /// The scene file (e.g. scenes/bouncing_balls.ron).
        scene: PathBuf,
        /// Output path; its extension picks the format.
        #[arg(long)]
        out: String,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Print the ground truth of every frame as JSON lines (one object per frame).
    Truth {
        /// The scene file.
        scene: PathBuf,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Print every word the world's captions, prompts and action captions can use.
    Vocabulary,
}

/// Changes to a scene for one run.
#[derive(Args)]
pub struct Overrides {
    /// Seed of the scenery (default: the scene's own).
    #[arg(long)]
    seed: Option<u64>,
    /// Frame size as WIDTHxHEIGHT, each side 16..=1024 (default: the scene's own).
    #[arg(long, value_parser = super::parse_size)]
    size: Option<(u32, u32)>,
    /// Number of frames, 1..=1000 (default: the scene's own).
    #[arg(long)]
    frames: Option<u32>,
}

impl Overrides {
    fn apply(&self, path: &Path) -> Result<Scene> {
        let scene = Scene::load(path)?;
        Ok(scene
            .with_overrides(self.size, self.frames, self.seed)
            .map_err(|e| e.in_file(&format!("{} (with command-line overrides)", path.display())))?)
    }
}

/// Runs a `scene` sub-command.
pub fn run(command: SceneCommand) -> Result<()> {
    match command {
        SceneCommand::Render { scene, out, overrides } => {
            OutputKind::of(&out)?;
            let scene = overrides.apply(&scene)?;
            let start = Instant::now();
            let clip = Clip::render(&scene);
            let secs = start.elapsed().as_secs_f64();
            let kind = write_video(&out, &clip.frames, scene.fps).with_context(|| format!("writing {out}"))?;
            println!(
                "scene:   {} ({}×{}, {} frames at {} fps, seed {})",
                scene.name, scene.width, scene.height, scene.frames, scene.fps, scene.seed
            );
            println!("prompt:  {}", clip.captions.prompt);
            println!("caption: {}", clip.captions.caption);
            println!("actions:");
            let mut i = 0;
            while i < clip.captions.actions.len() {
                let a = &clip.captions.actions[i];
                let run = clip.captions.actions[i..].iter().take_while(|b| *b == a).count();
                println!("  frames {:>3}..{:<3} {a}", i, i + run - 1);
                i += run;
            }
            let what = if kind == OutputKind::Png {
                "first frame".to_string()
            } else {
                format!("{} frames", clip.frames.len())
            };
            println!("wrote {out} ({what}; rendered at {:.0} frames/s)", clip.frames.len() as f64 / secs.max(1e-9));
            Ok(())
        }
        SceneCommand::Truth { scene, overrides } => {
            let scene = overrides.apply(&scene)?;
            let (truth, _) = Clip::truth(&scene);
            let mut out = String::new();
            for t in &truth {
                out.push_str(&serde_json::to_string(t)?);
                out.push('\n');
            }
            print!("{out}");
            Ok(())
        }
        SceneCommand::Vocabulary => {
            let words = vocabulary();
            println!("{}", words.into_iter().collect::<Vec<_>>().join("\n"));
            Ok(())
        }
    }
}
