//! The run's report: `metrics.json` in full, and the fields of the `finished` event (a contract
//! with the operator, which folds them into the Queue's status: `test_accuracy`,
//! `val_accuracy`, `best_epoch`, `baseline_majority_accuracy`, `baseline_logistic_accuracy`,
//! `beats_baselines`, `model_path`, `metrics_path`, `model_type`, `device`).

use serde::Serialize;
use serde_json::{Value, json};

use crate::session::Timings;
use crate::trainer::EpochRecord;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub model_type: String,
    pub device: String,
    pub graph: Value,
    pub label: String,
    pub loss_fn: String,
    pub features: Vec<String>,
    pub feature_mean: Vec<f64>,
    pub feature_std: Vec<f64>,
    pub parameters: Value,
    pub split: Value,
    pub epochs_done: usize,
    pub best_epoch: usize,
    pub train_accuracy: f64,
    pub val_accuracy: f64,
    pub test_accuracy: f64,
    pub baseline_majority_accuracy: f64,
    pub baseline_majority_class: i64,
    pub baseline_logistic_accuracy: f64,
    pub beats_baselines: bool,
    pub labelled_nodes: usize,
    pub resumed_from: Option<usize>,
    pub resume_note: Option<String>,
    pub mean_epoch_ms: f64,
    pub timings: Timings,
    pub history: Vec<EpochRecord>,
    pub model_path: String,
    pub metrics_path: String,
    pub created_at: String,
}

impl Report {
    /// The `finished` event's extras.
    pub fn finished_extra(&self) -> Value {
        json!({
            "test_accuracy": self.test_accuracy,
            "val_accuracy": self.val_accuracy,
            "best_epoch": self.best_epoch,
            "baseline_majority_accuracy": self.baseline_majority_accuracy,
            "baseline_logistic_accuracy": self.baseline_logistic_accuracy,
            "beats_baselines": self.beats_baselines,
            "model_path": self.model_path,
            "metrics_path": self.metrics_path,
            "model_type": self.model_type,
            "device": self.device,
        })
    }

    /// The `finished` message: the test accuracies, and plainly whether the GNN beat both
    /// baselines.
    pub fn message(&self) -> String {
        let pct = |v: f64| format!("{:.1} %", v * 100.0);
        format!(
            "{} test accuracy {} (best epoch {}, validation {}); baselines: majority {}, logistic regression {}; the GNN {} both baselines",
            self.model_type,
            pct(self.test_accuracy),
            self.best_epoch,
            pct(self.val_accuracy),
            pct(self.baseline_majority_accuracy),
            pct(self.baseline_logistic_accuracy),
            if self.beats_baselines {
                "beats"
            } else {
                "does not beat"
            },
        )
    }
}
