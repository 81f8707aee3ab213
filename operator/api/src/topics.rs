//! Names of the two service topics every part of StreamForge shares.

/// Commands from the operator to workers (`start`, `stop`). Keyed by `queue_id`.
pub const QUEUE_CONTROL: &str = "queue-control";
/// Telemetry from every worker to the operator. Keyed by `queue_id`.
pub const QUEUE_EVENTS: &str = "queue-events";
