//! Weight files of a model folder, shared by the VAE and the DiT: a JSON description and an f16
//! record written into a staging folder and each renamed over its old version (a reader never
//! sees half a file, and the folder's other files stay), and loading that checks every
//! parameter's shape against the description's config.

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::record::{HalfPrecisionSettings, NamedMpkFileRecorder};
use serde::Serialize;
use worldsim_scenes::MediaError;
use worldsim_scenes::media::write_dir_atomic;

use crate::error::ModelError;

/// An error about `path`.
pub(crate) fn weights_err(path: &Path, message: impl ToString) -> ModelError {
    ModelError::Weights { path: path.display().to_string(), message: message.to_string() }
}

impl From<MediaError> for ModelError {
    fn from(e: MediaError) -> Self {
        ModelError::Weights { path: String::new(), message: e.to_string() }
    }
}

struct Shapes(Vec<Vec<usize>>);

impl<B: Backend> ModuleVisitor<B> for Shapes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.push(param.shape().dims::<D>().to_vec());
    }
}

/// The shape of every float parameter of a module, in visiting order.
fn shapes<B: Backend, M: Module<B>>(m: &M) -> Vec<Vec<usize>> {
    let mut s = Shapes(Vec::new());
    m.visit(&mut s);
    s.0
}

/// Writes `meta` as JSON to `dir/meta_name` and `module` as f16 to `dir/weights_name`, each
/// replaced whole.
pub(crate) fn save_model_files<B: Backend, M: Module<B>>(
    dir: &Path,
    meta_name: &str,
    meta: &impl Serialize,
    weights_name: &str,
    module: &M,
) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|e| weights_err(dir, e))?;
    let staging = dir.join(format!(".{meta_name}-staging-{}", std::process::id()));
    write_dir_atomic(&staging, |tmp: &Path| -> Result<(), ModelError> {
        let json = serde_json::to_string_pretty(meta).map_err(|e| weights_err(&dir.join(meta_name), e))?;
        std::fs::write(tmp.join(meta_name), json + "\n").map_err(|e| weights_err(&dir.join(meta_name), e))?;
        module
            .clone()
            .save_file(tmp.join(weights_name), &NamedMpkFileRecorder::<HalfPrecisionSettings>::new())
            .map_err(|e| weights_err(&dir.join(weights_name), e))
    })?;
    let moved = [weights_name, meta_name].iter().try_for_each(|name| {
        std::fs::rename(staging.join(name), dir.join(name)).map_err(|e| weights_err(&dir.join(name), e))
    });
    let _ = std::fs::remove_dir_all(&staging);
    moved
}

/// Loads the f16 record `weights` into `fresh` (built from `meta_name`'s config) and checks that
/// every parameter kept the shape the config gives it.
pub(crate) fn load_checked<B: Backend, M: Module<B>>(
    fresh: M,
    weights: &Path,
    meta_name: &str,
    device: &B::Device,
) -> Result<M, ModelError> {
    if !weights.is_file() {
        let name = weights.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        return Err(weights_err(weights, format!("missing; the folder needs {meta_name} and {name}")));
    }
    let expected = shapes(&fresh);
    let model =
        fresh.load_file(weights.to_path_buf(), &NamedMpkFileRecorder::<HalfPrecisionSettings>::new(), device).map_err(
            |e| weights_err(weights, format!("cannot load ({e}); the file is corrupt or for another config")),
        )?;
    let got = shapes(&model);
    if got != expected {
        let i = got.iter().zip(&expected).position(|(a, b)| a != b).unwrap_or(got.len().min(expected.len()));
        return Err(weights_err(
            weights,
            format!(
                "weight #{i} has shape {:?} but {meta_name}'s config needs {:?}; the weights and the config do not match",
                got.get(i),
                expected.get(i)
            ),
        ));
    }
    Ok(model)
}

/// The shipped model folder: `assets/models/tiny` under the working directory when it exists
/// there (a checkout or an installed game's folder), else the one this crate was built next to.
pub fn shipped_model_dir() -> std::path::PathBuf {
    let local = std::path::PathBuf::from("assets/models/tiny");
    if local.join("dit.json").exists() {
        local
    } else {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/models/tiny")
    }
}
