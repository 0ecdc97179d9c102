//! `--device cpu|wgpu|cuda`: which burn backend a command runs on. GPU backends exist only when
//! the binary was built with the `wgpu` or `cuda` feature; asking for a missing one says how to
//! get it.

/// The device kinds `--device` accepts (the model crate's, so the CLI and the plugin parse the
/// same names).
pub use worldsim_model::ComputeDevice as DeviceKind;

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
