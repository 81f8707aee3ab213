//! Listening on `queue-control` for this worker's commands.
//!
//! A worker consumes from the earliest offset and never commits, so a `start` sent before its
//! pod came up is still seen, and a pod the Job retries sees its run's `start` again. It acts
//! only on commands for its queue id, telemetry id and run (a run-2 worker reads run 1's `start`
//! and `stop` on its way and skips them), and once per `command_id` (the operator may re-send
//! after a crash).

use std::collections::HashSet;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use streamforge_api::{Command, ControlCommand};
use tracing::{debug, warn};

use crate::kafka::ErrorLog;

pub struct ControlListener {
    consumer: StreamConsumer,
    queue_id: String,
    telemetry_id: String,
    run: u32,
    seen: HashSet<String>,
    errors: ErrorLog,
}

/// Does this command concern this worker of `run`? A command of another run never does.
pub fn is_for(cmd: &ControlCommand, queue_id: &str, telemetry_id: &str, run: u32) -> bool {
    cmd.queue_id == queue_id
        && cmd.run == run
        && (cmd.telemetry_id.is_empty() || cmd.telemetry_id == telemetry_id)
}

impl ControlListener {
    pub fn new(
        consumer: StreamConsumer,
        topic: &str,
        queue_id: &str,
        telemetry_id: &str,
        run: u32,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        consumer.subscribe(&[topic])?;
        Ok(Self {
            consumer,
            queue_id: queue_id.to_owned(),
            telemetry_id: telemetry_id.to_owned(),
            run,
            seen: HashSet::new(),
            errors: ErrorLog::default(),
        })
    }

    /// The next command for this worker, skipping others' and repeats. `None` when the consumer
    /// fails for good.
    pub async fn next(&mut self) -> Option<ControlCommand> {
        loop {
            let msg = match self.consumer.recv().await {
                Ok(m) => m,
                Err(e) => {
                    if let Some(more) = self.errors.note(std::time::Instant::now()) {
                        warn!(error = %e, more, "queue-control consumer error");
                    }
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
            if !is_for(&cmd, &self.queue_id, &self.telemetry_id, self.run) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cmd(command: Command, run: u32, telemetry_id: &str) -> ControlCommand {
        ControlCommand {
            command,
            queue_id: "q".into(),
            target: "dummy-service".into(),
            symbol: "BTCUSDT".into(),
            data_type: "dummy".into(),
            time_range: None,
            kafka_topic: None,
            collection_name: None,
            telemetry_id: telemetry_id.into(),
            image: None,
            timestamp: 1.0,
            run,
            command_id: String::new(),
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn a_worker_takes_only_its_own_runs_commands() {
        let tid = "dummy-service__a1b2c3";
        assert!(is_for(&cmd(Command::Start, 2, tid), "q", tid, 2));
        assert!(is_for(&cmd(Command::Stop, 2, ""), "q", tid, 2));
        // Run 1's start and stop are still in the topic when run 2's worker reads it.
        assert!(!is_for(&cmd(Command::Start, 1, tid), "q", tid, 2));
        assert!(!is_for(&cmd(Command::Stop, 1, tid), "q", tid, 2));
        // A command without a run (the seeds' shape) names no run of this worker.
        assert!(!is_for(&cmd(Command::Start, 0, tid), "q", tid, 1));
        assert!(!is_for(
            &cmd(Command::Start, 2, "other__a1b2c3"),
            "q",
            tid,
            2
        ));
        assert!(!is_for(&cmd(Command::Start, 2, tid), "other-q", tid, 2));
    }
}
