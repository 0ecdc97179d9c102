//! `worldsim`: the command-line tool. Each sub-command lives in its own module under
//! `commands/`; this file only declares the command line and dispatches.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;

/// worldsim: a Sora-style video world simulator. Render the ground-truth world, make datasets,
/// train the video VAE and the diffusion transformer, generate videos from prompts.
#[derive(Parser)]
#[command(name = "worldsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render scenes, print their ground truth, list their vocabulary.
    #[command(subcommand)]
    Scene(commands::scene::SceneCommand),
    /// Make and check datasets of clips.
    #[command(subcommand)]
    Dataset(commands::dataset::DatasetCommand),
    /// Train models.
    #[command(subcommand)]
    Train(commands::train::TrainCommand),
    /// Use the video VAE: round-trip videos, export trained weights.
    #[command(subcommand)]
    Vae(commands::vae::VaeCommand),
    /// Generate a video (or, with --frames 1, an image) from a prompt.
    Generate(commands::generate::GenerateArgs),
    /// The diffusion transformer: export trained weights, draw a grid of samples.
    #[command(subcommand)]
    Dit(commands::generate::DitCommand),
    /// Measure models against the ground truth of the world.
    #[command(subcommand)]
    Eval(commands::eval::EvalCommand),
    /// Time the networks on the CPU (optionally against a PyTorch reference).
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
    /// Prompts: expand a short prompt into a descriptive caption.
    #[command(subcommand)]
    Prompt(commands::generate::PromptCommand),
    /// Image-to-video: animate a still image.
    Animate(commands::prompting::AnimateArgs),
    /// Continue a video after its end (--forward N) or invent what came before (--backward N).
    Extend(commands::prompting::ExtendArgs),
    /// A seamless loop from a prompt, or close an existing video (--video) into one.
    Loop(commands::prompting::LoopArgs),
    /// SDEdit video-to-video: 0 returns the input, 1 ignores it.
    Edit(commands::prompting::EditArgs),
    /// A clip that starts as one video ends and ends as another starts.
    Connect(commands::prompting::ConnectArgs),
    /// World-simulator streaming: extend a video frame after frame, steered by actions.
    Stream(commands::stream::StreamArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Every command drives the model from one of rayon's workers (see `threads`).
    worldsim_model::threads::on_compute_pool(|| run_cli(cli))
}

fn run_cli(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Scene(c) => commands::scene::run(c),
        Command::Dataset(c) => commands::dataset::run(c),
        Command::Train(c) => commands::train::run(c),
        Command::Vae(c) => commands::vae::run(c),
        Command::Generate(a) => commands::generate::run_generate(a),
        Command::Dit(c) => commands::generate::run_dit(c),
        Command::Prompt(c) => commands::generate::run_prompt(c),
        Command::Eval(c) => commands::eval::run(c),
        Command::Bench(c) => commands::bench::run(c),
        Command::Animate(a) => commands::prompting::run_animate(a),
        Command::Extend(a) => commands::prompting::run_extend(a),
        Command::Loop(a) => commands::prompting::run_loop(a),
        Command::Edit(a) => commands::prompting::run_edit(a),
        Command::Connect(a) => commands::prompting::run_connect(a),
        Command::Stream(a) => commands::stream::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
