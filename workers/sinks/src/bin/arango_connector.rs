//! `arango-connector`: stores a Queue's data topic in ArangoDB.
//!
//! Environment: the worker environment the operator sets (`QUEUE_ID`, `KAFKA_TOPIC`,
//! `COLLECTION_NAME`, `TELEMETRY_PRODUCER_ID`, Kafka settings), `ARANGO_URL`, `ARANGO_DB`,
//! `ARANGO_USER`, `ARANGO_PASSWORD`, and optionally `ARANGO_WRITE_MODE` (`document` or `aql`),
//! `BATCH_RECORDS`, `BATCH_WAIT_MS`, `METRICS_ADDR` (default `0.0.0.0:9102`).
//! Exit codes: 0 done or stopped, 1 transient failure, 2 refused (retrying cannot help).

use std::process::ExitCode;

use anyhow::{Context, anyhow};
use streamforge_kit::{KafkaSettings, WorkerEnv};
use streamforge_sinks::arango::{ArangoClient, ArangoSink, WriteMode};
use streamforge_sinks::connector::{self, Defaults, var};

async fn run() -> anyhow::Result<()> {
    let env = WorkerEnv::from_env().context("worker environment")?;
    let kafka = KafkaSettings::from_env().context("Kafka settings")?;
    let collection = env
        .collection_name
        .clone()
        .ok_or_else(|| anyhow!("COLLECTION_NAME is not set"))?;
    let mode = WriteMode::parse(&var("ARANGO_WRITE_MODE", "document"))
        .ok_or_else(|| anyhow!("ARANGO_WRITE_MODE must be document or aql"))?;
    let client = ArangoClient::new(
        &var("ARANGO_URL", "http://localhost:8529"),
        &var("ARANGO_DB", "streamforge"),
        &var("ARANGO_USER", "root"),
        &var("ARANGO_PASSWORD", ""),
    )?;
    let mut storage = ArangoSink {
        client,
        collection: collection.clone(),
        mode,
        index_fields: vec![],
    };
    let defaults = Defaults {
        batch_records: 5_000,
        batch_wait_ms: 500,
    };
    connector::run(env, kafka, &mut storage, collection, defaults).await
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    connector::init_tracing();
    connector::exit_code("arango-connector", run().await)
}
