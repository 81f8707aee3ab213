//! Results a worker reports in its events' extra fields (pure), folded into typed status blocks:
//! a trainer's epochs and test metrics (`status.training`), a graph's size and place
//! (`status.graph`), a report's `output_path`.
//!
//! The field names are the workers' contract (snake_case on the wire). Each event may carry any
//! subset; a field it carries replaces the one before, a field it leaves out stays. What an
//! event may put in status is bounded like the rest of the fold: numbers must be finite (an
//! accuracy is clamped to 0..1), counts fit the API's integers, texts are cut.

use std::collections::BTreeMap;

use serde_json::Value;
use streamforge_api::{GraphStatus, TrainingStatus};

/// Longest path or word kept from an event (bytes).
pub const MAX_TEXT: usize = 512;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Results {
    pub training: Option<TrainingStatus>,
    pub graph: Option<GraphStatus>,
    pub output_path: Option<String>,
}

fn finite(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

fn fraction(v: &Value) -> Option<f64> {
    finite(v).map(|x| x.clamp(0.0, 1.0))
}

fn count32(v: &Value) -> Option<u32> {
    v.as_u64().map(|n| n.min(u32::MAX as u64) as u32)
}

fn count64(v: &Value) -> Option<u64> {
    v.as_u64().map(|n| n.min(i64::MAX as u64))
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(|s| crate::fold::cut(s, MAX_TEXT))
}

/// `slot` takes `value` when the event carried a usable one.
fn put<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

impl Results {
    /// Fold one event's extra fields in.
    pub fn merge(&mut self, extra: &BTreeMap<String, Value>) {
        let get = |k: &str| extra.get(k);
        let trained = [
            "epoch",
            "epochs",
            "loss",
            "train_accuracy",
            "val_accuracy",
            "best_val_accuracy",
            "test_accuracy",
            "model_path",
        ]
        .iter()
        .any(|k| extra.contains_key(*k));
        if trained {
            let t = self.training.get_or_insert_with(TrainingStatus::default);
            put(&mut t.epoch, get("epoch").and_then(count32));
            put(&mut t.epochs, get("epochs").and_then(count32));
            put(&mut t.loss, get("loss").and_then(finite));
            put(
                &mut t.train_accuracy,
                get("train_accuracy").and_then(fraction),
            );
            put(&mut t.val_accuracy, get("val_accuracy").and_then(fraction));
            put(
                &mut t.best_val_accuracy,
                get("best_val_accuracy").and_then(fraction),
            );
            put(&mut t.best_epoch, get("best_epoch").and_then(count32));
            put(
                &mut t.test_accuracy,
                get("test_accuracy").and_then(fraction),
            );
            put(
                &mut t.baseline_majority_accuracy,
                get("baseline_majority_accuracy").and_then(fraction),
            );
            put(
                &mut t.baseline_logistic_accuracy,
                get("baseline_logistic_accuracy").and_then(fraction),
            );
            put(
                &mut t.beats_baselines,
                get("beats_baselines").and_then(Value::as_bool),
            );
            put(&mut t.model_type, get("model_type").and_then(text));
            put(&mut t.device, get("device").and_then(text));
            put(&mut t.model_path, get("model_path").and_then(text));
            put(&mut t.metrics_path, get("metrics_path").and_then(text));
        }
        if ["nodes", "edges", "graph_path"]
            .iter()
            .any(|k| extra.contains_key(*k))
        {
            let g = self.graph.get_or_insert_with(GraphStatus::default);
            put(&mut g.graph_name, get("graph_name").and_then(text));
            put(&mut g.nodes, get("nodes").and_then(count64));
            put(&mut g.edges, get("edges").and_then(count64));
            put(&mut g.graph_path, get("graph_path").and_then(text));
        }
        put(&mut self.output_path, get("output_path").and_then(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn extra(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn epochs_then_the_final_metrics_fill_the_training_block() {
        let mut r = Results::default();
        r.merge(&extra(json!({"epoch": 1, "epochs": 20, "loss": 0.69,
            "train_accuracy": 0.5, "val_accuracy": 0.52, "best_val_accuracy": 0.52})));
        r.merge(&extra(json!({"epoch": 2, "epochs": 20, "loss": 0.61,
            "train_accuracy": 0.6, "val_accuracy": 0.5, "best_val_accuracy": 0.52,
            "model_path": "s3://b/models/g/q/checkpoint.pt"})));
        r.merge(&extra(json!({"test_accuracy": 0.58, "best_epoch": 1,
            "baseline_majority_accuracy": 0.51, "baseline_logistic_accuracy": 0.55,
            "beats_baselines": true, "model_type": "GAT", "device": "cpu"})));
        let t = r.training.unwrap();
        assert_eq!(t.epoch, Some(2));
        assert_eq!(t.epochs, Some(20));
        assert_eq!(t.loss, Some(0.61));
        assert_eq!(t.val_accuracy, Some(0.5));
        assert_eq!(t.best_val_accuracy, Some(0.52));
        assert_eq!(t.test_accuracy, Some(0.58));
        assert_eq!(t.baseline_logistic_accuracy, Some(0.55));
        assert_eq!(t.beats_baselines, Some(true));
        assert_eq!(
            t.model_path.as_deref(),
            Some("s3://b/models/g/q/checkpoint.pt")
        );
        assert!(r.graph.is_none());
    }

    #[test]
    fn hostile_values_are_clamped_dropped_or_cut() {
        let mut r = Results::default();
        r.merge(&extra(
            json!({"epoch": 1u64 << 40, "loss": "NaN", "val_accuracy": 7.5,
            "train_accuracy": -1, "model_path": "x".repeat(5000), "beats_baselines": "yes"}),
        ));
        let t = r.training.unwrap();
        assert_eq!(t.epoch, Some(u32::MAX));
        assert_eq!(t.loss, None);
        assert_eq!(t.val_accuracy, Some(1.0));
        assert_eq!(t.train_accuracy, Some(0.0));
        assert!(t.model_path.unwrap().len() <= MAX_TEXT + 3);
        assert_eq!(t.beats_baselines, None);
    }

    #[test]
    fn a_graph_and_an_output_path_have_their_own_blocks() {
        let mut r = Results::default();
        r.merge(&extra(
            json!({"nodes": 576, "edges": 1700, "graph_name": "g",
            "graph_path": "s3://lake/graphs/g/"}),
        ));
        r.merge(&extra(json!({"output_path": "s3://visuals/report.html"})));
        let g = r.graph.clone().unwrap();
        assert_eq!((g.nodes, g.edges), (Some(576), Some(1700)));
        assert_eq!(g.graph_path.as_deref(), Some("s3://lake/graphs/g/"));
        assert_eq!(r.output_path.as_deref(), Some("s3://visuals/report.html"));
        assert!(r.training.is_none());
        // Events with none of these fields change nothing.
        let before = r.clone();
        r.merge(&extra(json!({"symbol": "BTCUSDT", "progress_note": 3})));
        assert_eq!(r, before);
    }
}
