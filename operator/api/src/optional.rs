//! The spec's optional, target-specific fields (pure): one table that gives each its
//! environment variable on the Job and its key in the `start` command, so the two never differ.

use serde_json::Value;

use crate::env;
use crate::queue::QueueSpec;

/// The value of one optional field that is set.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Text(String),
    Number(u32),
    Float(f64),
    List(Vec<String>),
    /// A structured field: compact JSON in the environment, an object in commands.
    Json(Value),
}

impl FieldValue {
    /// As an environment variable: a list is comma-separated.
    pub fn env_value(&self) -> String {
        match self {
            FieldValue::Text(s) => s.clone(),
            FieldValue::Number(n) => n.to_string(),
            FieldValue::Float(x) => x.to_string(),
            FieldValue::List(items) => items.join(","),
            FieldValue::Json(v) => v.to_string(),
        }
    }

    /// As a command field: numbers and lists keep their JSON types.
    pub fn json(&self) -> Value {
        match self {
            FieldValue::Text(s) => Value::from(s.as_str()),
            FieldValue::Number(n) => Value::from(*n),
            FieldValue::Float(x) => Value::from(*x),
            FieldValue::List(items) => Value::from(items.clone()),
            FieldValue::Json(v) => v.clone(),
        }
    }
}

/// One optional field of the spec, by its two wire names.
#[derive(Clone, Copy, Debug)]
pub struct OptionalField {
    /// The worker's environment variable.
    pub env: &'static str,
    /// The key in `queue-control` commands.
    pub key: &'static str,
    /// The field's value in a spec; `None` when it is not set (an empty list counts as unset).
    pub get: fn(&QueueSpec) -> Option<FieldValue>,
}

fn text(v: &Option<String>) -> Option<FieldValue> {
    v.clone().map(FieldValue::Text)
}

/// Every optional field, in the order workers see them.
pub const OPTIONAL_FIELDS: &[OptionalField] = &[
    OptionalField {
        env: env::GRAPH_NAME,
        key: "graph_name",
        get: |s| text(&s.graph_name),
    },
    OptionalField {
        env: env::SYMBOLS,
        key: "symbols",
        get: |s| (!s.symbols.is_empty()).then(|| FieldValue::List(s.symbols.clone())),
    },
    OptionalField {
        env: env::SOURCE_TYPE,
        key: "source_type",
        get: |s| text(&s.source_type),
    },
    OptionalField {
        env: env::GRAPH_SOURCE,
        key: "graph_source",
        get: |s| {
            s.graph_source
                .map(|g| FieldValue::Text(g.as_str().to_owned()))
        },
    },
    OptionalField {
        env: env::LABEL_HORIZON,
        key: "label_horizon",
        get: |s| s.label_horizon.map(FieldValue::Number),
    },
    OptionalField {
        env: env::CORRELATION_WINDOW,
        key: "correlation_window",
        get: |s| s.correlation_window.map(FieldValue::Number),
    },
    OptionalField {
        env: env::CORRELATION_THRESHOLD,
        key: "correlation_threshold",
        get: |s| s.correlation_threshold.map(FieldValue::Float),
    },
    OptionalField {
        env: env::EPOCHS,
        key: "epochs",
        get: |s| s.epochs.map(FieldValue::Number),
    },
    OptionalField {
        env: env::MODEL_TYPE,
        key: "model_type",
        get: |s| {
            s.model_type
                .map(|m| FieldValue::Text(m.as_str().to_owned()))
        },
    },
    OptionalField {
        env: env::FEATURES,
        key: "features",
        get: |s| (!s.features.is_empty()).then(|| FieldValue::List(s.features.clone())),
    },
    OptionalField {
        env: env::LABEL,
        key: "label",
        get: |s| text(&s.label),
    },
    OptionalField {
        env: env::LOSS_FN,
        key: "loss_fn",
        get: |s| text(&s.loss_fn),
    },
    OptionalField {
        env: env::LEARNING_RATE,
        key: "learning_rate",
        get: |s| s.learning_rate.map(FieldValue::Float),
    },
    OptionalField {
        env: env::HIDDEN_SIZE,
        key: "hidden_size",
        get: |s| s.hidden_size.map(FieldValue::Number),
    },
    OptionalField {
        env: env::OUTPUT_TYPE,
        key: "output_type",
        get: |s| text(&s.output_type),
    },
    OptionalField {
        env: env::OUTPUT_PATH,
        key: "output_path",
        get: |s| text(&s.output_path),
    },
    OptionalField {
        env: env::SNAPSHOT_INTERVAL_SECONDS,
        key: "snapshot_interval_seconds",
        get: |s| s.snapshot_interval_seconds.map(FieldValue::Number),
    },
    OptionalField {
        env: env::DEPTH_LIMIT,
        key: "depth_limit",
        get: |s| s.depth_limit.map(FieldValue::Number),
    },
    OptionalField {
        env: env::SOURCE,
        key: "source",
        get: |s| {
            s.source
                .as_ref()
                .and_then(|src| serde_json::to_value(src).ok())
                .map(FieldValue::Json)
        },
    },
];

/// The optional fields `spec` sets, each with its table entry.
pub fn set_fields(spec: &QueueSpec) -> impl Iterator<Item = (&'static OptionalField, FieldValue)> {
    OPTIONAL_FIELDS
        .iter()
        .filter_map(move |f| (f.get)(spec).map(|v| (f, v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::ModelType;
    use serde_json::json;

    fn spec() -> QueueSpec {
        serde_json::from_value(json!({
            "target": "gnn-trainer",
            "symbol": "BTCUSDT",
            "type": "gnn_trainer",
        }))
        .unwrap()
    }

    #[test]
    fn unset_fields_are_left_out() {
        let mut s = spec();
        assert_eq!(set_fields(&s).count(), 0);
        s.features = vec![];
        assert_eq!(set_fields(&s).count(), 0);
    }

    #[test]
    fn each_set_field_has_its_env_and_key() {
        let mut s = spec();
        s.graph_name = Some("g".into());
        s.epochs = Some(10);
        s.model_type = Some(ModelType::Gat);
        s.features = vec!["rsi".into(), "vol".into()];
        s.output_path = Some("s3://out".into());
        let got: Vec<(&str, &str, String, Value)> = set_fields(&s)
            .map(|(f, v)| (f.env, f.key, v.env_value(), v.json()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("GRAPH_NAME", "graph_name", "g".into(), json!("g")),
                ("EPOCHS", "epochs", "10".into(), json!(10)),
                ("MODEL_TYPE", "model_type", "GAT".into(), json!("GAT")),
                (
                    "FEATURES",
                    "features",
                    "rsi,vol".into(),
                    json!(["rsi", "vol"])
                ),
                (
                    "OUTPUT_PATH",
                    "output_path",
                    "s3://out".into(),
                    json!("s3://out")
                ),
            ]
        );
    }

    #[test]
    fn keys_are_the_snake_case_of_the_env_names() {
        for f in OPTIONAL_FIELDS {
            assert_eq!(f.key.to_uppercase(), f.env);
        }
    }
}
