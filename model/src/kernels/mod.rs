//! Fused CPU kernels for the hot path. The model calls these functions in place of burn's plain
//! ops; on burn-flex (with or without autodiff) they run one vectorised, multi-threaded pass with
//! a fused backward, and on every other backend they are exactly the plain burn ops. See
//! `docs/PERFORMANCE.md` for what each one buys and how it was measured.

mod adamw;
mod attention;
mod concat;
mod conv;
mod conv_planes;
mod gelu;
mod gemm;
mod group_norm;
mod heads;
mod linear;
mod node;
mod norm;
mod residual;
mod rope;
pub mod route;
mod storage;
mod upsample_conv;
pub mod vector;

pub use adamw::{AdamWStep, adamw_update, adamw_update_plain};
pub use attention::attention;
pub use concat::cat;
pub use conv::conv3d;
pub use gelu::gelu;
pub use group_norm::{group_norm_silu, group_norm_silu_plain};
pub use heads::{merge_heads, merge_heads_plain};
pub use linear::linear;
pub use norm::{layer_norm, layer_norm_plain, rms_norm, rms_norm_plain};
pub use residual::gated_residual;
pub use rope::{rope, rope_plain};
pub use upsample_conv::{upsample2x, upsample2x_conv3d};
