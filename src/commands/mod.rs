//! The sub-commands of the CLI, one module each.

pub mod bench;
pub mod dataset;
pub mod device;
pub mod eval;
pub mod eval_actions;
pub mod eval_prompting;
pub mod eval_stream;
pub mod generate;
pub mod prompting;
pub mod scene;
pub mod stream;
pub mod train;
pub mod vae;

/// Parses `WxH` (e.g. `128x64`).
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("`{s}` is not WIDTHxHEIGHT (e.g. 128x64)"))?;
    let num = |v: &str| v.trim().parse::<u32>().map_err(|_| format!("`{s}` is not WIDTHxHEIGHT (e.g. 128x64)"));
    Ok((num(w)?, num(h)?))
}
