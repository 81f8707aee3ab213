//! `arango-connector`: stores a Queue's data topic in ArangoDB.
//!
//! Environment: the worker environment the operator sets (`QUEUE_ID`, `KAFKA_TOPIC`,
//! `COLLECTION_NAME`, `TELEMETRY_PRODUCER_ID`, Kafka settings), `ARANGO_URL`, `ARANGO_DB`,
//! `ARANGO_USER`, `ARANGO_PASSWORD`, and optionally `ARANGO_WRITE_MODE` (`document` or `aql`),
//! `BATCH_RECORDS`, `BATCH_WAIT_MS`, `METRICS_ADDR` (default `0.0.0.0:9102`).
//! Exit codes: 0 done or stopped, 1 transient failure, 2 refused (retrying cannot help).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use prometheus::{Encoder, Registry};
use streamforge_api::EventStatus;
use streamforge_kit::telemetry::Reporter;
use streamforge_kit::{KafkaSettings, WorkerEnv};
use streamforge_sinks::arango::{ArangoClient, ArangoSink, WriteMode};
use streamforge_sinks::core::run::{RunConfig, RunError, Runner, SinkMetrics};
use streamforge_sinks::core::signals;
use streamforge_sinks::core::{Storage, StorageError};
use warp::Filter;

fn var(k: &str, default: &str) -> String {
    std::env::var(k)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

async fn run() -> anyhow::Result<bool> {
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
        collection,
        mode,
        index_fields: vec![],
    };

    let registry = Registry::new_custom(Some("streamforge".into()), None)?;
    let metrics = SinkMetrics::new(&registry)?;
    let addr: std::net::SocketAddr = var("METRICS_ADDR", "0.0.0.0:9102")
        .parse()
        .context("METRICS_ADDR")?;
    let r = registry.clone();
    tokio::spawn(
        warp::serve(warp::path!("metrics").map(move || {
            let mut buf = vec![];
            let _ = prometheus::TextEncoder::new().encode(&r.gather(), &mut buf);
            String::from_utf8(buf).unwrap_or_default()
        }))
        .run(addr),
    );

    let reporter = Reporter::new(
        kafka.producer(&env.telemetry_id)?,
        kafka.events_topic.clone(),
        env.clone(),
    );
    if let Err(e) = storage.prepare().await {
        reporter
            .report(EventStatus::Error, e.to_string(), None, None)
            .await;
        return Err(e.into());
    }
    reporter
        .report(
            EventStatus::Started,
            format!("storing {} into {}", env.kafka_topic, storage.collection),
            Some(0),
            None,
        )
        .await;

    let signals = signals::watch(&kafka, &env)?;
    let consumer = kafka.consumer(&env.telemetry_id, &env.telemetry_id)?;
    let dlq = kafka.producer(&format!("{}-dlq", env.telemetry_id))?;
    let mut cfg = RunConfig::new(&env.kafka_topic);
    cfg.batch_records = var("BATCH_RECORDS", "5000")
        .parse()
        .context("BATCH_RECORDS")?;
    cfg.batch_wait = Duration::from_millis(
        var("BATCH_WAIT_MS", "500")
            .parse()
            .context("BATCH_WAIT_MS")?,
    );
    let mut runner = Runner {
        consumer: &consumer,
        storage: &mut storage,
        dlq: &dlq,
        cfg,
        metrics,
    };
    match runner.run(signals).await {
        Ok(report) => {
            let status = if report.stopped {
                EventStatus::Stopped
            } else {
                EventStatus::Finished
            };
            let msg = format!(
                "stored {} records in {} batches; {} dead letters",
                report.written, report.batches, report.dead_letters
            );
            reporter
                .report(
                    status,
                    msg,
                    Some(report.written),
                    serde_json::to_value(&report).ok(),
                )
                .await;
            Ok(true)
        }
        Err(e) => {
            reporter
                .report(EventStatus::Error, e.to_string(), None, None)
                .await;
            Err(e.into())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rdkafka=warn".into()),
        )
        .init();
    match run().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "arango-connector failed");
            let refused = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<StorageError>(),
                    Some(StorageError::Refused(_))
                ) || matches!(
                    c.downcast_ref::<RunError>(),
                    Some(RunError::Storage(StorageError::Refused(_)))
                )
            });
            ExitCode::from(if refused { 2 } else { 1 })
        }
    }
}
