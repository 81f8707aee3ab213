//! `manifest.json`: what a graph is, readable without opening the Parquet files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The format version this crate writes and reads.
pub const FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphManifest {
    pub format: u32,
    pub graph_name: String,
    /// Every symbol with nodes, in the order the builder was given them.
    pub symbols: Vec<String>,
    /// The stored data type the nodes come from (`api_candles_5m`).
    pub source_type: String,
    /// The time range asked for, as the Queue gave it.
    pub time_range: String,
    /// Length of one window (the candle interval) in ms.
    pub interval_ms: i64,
    pub node_count: u64,
    pub edge_count: u64,
    /// Names of the DOUBLE feature columns of `nodes.parquet`, in column order.
    pub features: Vec<String>,
    /// Names of the nullable INT64 label columns of `nodes.parquet`, in column order.
    pub labels: Vec<String>,
    /// How many windows ahead the labels look.
    pub label_horizon: u32,
    /// Every builder parameter, as used.
    #[serde(default)]
    pub parameters: BTreeMap<String, Value>,
    /// One line per feature and label: how it is computed.
    #[serde(default)]
    pub feature_definitions: BTreeMap<String, String>,
    /// When the graph was built (RFC 3339).
    pub created_at: String,
    /// Fields a later writer added: kept, never rejected.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}
