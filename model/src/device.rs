//! Which compute device the model runs on, chosen at run time (`cpu`, or `wgpu` / `cuda` when
//! compiled in with that feature): the CLI's `--device` and the Bevy plugin's setting.

use std::str::FromStr;

use crate::error::ModelError;

/// Where the model runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ComputeDevice {
    /// burn-flex on the CPU (always available).
    #[default]
    Cpu,
    /// wgpu (Vulkan, Metal, DX12): needs the `wgpu` feature.
    Wgpu,
    /// CUDA: needs the `cuda` feature.
    Cuda,
}

impl FromStr for ComputeDevice {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(ComputeDevice::Cpu),
            "wgpu" | "gpu" => Ok(ComputeDevice::Wgpu),
            "cuda" => Ok(ComputeDevice::Cuda),
            other => Err(ModelError::Config {
                field: "device",
                message: format!("unknown device `{other}`; use cpu, wgpu or cuda"),
            }),
        }
    }
}
