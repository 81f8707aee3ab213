//! Listening on `queue-control` for this worker's commands.
//!
//! A worker consumes with its telemetry id as group id from the earliest offset, so a `start`
//! sent before its pod came up is still seen. It acts only on commands for its queue id and
//! telemetry id, and once per `command_id` (the operator may re-send after a crash).

use std::collections::HashSet;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use streamforge_api::{Command, ControlCommand};
use tracing::{debug, warn};

pub struct ControlListener {
    consumer: StreamConsumer,
    queue_id: String,
    telemetry_id: String,
    seen: HashSet<String>,
}

/// Does this command concern this worker?
pub fn is_for(cmd: &ControlCommand, queue_id: &str, telemetry_id: &str) -> bool {
    cmd.queue_id == queue_id && (cmd.telemetry_id.is_empty() || cmd.telemetry_id == telemetry_id)
}

impl ControlListener {
    pub fn new(
        consumer: StreamConsumer,
        topic: &str,
        queue_id: &str,
        telemetry_id: &str,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        consumer.subscribe(&[topic])?;
        Ok(Self {
            consumer,
            queue_id: queue_id.to_owned(),
            telemetry_id: telemetry_id.to_owned(),
            seen: HashSet::new(),
        })
    }

    /// The next command for this worker, skipping others' and repeats. `None` when the consumer
    /// fails for good.
    pub async fn next(&mut self) -> Option<ControlCommand> {
        loop {
            let msg = match self.consumer.recv().await {
                Ok(m) => m,
                Err(e) => {
                    warn!(error = %e, "queue-control consumer error");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            let Some(payload) = msg.payload() else {
                continue;
            };
            let cmd = match ControlCommand::from_json(payload) {
                Ok(c) => c,
                Err(e) => {
                    debug!(error = %e, "malformed command skipped");
                    continue;
                }
            };
            if !is_for(&cmd, &self.queue_id, &self.telemetry_id) {
                continue;
            }
            let id = if cmd.command_id.is_empty() {
                format!("{}/{}/{}", cmd.queue_id, cmd.run, cmd.command.as_str())
            } else {
                cmd.command_id.clone()
            };
            if !self.seen.insert(id) {
                continue;
            }
            return Some(cmd);
        }
    }

    /// Wait for `command`; other commands for this worker are returned as errors.
    pub async fn wait_for(
        &mut self,
        command: Command,
    ) -> Option<Result<ControlCommand, ControlCommand>> {
        let cmd = self.next().await?;
        Some(if cmd.command == command {
            Ok(cmd)
        } else {
            Err(cmd)
        })
    }
}
