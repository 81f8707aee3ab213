//! The `Queue` custom resource: one unit of work for one worker family.
//!
//! Validation lives in the schema so that `kubectl apply` refuses bad input: enums for
//! `target`, `modelType` and `sinks`, patterns for `symbol`, `type` and `timeRange`, a CEL rule
//! for start < end, a positive `epochs`, and CEL transition rules that keep the identity fields
//! (`symbol`, `type`, `target`, `timeRange`) immutable.

// The derive takes one `printcolumn(...)` per column; clippy reads the repeats as duplicates.
#![allow(clippy::duplicated_attributes)]

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::status::QueueStatus;

/// Pattern for `spec.symbol`: an exchange symbol such as `BTCUSDT`.
pub const SYMBOL_PATTERN: &str = "^[A-Z0-9]{2,20}$";
/// Pattern for `spec.type`: lower snake case such as `api_candles_5m`.
pub const TYPE_PATTERN: &str = "^[a-z][a-z0-9_]{1,47}$";

/// One unit of work for one StreamForge worker family.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "streamforge.io",
    version = "v1alpha1",
    kind = "Queue",
    plural = "queues",
    singular = "queue",
    shortname = "sfq",
    category = "streamforge",
    namespaced,
    status = "QueueStatus",
    derive = "PartialEq",
    cel,
    doc = "A StreamForge Queue: one unit of work (load, store, build a graph, train) run as a Kubernetes Job and reported through queue-events.",
    printcolumn(name = "Symbol", type_ = "string", json_path = ".spec.symbol"),
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "Target", type_ = "string", json_path = ".spec.target"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Progress", type_ = "string", json_path = ".status.progress"),
    printcolumn(
        name = "Records",
        type_ = "integer",
        json_path = ".status.recordsWritten"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Queue-ID",
        type_ = "string",
        json_path = ".status.queueId",
        priority = 1
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = 1
    ),
    printcolumn(
        name = "Epoch",
        type_ = "integer",
        json_path = ".status.training.epoch",
        priority = 1
    ),
    printcolumn(
        name = "Val-Acc",
        type_ = "number",
        json_path = ".status.training.bestValAccuracy",
        priority = 1
    ),
    printcolumn(
        name = "Test-Acc",
        type_ = "number",
        json_path = ".status.training.testAccuracy",
        priority = 1
    ),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".status.message",
        priority = 1
    ),
    selectable = ".spec.symbol",
    selectable = ".spec.target"
)]
#[x_kube(
    cel,
    validation = Rule::new("self.symbol == oldSelf.symbol").message("symbol is immutable; create a new Queue instead").field_path(".symbol"),
    validation = Rule::new("self.type == oldSelf.type").message("type is immutable; create a new Queue instead").field_path(".type"),
    validation = Rule::new("self.target == oldSelf.target").message("target is immutable; create a new Queue instead").field_path(".target"),
    validation = Rule::new("has(self.timeRange) == has(oldSelf.timeRange) && (!has(self.timeRange) || self.timeRange == oldSelf.timeRange)").message("timeRange is immutable; create a new Queue instead").field_path(".timeRange"),
    validation = Rule::new(crate::served::cel_rule()).message(::kube::core::cel::Message::Expression(crate::served::cel_message())).field_path(".type"),
    validation = Rule::new("!self.type.startsWith('api_') || has(self.timeRange)").message("an api_* type loads history and needs a timeRange").field_path(".timeRange"),
    validation = Rule::new("!has(self.sinks) || size(self.sinks) == 0 || self.target.startsWith('loader')").message("sinks can only be attached to a loader Queue").field_path(".sinks"),
    validation = Rule::new("!(self.target == 'graph-builder' || self.target == 'gnn-trainer' || self.type.startsWith('graph_')) || has(self.graphName)").message("graph-builder, gnn-trainer and the graph types need graphName").field_path(".graphName"),
    validation = Rule::new("!(self.target == 'graph-builder' || self.type.startsWith('graph_')) || has(self.timeRange)").message("a graph needs a timeRange: the stored data it reads").field_path(".timeRange"),
    validation = Rule::new("!(self.type == 'manual_upload' || self.type == 'json_feed') || has(self.source)").message("manual_upload and json_feed need source (where to read)").field_path(".source"),
    validation = Rule::new("self.type != 'manual_upload' || !has(self.source) || has(self.source.records)").message("manual_upload needs source.records: candles or trades").field_path(".source.records"),
    validation = Rule::new("self.type != 'json_feed' || !has(self.source) || has(self.source.keyField)").message("json_feed needs source.keyField: the field that keys each message").field_path(".source.keyField"),
    validation = Rule::new("self.target != 'visualizer' || self.type != 'plot_graph' || has(self.graphName) || has(self.collectionName)").message("a plot_graph report needs graphName (or collectionName)").field_path(".graphName")
)]
#[serde(rename_all = "camelCase")]
pub struct QueueSpec {
    /// Worker family that runs this Queue.
    pub target: Target,

    /// Data type, one its target serves: e.g. api_candles_5m, api_trades, api_orderbook,
    /// ws_trades, ws_orderbook, manual_upload, json_feed, graph_build, graph_rsi_vol,
    /// gnn_trainer.
    #[serde(rename = "type")]
    #[schemars(length(max = 48), regex(pattern = r"^[a-z][a-z0-9_]{1,47}$"))]
    pub data_type: String,

    /// Exchange symbol in upper case, e.g. BTCUSDT.
    #[schemars(regex(pattern = r"^[A-Z0-9]{2,20}$"))]
    pub symbol: String,

    /// Time range: 2024-08-01:2024-08-02 (whole UTC days, end exclusive) or two RFC 3339
    /// instants separated by ':' or '/'. Required for historical (api_*) types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 80),
        regex(
            pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?[:/][0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?$"
        )
    )]
    #[x_kube(validation = Rule::new(crate::time_range::CEL_START_BEFORE_END).message("timeRange must hold two valid dates or instants with start before end"))]
    pub time_range: Option<String>,

    /// Worker image. Defaults to the operator's image for this target and type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,

    /// Companion sinks run beside a loader under the same queue id, one Job each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4))]
    #[x_kube(validation = Rule::new("self.all(x, self.exists_one(y, y == x))").message("sinks must not repeat"))]
    pub sinks: Vec<SinkKind>,

    /// Stop the Queue (true) or resume it as a new run (back to false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,

    /// Kafka data topic. Defaults to `<queue id>-data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-zA-Z0-9._-]{1,249}$"))]
    pub kafka_topic: Option<String>,

    /// ArangoDB collection. Defaults to `<symbol>_<type>_<start date>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-zA-Z][a-zA-Z0-9_-]{0,255}$"))]
    pub collection_name: Option<String>,

    /// Graph name for graph-builder and gnn-trainer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-zA-Z][a-zA-Z0-9_-]{0,255}$"))]
    pub graph_name: Option<String>,

    /// Further symbols for graph-builder: the graph covers `symbol` and these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(regex(pattern = r"^[A-Z0-9]{2,20}$")))]
    pub symbols: Vec<String>,

    /// The stored data type graph-builder reads, e.g. api_candles_5m (its default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{1,47}$"))]
    pub source_type: Option<String>,

    /// graph-builder: where the stored data is read, `lake` (default) or `arango` (the
    /// collection `collectionName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_source: Option<GraphSource>,

    /// graph-builder: how many windows ahead the labels look (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub label_horizon: Option<u32>,

    /// graph-builder: windows over which the correlation of two symbols' returns is measured
    /// for a cross-asset edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 10000))]
    pub correlation_window: Option<u32>,

    /// graph-builder: smallest absolute correlation that makes a cross-asset edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub correlation_threshold: Option<f64>,

    /// Training epochs for gnn-trainer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub epochs: Option<u32>,

    /// GNN architecture for gnn-trainer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<ModelType>,

    /// Feature names for gnn-trainer, e.g. RSI, VWAP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub features: Vec<String>,

    /// The ML target label, e.g. future_volatility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,

    /// Loss function for gnn-trainer, e.g. BCE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_fn: Option<String>,

    /// gnn-trainer's learning rate (Adam).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 10.0))]
    pub learning_rate: Option<f64>,

    /// gnn-trainer's hidden layer width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4096))]
    pub hidden_size: Option<u32>,

    /// Queues (names in this namespace) that must have Succeeded before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 16),
        inner(regex(pattern = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"))
    )]
    pub after: Vec<String>,

    /// Output type for visualizer, e.g. html.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_type: Option<String>,

    /// Output location, e.g. s3://visuals/btcusdt/2024_06_01/index.html.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_path: Option<String>,

    /// Retries of the worker pod before the Job (and the Queue) fails. Default from the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub backoff_limit: Option<i32>,

    /// Seconds a finished Job is kept before Kubernetes removes it. Default from the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 31536000))]
    pub ttl_seconds_after_finished: Option<i32>,

    /// Upper bound on a run's wall time; the Job is failed when it passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub active_deadline_seconds: Option<i64>,

    /// loader-generic: where manual_upload reads its file and json_feed its messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::source::GenericSource>,

    /// api_orderbook: seconds between two depth snapshots (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub snapshot_interval_seconds: Option<u32>,

    /// api_orderbook: price levels per side of a snapshot, Binance's `limit` (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 5000))]
    pub depth_limit: Option<u32>,

    /// Where and with what this Queue's worker pods run, over the operator's defaults: the main
    /// worker's resources (e.g. a GPU for the trainer), and for every pod of the Queue a node
    /// selector, tolerations and image pull secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodOverrides>,
}

/// The small part of a pod template a Queue may set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodOverrides {
    /// Requests and limits of the main worker's container; the operator's default for the
    /// worker family when unset (e.g. cpu: 2, memory: 4Gi, nvidia.com/gpu: 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<k8s_openapi::api::core::v1::ResourceRequirements>,
    /// Node labels the Queue's pods must run on.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub node_selector: std::collections::BTreeMap<String, String>,
    /// Taints the Queue's pods tolerate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub tolerations: Vec<k8s_openapi::api::core::v1::Toleration>,
    /// Secrets to pull a private `image` with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub image_pull_secrets: Vec<k8s_openapi::api::core::v1::LocalObjectReference>,
}

/// Worker families. `loader-producer` picks its image from the type; the `loader-*` families
/// name one image each.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    LoaderProducer,
    LoaderApiCandles,
    LoaderApiTrades,
    LoaderApiOrderbook,
    LoaderWsCandles,
    LoaderWsTrades,
    LoaderWsOrderbook,
    LoaderGeneric,
    ArangoConnector,
    LakeConnector,
    GraphBuilder,
    GnnTrainer,
    Visualizer,
    DummyService,
}

impl Target {
    pub const ALL: [Target; 14] = [
        Target::LoaderProducer,
        Target::LoaderApiCandles,
        Target::LoaderApiTrades,
        Target::LoaderApiOrderbook,
        Target::LoaderWsCandles,
        Target::LoaderWsTrades,
        Target::LoaderWsOrderbook,
        Target::LoaderGeneric,
        Target::ArangoConnector,
        Target::LakeConnector,
        Target::GraphBuilder,
        Target::GnnTrainer,
        Target::Visualizer,
        Target::DummyService,
    ];

    /// The name on the wire and in `spec.target`.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::LoaderProducer => "loader-producer",
            Target::LoaderApiCandles => "loader-api-candles",
            Target::LoaderApiTrades => "loader-api-trades",
            Target::LoaderApiOrderbook => "loader-api-orderbook",
            Target::LoaderWsCandles => "loader-ws-candles",
            Target::LoaderWsTrades => "loader-ws-trades",
            Target::LoaderWsOrderbook => "loader-ws-orderbook",
            Target::LoaderGeneric => "loader-generic",
            Target::ArangoConnector => "arango-connector",
            Target::LakeConnector => "lake-connector",
            Target::GraphBuilder => "graph-builder",
            Target::GnnTrainer => "gnn-trainer",
            Target::Visualizer => "visualizer",
            Target::DummyService => "dummy-service",
        }
    }

    pub fn is_loader(self) -> bool {
        self.as_str().starts_with("loader-")
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A companion sink that stores what a loader Queue produces.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum SinkKind {
    /// ArangoDB, through arango-connector.
    Arango,
    /// The S3/Parquet lake, through lake-connector.
    Lake,
}

impl SinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Arango => "arango",
            SinkKind::Lake => "lake",
        }
    }

    /// The worker family that runs this sink.
    pub fn target(self) -> Target {
        match self {
            SinkKind::Arango => Target::ArangoConnector,
            SinkKind::Lake => Target::LakeConnector,
        }
    }
}

/// Where graph-builder reads stored candles.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GraphSource {
    /// The S3/Parquet lake the lake-connector wrote.
    Lake,
    /// The ArangoDB collection the arango-connector wrote (`collectionName`).
    Arango,
}

impl GraphSource {
    pub fn as_str(self) -> &'static str {
        match self {
            GraphSource::Lake => "lake",
            GraphSource::Arango => "arango",
        }
    }
}

/// GNN architectures gnn-trainer offers.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum ModelType {
    #[serde(rename = "GCN")]
    Gcn,
    #[serde(rename = "GAT")]
    Gat,
    #[serde(rename = "GraphSAGE")]
    GraphSage,
}

impl ModelType {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelType::Gcn => "GCN",
            ModelType::Gat => "GAT",
            ModelType::GraphSage => "GraphSAGE",
        }
    }
}
