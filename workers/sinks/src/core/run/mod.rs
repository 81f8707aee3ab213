//! The consume → batch → write → commit loop every sink runs.
//!
//! Ordering rules: offsets are committed only after the batch holding them is stored (or, for a
//! malformed message, after it reached the dead-letter topic); a storage outage holds the batch
//! and retries it with backoff, consuming at most one more batch meanwhile, so no message is
//! lost or skipped. Reading the next batch overlaps with storing the last one.
//! The loop ends on `stop`, or once the producer reported `finished` and nothing is left to read.
//!
//! ```text
//!  consumer ─► intake.rs ──(one batch at most)──► writer.rs ─► Storage::write ─► commit
//!                 └─ malformed ─► dead_letter.rs (dead-letter topic, reason in headers)
//!  metrics.rs: the sink's Prometheus metrics, updated by both stages
//! ```

pub mod dead_letter;
mod intake;
mod metrics;
mod writer;

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureProducer;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use self::intake::Intake;
use self::writer::Writer;
use super::storage::{Storage, StorageError};

pub use self::metrics::SinkMetrics;

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub topic: String,
    pub dlq_topic: String,
    /// Who writes the dead letters (`__connect.errors.connector.name`): the sink's telemetry id.
    pub connector_name: String,
    pub batch_records: usize,
    pub batch_wait: Duration,
    pub retry_start: Duration,
    pub retry_max: Duration,
}

impl RunConfig {
    pub fn new(topic: &str) -> Self {
        Self {
            topic: topic.to_owned(),
            dlq_topic: format!("{topic}-dlq"),
            connector_name: "streamforge-sink".to_owned(),
            batch_records: 5_000,
            batch_wait: Duration::from_millis(500),
            retry_start: Duration::from_millis(200),
            retry_max: Duration::from_secs(30),
        }
    }
}

/// What ends the loop, as seen from outside it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// The Queue's producer reported `finished`.
    pub producer_finished: bool,
    /// A `stop` command arrived.
    pub stop: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunReport {
    pub written: u64,
    pub batches: u64,
    pub dead_letters: u64,
    pub storage_retries: u64,
    pub first_key: Option<String>,
    pub last_key: Option<String>,
    pub stopped: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("Kafka {op}: {reason}")]
    Kafka { op: &'static str, reason: String },
}

fn kafka(op: &'static str) -> impl Fn(rdkafka::error::KafkaError) -> RunError {
    move |e| RunError::Kafka {
        op,
        reason: e.to_string(),
    }
}

pub struct Runner<'a> {
    pub consumer: &'a StreamConsumer,
    pub storage: &'a mut dyn Storage,
    pub dlq: &'a FutureProducer,
    pub cfg: RunConfig,
    pub metrics: SinkMetrics,
}

impl Runner<'_> {
    /// Run until the end of input or `stop`. Two stages run at once: the intake reads, checks
    /// and batches messages while the writer stores the previous batch and commits it. One full
    /// batch waits between them at most, so a slow or failing store holds the intake back.
    pub async fn run(&mut self, signals: watch::Receiver<Signals>) -> Result<RunReport, RunError> {
        let intake = Intake {
            consumer: self.consumer,
            dlq: self.dlq,
            cfg: &self.cfg,
            metrics: &self.metrics,
        };
        let resume = intake.resume_positions()?;
        recover(&mut *self.storage, &resume, &self.cfg).await?;
        self.consumer
            .subscribe(&[self.cfg.topic.as_str()])
            .map_err(kafka("subscribe"))?;
        let writer = Writer {
            consumer: self.consumer,
            storage: &mut *self.storage,
            cfg: &self.cfg,
            metrics: &self.metrics,
        };
        let (to_writer, batches) = mpsc::channel(1);
        let (read, mut report) =
            tokio::try_join!(intake.run(signals, to_writer), writer.run(batches))?;
        report.dead_letters = read.dead_letters;
        report.stopped = read.stopped;
        info!(
            written = report.written,
            batches = report.batches,
            dead_letters = report.dead_letters,
            stopped = report.stopped,
            "sink finished"
        );
        Ok(report)
    }
}

/// Let the storage undo uncommitted work of a previous run, retrying outages.
async fn recover(
    storage: &mut dyn Storage,
    resume: &HashMap<i32, i64>,
    cfg: &RunConfig,
) -> Result<(), RunError> {
    let mut backoff = cfg.retry_start;
    loop {
        match storage.recover(resume).await {
            Ok(0) => return Ok(()),
            Ok(undone) => {
                info!(undone, "undid uncommitted batches of a previous run");
                return Ok(());
            }
            Err(e) if e.is_transient() => {
                warn!(error = %e, wait_ms = backoff.as_millis() as u64, "storage unavailable during recovery; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(cfg.retry_max);
            }
            Err(e) => return Err(e.into()),
        }
    }
}
