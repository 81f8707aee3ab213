//! The worker kit: what the operator and every worker share beyond the wire contract: Kafka
//! client configuration, the worker's environment, command listening and telemetry.

pub mod control;
pub mod kafka;
pub mod telemetry;
pub mod testing;
pub mod topics;
pub mod worker_env;

pub use kafka::{KafkaConfigError, KafkaSettings, Security};
pub use worker_env::WorkerEnv;
