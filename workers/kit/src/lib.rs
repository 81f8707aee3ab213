//! The worker kit: what the operator and every worker share beyond the wire contract: Kafka
//! client configuration, the worker's environment, command listening, telemetry, and the one
//! lifecycle every worker run follows (`lifecycle`).

pub mod control;
pub mod kafka;
pub mod lifecycle;
pub mod logging;
pub mod metrics_server;
pub mod shutdown;
pub mod telemetry;
pub mod testing;
pub mod topics;
pub mod worker_env;

pub use kafka::{KafkaConfigError, KafkaSettings, Security};
pub use lifecycle::{Ending, Failure, Start, WorkerRun};
pub use worker_env::WorkerEnv;
