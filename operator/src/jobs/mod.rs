//! Build (pure): a Queue's workers for one run, their batch/v1 Jobs, and their commands.
//!
//! A run has one main worker and one companion Job per sink, all under the Queue's `queue_id`
//! and each with its own telemetry id. Jobs carry an owner reference to the Queue (so the
//! garbage collector removes them with it) and labels that tie them to the Queue and run.
//!
//! ```text
//!  Queue + Identity ─► roster.rs  (the run's workers: role, telemetry id, Job name, image)
//!                       ├─► job.rs   (a batch/v1 Job per worker: labels, owner, limits, pod)
//!                       │     └─► env.rs (the worker's environment: contract names, Secrets)
//!                       └─► command.rs (the worker's `start`/`stop` on queue-control)
//! ```

mod command;
mod env;
mod job;
mod roster;

pub use command::command;
pub use job::build_job;
pub use roster::{Role, Worker, workers};

pub const LABEL_QUEUE: &str = "streamforge.io/queue";
pub const LABEL_QUEUE_UID: &str = "streamforge.io/queue-uid";
pub const LABEL_RUN: &str = "streamforge.io/run";
pub const LABEL_ROLE: &str = "streamforge.io/role";
pub const ANNOTATION_QUEUE_ID: &str = "streamforge.io/queue-id";
pub const ANNOTATION_TELEMETRY_ID: &str = "streamforge.io/telemetry-id";
pub const MANAGED_BY: &str = "streamforge-operator";
/// Where the Kafka CA bundle is mounted in worker pods when one is configured.
pub const KAFKA_CA_DIR: &str = "/etc/streamforge/kafka-ca";

/// Labels that select every Job of a Queue (all runs).
pub fn queue_selector(uid: &str) -> String {
    format!("{LABEL_QUEUE_UID}={uid}")
}
