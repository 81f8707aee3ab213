//! Environment variable names a worker reads, as the original services named them.
//!
//! The operator sets these on every Job it creates; workers read them through the worker kit.

pub const QUEUE_ID: &str = "QUEUE_ID";
pub const SYMBOL: &str = "SYMBOL";
pub const TYPE: &str = "TYPE";
pub const TIME_RANGE: &str = "TIME_RANGE";
pub const KAFKA_TOPIC: &str = "KAFKA_TOPIC";
pub const COLLECTION_NAME: &str = "COLLECTION_NAME";
pub const TELEMETRY_PRODUCER_ID: &str = "TELEMETRY_PRODUCER_ID";
pub const TARGET: &str = "TARGET";
pub const RUN: &str = "RUN";
/// On a sink's Job: the telemetry id of the run's main worker, whose `finished` ends the sink.
pub const PRODUCER_TELEMETRY_ID: &str = "PRODUCER_TELEMETRY_ID";
/// `json` for JSON log lines (the operator passes its own format on).
pub const LOG_FORMAT: &str = "LOG_FORMAT";

pub const KAFKA_BOOTSTRAP_SERVERS: &str = "KAFKA_BOOTSTRAP_SERVERS";
pub const KAFKA_USER: &str = "KAFKA_USER";
pub const KAFKA_PASSWORD: &str = "KAFKA_PASSWORD";
pub const CA_PATH: &str = "CA_PATH";
pub const QUEUE_CONTROL_TOPIC: &str = "QUEUE_CONTROL_TOPIC";
pub const QUEUE_EVENTS_TOPIC: &str = "QUEUE_EVENTS_TOPIC";

pub const ARANGO_URL: &str = "ARANGO_URL";
pub const ARANGO_DB: &str = "ARANGO_DB";
pub const ARANGO_USER: &str = "ARANGO_USER";
pub const ARANGO_PASSWORD: &str = "ARANGO_PASSWORD";

pub const MINIO_ENDPOINT: &str = "MINIO_ENDPOINT";
pub const MINIO_ACCESS_KEY: &str = "MINIO_ACCESS_KEY";
pub const MINIO_SECRET_KEY: &str = "MINIO_SECRET_KEY";
pub const MINIO_BUCKET: &str = "MINIO_BUCKET";

pub const GRAPH_NAME: &str = "GRAPH_NAME";
pub const EPOCHS: &str = "EPOCHS";
pub const MODEL_TYPE: &str = "MODEL_TYPE";
pub const FEATURES: &str = "FEATURES";
pub const LABEL: &str = "LABEL";
pub const LOSS_FN: &str = "LOSS_FN";
pub const SYMBOLS: &str = "SYMBOLS";
pub const SOURCE_TYPE: &str = "SOURCE_TYPE";
pub const GRAPH_SOURCE: &str = "GRAPH_SOURCE";
pub const LABEL_HORIZON: &str = "LABEL_HORIZON";
pub const CORRELATION_WINDOW: &str = "CORRELATION_WINDOW";
pub const CORRELATION_THRESHOLD: &str = "CORRELATION_THRESHOLD";
pub const LEARNING_RATE: &str = "LEARNING_RATE";
pub const HIDDEN_SIZE: &str = "HIDDEN_SIZE";
pub const OUTPUT_TYPE: &str = "OUTPUT_TYPE";
pub const OUTPUT_PATH: &str = "OUTPUT_PATH";
/// api_orderbook: seconds between two depth snapshots.
pub const SNAPSHOT_INTERVAL_SECONDS: &str = "SNAPSHOT_INTERVAL_SECONDS";
/// api_orderbook: levels per side of a depth snapshot (Binance's `limit`).
pub const DEPTH_LIMIT: &str = "DEPTH_LIMIT";
/// loader-generic: the Queue's `source` as JSON ([`crate::GenericSource`]).
pub const SOURCE: &str = "SOURCE";
