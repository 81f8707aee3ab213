//! `arango-connector`: stores a Queue's data topic in ArangoDB.
//!
//! Environment: the worker environment the operator sets (`QUEUE_ID`, `KAFKA_TOPIC`,
//! `COLLECTION_NAME`, `TELEMETRY_PRODUCER_ID`, Kafka settings), `ARANGO_URL`, `ARANGO_DB`,
//! `ARANGO_USER`, `ARANGO_PASSWORD`, and optionally `ARANGO_WRITE_MODE` (`document` or `aql`),
//! `BATCH_RECORDS`, `BATCH_WAIT_MS`, `METRICS_ADDR` (default `0.0.0.0:9102`).
//! Exit codes: 0 done or stopped, 1 transient failure, 2 refused (retrying cannot help).

use std::process::ExitCode;

use streamforge_api::env::COLLECTION_NAME;
use streamforge_kit::lifecycle::{Failure, exit_before_run};
use streamforge_kit::{KafkaSettings, WorkerEnv, logging};
use streamforge_sinks::arango::{ArangoClient, ArangoSink, WriteMode};
use streamforge_sinks::connector::{self, Defaults, var};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    let setup = (|| {
        let env = WorkerEnv::from_env().map_err(Failure::permanent)?;
        let kafka = KafkaSettings::from_env().map_err(Failure::permanent)?;
        let collection = env
            .collection_name
            .clone()
            .ok_or_else(|| Failure::Permanent(format!("{COLLECTION_NAME} is not set")))?;
        let mode = WriteMode::parse(&var("ARANGO_WRITE_MODE", "document")).ok_or_else(|| {
            Failure::Permanent("ARANGO_WRITE_MODE must be document or aql".into())
        })?;
        let client = ArangoClient::new(
            &var("ARANGO_URL", "http://localhost:8529"),
            &var("ARANGO_DB", "streamforge"),
            &var("ARANGO_USER", "root"),
            &var("ARANGO_PASSWORD", ""),
        )
        .map_err(Failure::permanent)?;
        let storage = ArangoSink {
            client,
            collection: collection.clone(),
            mode,
            index_fields: vec![],
        };
        Ok::<_, Failure>((env, kafka, storage, collection))
    })();
    let defaults = Defaults {
        batch_records: 5_000,
        batch_wait_ms: 500,
    };
    match setup {
        Ok((env, kafka, mut storage, collection)) => {
            connector::run(env, kafka, &mut storage, collection, defaults).await
        }
        Err(f) => exit_before_run(&f),
    }
}
