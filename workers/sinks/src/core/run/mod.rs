//! The consume → batch → write → commit loop every sink runs.
//!
//! Ordering rules: offsets are committed only after the batch holding them is stored (or, for a
//! malformed message, after it reached the dead-letter topic); a storage outage holds the batch
//! and retries it with backoff, consuming at most one more batch meanwhile, so no message is
//! lost or skipped; while the intake waits for the writer its partitions are paused and the
//! consumer keeps polling, so it stays in its group however long the outage. Reading the next
//! batch overlaps with storing the last one. A data topic that does not exist yet is waited
//! for. The loop ends on `stop`, or once the producer reported `finished` and nothing is left
//! to read.
//!
//! ```text
//!  consumer ─► intake.rs ──(one batch at most)──► writer.rs ─► Storage::write ─► commit
//!                 ├─ writer busy ─► hand_over.rs (pause partitions, keep polling, hold)
//!                 └─ malformed ─► dead_letter.rs (dead-letter topic, reason in headers)
//!  metrics.rs: the sink's Prometheus metrics, updated by both stages
//! ```

pub mod dead_letter;
mod hand_over;
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
use super::storage::{Resume, Storage, StorageError};

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
    /// Longest outage one batch waits out in this process; then the run ends with a passing
    /// failure and its Job's retry starts again from the last commit.
    pub retry_give_up: Duration,
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
            retry_give_up: Duration::from_secs(15 * 60),
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
            dlq: self.dlq,
            storage: &mut *self.storage,
            cfg: &self.cfg,
            metrics: &self.metrics,
        };
        let (to_writer, batches) = mpsc::channel(1);
        let (read, mut report) =
            tokio::try_join!(intake.run(signals, to_writer), writer.run(batches))?;
        report.dead_letters += read.dead_letters;
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
    resume: &HashMap<i32, Resume>,
    cfg: &RunConfig,
) -> Result<(), RunError> {
    let mut retry = Retry::new(cfg);
    loop {
        match storage.recover(resume).await {
            Ok(0) => return Ok(()),
            Ok(undone) => {
                info!(undone, "undid uncommitted batches of a previous run");
                return Ok(());
            }
            Err(e) if e.is_transient() => {
                let wait = retry.next(&e)?;
                warn!(error = %e, wait_ms = wait.as_millis() as u64, "storage unavailable during recovery; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Retrying one storage operation through an outage: doubling waits from `retry_start` to
/// `retry_max`, each drawn between half and all of its step (jitter, so many sinks do not come
/// back to a store in step), until `retry_give_up` has passed since the first failure.
pub struct Retry {
    step: Duration,
    max: Duration,
    give_up: Duration,
    since: std::time::Instant,
    pub attempts: u32,
}

impl Retry {
    pub fn new(cfg: &RunConfig) -> Self {
        Retry {
            step: cfg.retry_start,
            max: cfg.retry_max,
            give_up: cfg.retry_give_up,
            since: std::time::Instant::now(),
            attempts: 0,
        }
    }

    /// How long to wait before the next try after `e`, or the error that ends the run.
    pub fn next(&mut self, e: &StorageError) -> Result<Duration, StorageError> {
        if self.since.elapsed() >= self.give_up {
            return Err(StorageError::Unavailable(format!(
                "still unavailable after {} s and {} retries: {e}",
                self.give_up.as_secs(),
                self.attempts
            )));
        }
        self.attempts += 1;
        let wait = self.step.mul_f64(rand::random_range(0.5..=1.0));
        self.step = (self.step * 2).min(self.max);
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(give_up: Duration) -> RunConfig {
        let mut c = RunConfig::new("t");
        c.retry_start = Duration::from_millis(100);
        c.retry_max = Duration::from_millis(400);
        c.retry_give_up = give_up;
        c
    }

    #[test]
    fn waits_double_up_to_the_cap_with_jitter_below_each_step() {
        let mut r = Retry::new(&cfg(Duration::from_secs(60)));
        let e = StorageError::Unavailable("down".into());
        for step in [100u64, 200, 400, 400, 400] {
            let w = r.next(&e).unwrap();
            assert!(
                w >= Duration::from_millis(step / 2) && w <= Duration::from_millis(step),
                "{w:?} for a step of {step} ms"
            );
        }
        assert_eq!(r.attempts, 5);
    }

    #[test]
    fn an_outage_longer_than_the_limit_ends_the_run_as_a_passing_failure() {
        let mut r = Retry::new(&cfg(Duration::ZERO));
        let e = r
            .next(&StorageError::Unavailable("down".into()))
            .unwrap_err();
        assert!(
            e.is_transient(),
            "the Job's retry starts again from the last commit"
        );
        assert!(e.to_string().contains("still unavailable"), "{e}");
    }
}
