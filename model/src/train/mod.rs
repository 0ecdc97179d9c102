//! Training machinery shared by every model: ordered background data, the learning-rate
//! schedule, EMA weights, atomic resumable checkpoints, and metrics.

pub mod adamw;
pub mod checkpoint;
pub mod data;
pub mod ema;
pub mod focus;
pub mod metrics;
pub mod plot;
pub mod run;
pub mod schedule;

pub use adamw::{FusedAdamW, FusedAdamWConfig};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use data::OrderedProducer;
pub use ema::Ema;
pub use metrics::MetricsLog;
pub use run::{Stop, TrainSummary};
pub use schedule::LrSchedule;
