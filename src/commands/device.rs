//! `--device cpu|wgpu|cuda`: which burn backend a command runs on. GPU backends exist only when
//! the binary was built with the `wgpu` or `cuda` feature; asking for a missing one says how to
//! get it.

use std::str::FromStr;

/// A compute device kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// burn-flex on the CPU (always available).
    Cpu,
    /// wgpu (Vulkan, Metal, DX12) — feature `wgpu`.
    Wgpu,
    /// CUDA — feature `cuda`.
    Cuda,
}

impl FromStr for DeviceKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceKind::Cpu),
            "wgpu" | "gpu" => Ok(DeviceKind::Wgpu),
            "cuda" => Ok(DeviceKind::Cuda),
            other => Err(format!("unknown device `{other}`; use cpu, wgpu or cuda")),
        }
    }
}

/// Runs `$body` with the type `$b` bound to the inference backend of `$kind`.
#[macro_export]
macro_rules! with_backend {
    ($kind:expr, |$b:ident| $body:expr) => {
        match $kind {
            $crate::commands::device::DeviceKind::Cpu => {
                type $b = worldsim_model::Cpu;
                $body
            }
            #[cfg(feature = "wgpu")]
            $crate::commands::device::DeviceKind::Wgpu => {
                type $b = burn::backend::Wgpu;
                $body
            }
            #[cfg(feature = "cuda")]
            $crate::commands::device::DeviceKind::Cuda => {
                type $b = burn::backend::Cuda;
                $body
            }
            #[allow(unreachable_patterns)]
            other => {
                let name = format!("{other:?}").to_ascii_lowercase();
                anyhow::bail!("--device {name} is not compiled into this binary; rebuild with `cargo build --release --features {name}`")
            }
        }
    };
}
