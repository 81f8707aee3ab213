//! The trainer's settings, read once from the worker environment (the names in
//! `streamforge_api::env`, set by the operator from the Queue) and validated before any I/O.
//! Every error is a permanent one: retrying a bad setting cannot help.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use streamforge_api::env;

/// `DEVICE`: `cpu`, `cuda` (or `cuda:N`) or unset (CUDA when available).
pub const DEVICE: &str = "DEVICE";
/// `SEED`: the seed of weight initialisation and dropout (default [`DEFAULT_SEED`]).
pub const SEED: &str = "SEED";

pub const DEFAULT_EPOCHS: usize = 100;
pub const DEFAULT_LABEL: &str = "price_up";
pub const DEFAULT_LEARNING_RATE: f64 = 0.01;
pub const DEFAULT_HIDDEN: usize = 32;
pub const DEFAULT_SEED: i64 = 42;
/// The most epochs a Queue may ask for: a run is minutes, not days.
pub const MAX_EPOCHS: usize = 100_000;
pub const MAX_HIDDEN: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ModelType {
    #[serde(rename = "GCN")]
    Gcn,
    #[serde(rename = "GAT")]
    Gat,
    #[serde(rename = "GraphSAGE")]
    Sage,
}

impl ModelType {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelType::Gcn => "GCN",
            ModelType::Gat => "GAT",
            ModelType::Sage => "GraphSAGE",
        }
    }
}

impl fmt::Display for ModelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelType {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gcn" => Ok(ModelType::Gcn),
            "gat" => Ok(ModelType::Gat),
            "graphsage" | "sage" => Ok(ModelType::Sage),
            _ => Err(ConfigError::Invalid {
                name: env::MODEL_TYPE,
                reason: format!("{s:?} is not a model type (GCN, GAT, GraphSAGE)"),
            }),
        }
    }
}

/// The training loss. `Ce` and `Focal` use two logits per node, `Bce` one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LossFn {
    #[serde(rename = "CE")]
    Ce,
    #[serde(rename = "BCE")]
    Bce,
    #[serde(rename = "focal")]
    Focal,
}

impl LossFn {
    pub fn as_str(self) -> &'static str {
        match self {
            LossFn::Ce => "CE",
            LossFn::Bce => "BCE",
            LossFn::Focal => "focal",
        }
    }

    /// Logits per node.
    pub fn outputs(self) -> i64 {
        match self {
            LossFn::Bce => 1,
            LossFn::Ce | LossFn::Focal => 2,
        }
    }
}

impl FromStr for LossFn {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ce" | "cross_entropy" | "crossentropy" => Ok(LossFn::Ce),
            "bce" => Ok(LossFn::Bce),
            "focal" => Ok(LossFn::Focal),
            _ => Err(ConfigError::Invalid {
                name: env::LOSS_FN,
                reason: format!("{s:?} is not a loss (CE, BCE, focal)"),
            }),
        }
    }
}

/// Where to train: a choice, resolved against the machine by `training::device`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceChoice {
    /// CUDA when available, else the CPU.
    Auto,
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "" | "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| ConfigError::Invalid {
                    name: DEVICE,
                    reason: format!("{s:?} is not a device (cpu, cuda, cuda:N)"),
                }),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// What one training run is asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    pub graph_name: String,
    pub epochs: usize,
    pub model: ModelType,
    /// Requested feature names as given (empty: all of the graph's features); resolved against
    /// the manifest by `dataset::select_features`.
    pub features: Vec<String>,
    pub label: String,
    pub loss: LossFn,
    pub learning_rate: f64,
    pub hidden: usize,
    pub device: DeviceChoice,
    pub seed: i64,
}

impl TrainConfig {
    /// Defaults for everything but the graph.
    pub fn new(graph_name: impl Into<String>) -> Self {
        Self {
            graph_name: graph_name.into(),
            epochs: DEFAULT_EPOCHS,
            model: ModelType::Sage,
            features: Vec::new(),
            label: DEFAULT_LABEL.into(),
            loss: LossFn::Ce,
            learning_rate: DEFAULT_LEARNING_RATE,
            hidden: DEFAULT_HIDDEN,
            device: DeviceChoice::Auto,
            seed: DEFAULT_SEED,
        }
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let opt = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let graph_name = opt(env::GRAPH_NAME).ok_or(ConfigError::Missing(env::GRAPH_NAME))?;
        let mut c = TrainConfig::new(graph_name);
        if let Some(v) = opt(env::EPOCHS) {
            c.epochs = whole(env::EPOCHS, &v, 1, MAX_EPOCHS)?;
        }
        if let Some(v) = opt(env::MODEL_TYPE) {
            c.model = v.parse()?;
        }
        if let Some(v) = opt(env::FEATURES) {
            c.features = parse_list(&v);
        }
        if let Some(v) = opt(env::LABEL) {
            c.label = v;
        }
        if let Some(v) = opt(env::LOSS_FN) {
            c.loss = v.parse()?;
        }
        if let Some(v) = opt(env::LEARNING_RATE) {
            c.learning_rate = v
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r > 0.0 && *r <= 10.0)
                .ok_or_else(|| ConfigError::Invalid {
                    name: env::LEARNING_RATE,
                    reason: format!("{v:?} is not a learning rate in (0, 10]"),
                })?;
        }
        if let Some(v) = opt(env::HIDDEN_SIZE) {
            c.hidden = whole(env::HIDDEN_SIZE, &v, 1, MAX_HIDDEN)?;
        }
        if let Some(v) = opt(DEVICE) {
            c.device = v.parse()?;
        }
        if let Some(v) = opt(SEED) {
            c.seed = v.parse().map_err(|_| ConfigError::Invalid {
                name: SEED,
                reason: format!("{v:?} is not a whole number"),
            })?;
        }
        Ok(c)
    }
}

/// `FEATURES`: comma-separated names, blanks dropped.
pub fn parse_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn whole(name: &'static str, v: &str, min: usize, max: usize) -> Result<usize, ConfigError> {
    v.parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| ConfigError::Invalid {
            name,
            reason: format!("{v:?} is not a whole number in {min}..={max}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    use streamforge_kit::testing::env_lookup as lookup;

    #[test]
    fn defaults_and_overrides() {
        let c = TrainConfig::from_lookup(lookup(&[("GRAPH_NAME", "g")])).unwrap();
        assert_eq!(c, TrainConfig::new("g"));
        assert_eq!(c.model, ModelType::Sage);
        assert_eq!(c.epochs, 100);
        let c = TrainConfig::from_lookup(lookup(&[
            ("GRAPH_NAME", "g"),
            ("EPOCHS", "7"),
            ("MODEL_TYPE", "gat"),
            ("FEATURES", " RSI, ,VWAP "),
            ("LABEL", "future_volatility"),
            ("LOSS_FN", "bce"),
            ("LEARNING_RATE", "0.005"),
            ("HIDDEN_SIZE", "16"),
            ("DEVICE", "cpu"),
        ]))
        .unwrap();
        assert_eq!(c.epochs, 7);
        assert_eq!(c.model, ModelType::Gat);
        assert_eq!(c.features, vec!["RSI", "VWAP"]);
        assert_eq!(c.loss, LossFn::Bce);
        assert_eq!(c.hidden, 16);
        assert_eq!(c.device, DeviceChoice::Cpu);
    }

    #[test]
    fn refuses_bad_values_by_name() {
        assert_eq!(
            TrainConfig::from_lookup(lookup(&[])),
            Err(ConfigError::Missing("GRAPH_NAME"))
        );
        for (k, v) in [
            ("EPOCHS", "0"),
            ("EPOCHS", "ten"),
            ("MODEL_TYPE", "GIN"),
            ("LOSS_FN", "hinge"),
            ("LEARNING_RATE", "-1"),
            ("LEARNING_RATE", "NaN"),
            ("HIDDEN_SIZE", "0"),
            ("DEVICE", "tpu"),
        ] {
            let err = TrainConfig::from_lookup(lookup(&[("GRAPH_NAME", "g"), (k, v)])).unwrap_err();
            assert!(err.to_string().starts_with(k), "{k}={v}: {err}");
        }
    }
}
