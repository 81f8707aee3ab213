//! `Queue.status`: what users read with `kubectl get queues`.
//!
//! Two field managers write it through server-side apply and never touch each other's fields:
//! the reconciler (phase, conditions, identity, run bookkeeping, message) and the telemetry
//! folder (producers, recordsWritten, progress, lastEventTime).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde::{Deserialize, Serialize};

/// Most producers listed in `status.producers`; a Queue has one main worker and a few sinks.
pub const MAX_PRODUCERS: usize = 16;

/// Lifecycle of a Queue.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum Phase {
    /// Accepted; Jobs are being created or their pods scheduled.
    Pending,
    /// Waits for the Queues in `spec.after` to succeed; no Job exists yet.
    Waiting,
    /// A worker started.
    Running,
    /// Every Job of the run finished.
    Succeeded,
    /// A Job failed, a worker reported an error, or the spec cannot run.
    Failed,
    /// Suspended by the user; a resume starts a new run.
    Stopped,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Waiting => "Waiting",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
            Phase::Stopped => "Stopped",
        }
    }

    /// Succeeded and Failed end a Queue; nothing restarts it.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Identifier on the wire, e.g. wf-btcusdt-api_candles_5m-20240801-a1b2c3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// Telemetry id of the main worker, e.g. loader-producer__a1b2c3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry_id: Option<String>,
    /// Name of the main worker's Job in the current run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// Current run, from 1; a resume after suspend starts the next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u32>,
    /// The run whose `start` commands were delivered to queue-control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_sent_run: Option<u32>,
    /// The run whose `stop` commands were delivered to queue-control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sent_run: Option<u32>,
    /// The run whose sinks were told to `drain` (its main Job had succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_sent_run: Option<u32>,
    /// Jobs of the current run seen complete. A Job its TTL removed afterwards is not created
    /// again: its run is over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub succeeded_jobs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// Human-readable summary of the current state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    // Fields below are written by the telemetry folder.
    /// Records the main worker reported written (never decreases within a run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_written: Option<u64>,
    /// Progress of the main worker, e.g. 42%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Time of the newest telemetry event folded in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_time: Option<Time>,
    /// What a gnn-trainer reported: epochs as they pass, then test metrics beside baselines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingStatus>,
    /// What a graph-builder reported: the graph's size and where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphStatus>,
    /// Where a worker wrote its output (a visualizer's report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_path: Option<String>,
    /// One entry per worker of the run, bounded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["telemetryId"]))]
    pub producers: Vec<ProducerSummary>,
}

/// What one worker (telemetry id) last reported.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProducerSummary {
    pub telemetry_id: String,
    /// Last status the worker reported (started, loading, finished, error, ...).
    pub status: String,
    pub records_written: u64,
    /// Fraction done, 0 to 1, when the worker reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_time: Option<Time>,
    /// The worker reported a final state (finished, error or stopped).
    #[serde(default)]
    pub finished: bool,
    /// Run these reports belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u32>,
}

/// A training run as its worker reported it (`training` and `finished` events).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrainingStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u32>,
    /// Training loss of the last epoch reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_val_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_epoch: Option<u32>,
    /// Test accuracy of the model with the best validation accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    /// Test accuracy of always answering the training split's majority class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_majority_accuracy: Option<f64>,
    /// Test accuracy of a graph-free logistic regression on the same features and split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_logistic_accuracy: Option<f64>,
    /// Whether the model beat both baselines on the test split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beats_baselines: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The checkpoint, e.g. s3://bucket/models/<graph>/<queue id>/checkpoint.pt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_path: Option<String>,
}

/// A graph as graph-builder reported it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edges: Option<u64>,
    /// Where the graph's files are, e.g. s3://bucket/graphs/<name>/.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_path: Option<String>,
}

impl QueueStatus {
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}
