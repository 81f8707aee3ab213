//! `queue-control` messages: the operator's `start` and `stop` commands to workers.
//!
//! Messages are keyed by `queue_id`, so one Queue's commands stay in order on one partition.
//! Each carries a deterministic `command_id`: a worker that sees the same id twice (the operator
//! re-sends only when it crashed between delivery and recording it) acts once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    Start,
    Stop,
    /// The run's producer is done: a sink stores what is left in its topic, then finishes.
    /// Sent by the operator once the main Job has succeeded, so a sink never waits on a
    /// `finished` event that was lost.
    Drain,
}

impl Command {
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Stop => "stop",
            Command::Drain => "drain",
        }
    }
}

/// One command on `queue-control`, as in the original services plus `run` and `command_id`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ControlCommand {
    pub command: Command,
    pub queue_id: String,
    /// Worker family the command is for (`loader-producer`, `arango-connector`, ...).
    pub target: String,
    pub symbol: String,
    #[serde(rename = "type")]
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_range: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_name: Option<String>,
    pub telemetry_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Seconds since the Unix epoch.
    pub timestamp: f64,
    /// Run of the Queue this command belongs to (from 1).
    #[serde(default)]
    pub run: u32,
    /// Deterministic id: `<queue_id>/<run>/<command>/<telemetry_id>`.
    #[serde(default)]
    pub command_id: String,
    /// Target-specific fields (graph_name, epochs, model_type, features, label, loss_fn,
    /// output_type, output_path, ...). Unknown fields are kept, never rejected.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The deterministic id of one command to one worker in one run.
pub fn command_id(queue_id: &str, run: u32, command: Command, telemetry_id: &str) -> String {
    format!("{queue_id}/{run}/{}/{telemetry_id}", command.as_str())
}

impl ControlCommand {
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings, numbers and JSON values always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_original_services_example_and_keeps_extras() {
        let wire = json!({
          "command": "start",
          "queue_id": "gnn-btcusdt-5m-2024_06_01-abc123",
          "target": "gnn-trainer",
          "symbol": "BTCUSDT",
          "type": "gnn_trainer",
          "graph_name": "btc_graph_5m_2024_06_01",
          "epochs": 10,
          "model_type": "GAT",
          "telemetry_id": "gnn-trainer__abc123",
          "image": "registry.dmz.home/streamforge/gnn-trainer:v0.1.0",
          "timestamp": 1722348000.123
        });
        let cmd = ControlCommand::from_json(wire.to_string().as_bytes()).unwrap();
        assert_eq!(cmd.command, Command::Start);
        assert_eq!(cmd.data_type, "gnn_trainer");
        assert_eq!(cmd.run, 0);
        assert_eq!(cmd.extra["epochs"], json!(10));
        assert_eq!(cmd.extra["model_type"], json!("GAT"));
        let back: Value = serde_json::from_slice(&cmd.to_json()).unwrap();
        assert_eq!(back["graph_name"], wire["graph_name"]);
        assert_eq!(back["type"], wire["type"]);
        assert_eq!(back["timestamp"], wire["timestamp"]);
    }

    #[test]
    fn unknown_command_is_an_error_not_a_panic() {
        let err = ControlCommand::from_json(br#"{"command":"explode","queue_id":"q"}"#);
        assert!(err.is_err());
        assert!(ControlCommand::from_json(b"\xff\xfe").is_err());
    }

    #[test]
    fn command_ids_are_deterministic_and_distinct() {
        let a = command_id("q", 1, Command::Start, "loader-producer__abc123");
        assert_eq!(a, "q/1/start/loader-producer__abc123");
        assert_ne!(
            a,
            command_id("q", 2, Command::Start, "loader-producer__abc123")
        );
        assert_ne!(
            a,
            command_id("q", 1, Command::Stop, "loader-producer__abc123")
        );
    }
}
