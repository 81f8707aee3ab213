//! The worker kit: what the operator and every worker share beyond the wire contract.
//!
//! For now, Kafka client configuration and the clients built from it.

pub mod kafka;

pub use kafka::{KafkaConfigError, KafkaSettings, Security};
