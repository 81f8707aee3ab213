//! What every connector binary does around its storage: read the worker environment, serve
//! `/metrics`, report started / finished / error on queue-events, run the core loop, and map
//! failures to exit codes (0 done or stopped, 1 transient, 2 refused: retrying cannot help).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use prometheus::{Encoder, Registry};
use streamforge_api::EventStatus;
use streamforge_kit::telemetry::Reporter;
use streamforge_kit::{KafkaSettings, WorkerEnv};
use warp::Filter;

use crate::core::run::{RunConfig, RunError, Runner, SinkMetrics};
use crate::core::{Storage, StorageError, signals};

/// An environment variable, or `default` when unset or blank.
pub fn var(k: &str, default: &str) -> String {
    std::env::var(k)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Batch settings a connector starts from; `BATCH_RECORDS` and `BATCH_WAIT_MS` override them.
#[derive(Clone, Copy, Debug)]
pub struct Defaults {
    pub batch_records: usize,
    pub batch_wait_ms: u64,
}

fn serve_metrics(registry: Registry) -> anyhow::Result<()> {
    let addr: std::net::SocketAddr = var("METRICS_ADDR", "0.0.0.0:9102")
        .parse()
        .context("METRICS_ADDR")?;
    tokio::spawn(
        warp::serve(warp::path!("metrics").map(move || {
            let mut buf = vec![];
            let _ = prometheus::TextEncoder::new().encode(&registry.gather(), &mut buf);
            String::from_utf8(buf).unwrap_or_default()
        }))
        .run(addr),
    );
    Ok(())
}

/// Run one connector to its end. `target` names where records go, for the started event.
pub async fn run(
    env: WorkerEnv,
    kafka: KafkaSettings,
    storage: &mut dyn Storage,
    target: String,
    defaults: Defaults,
) -> anyhow::Result<()> {
    let registry = Registry::new_custom(Some("streamforge".into()), None)?;
    let metrics = SinkMetrics::new(&registry)?;
    serve_metrics(registry)?;

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
            format!("storing {} into {target}", env.kafka_topic),
            Some(0),
            None,
        )
        .await;

    let signals = signals::watch(&kafka, &env)?;
    let consumer = kafka.consumer_reporting_ends(&env.telemetry_id, &env.telemetry_id)?;
    let dlq = kafka.producer(&format!("{}-dlq", env.telemetry_id))?;
    let mut cfg = RunConfig::new(&env.kafka_topic);
    cfg.batch_records = var("BATCH_RECORDS", &defaults.batch_records.to_string())
        .parse()
        .context("BATCH_RECORDS")?;
    cfg.batch_wait = Duration::from_millis(
        var("BATCH_WAIT_MS", &defaults.batch_wait_ms.to_string())
            .parse()
            .context("BATCH_WAIT_MS")?,
    );
    let mut runner = Runner {
        consumer: &consumer,
        storage,
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
            Ok(())
        }
        Err(e) => {
            reporter
                .report(EventStatus::Error, e.to_string(), None, None)
                .await;
            Err(e.into())
        }
    }
}

pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rdkafka=warn".into()),
        )
        .init();
}

/// 2 when the storage refused (the Job fails at once), else 1.
pub fn exit_code(name: &str, result: anyhow::Result<()>) -> ExitCode {
    let Err(e) = result else {
        return ExitCode::SUCCESS;
    };
    tracing::error!(error = %format!("{e:#}"), "{name} failed");
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
