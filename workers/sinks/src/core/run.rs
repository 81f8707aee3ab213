//! The consume → batch → write → commit loop every sink runs.
//!
//! Ordering rules: offsets are committed only after the batch holding them is stored (or, for a
//! malformed message, after it reached the dead-letter topic); a storage outage holds the batch
//! and retries it with backoff, consuming at most one more batch meanwhile, so no message is
//! lost or skipped. Reading the next batch overlaps with storing the last one.
//! The loop ends on `stop`, or once the producer reported `finished` and nothing is left to read.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::batch::{Batch, Batcher};
use super::record::{self, Malformed};
use super::storage::{Storage, StorageError};

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub topic: String,
    pub dlq_topic: String,
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

#[derive(Clone)]
pub struct SinkMetrics {
    pub records_written: IntCounter,
    pub batches: IntCounter,
    pub batch_latency: Histogram,
    pub lag: IntGauge,
    pub dead_letters: IntCounterVec,
    pub storage_retries: IntCounter,
}

impl SinkMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self {
            records_written: IntCounter::new("sink_records_written_total", "Records stored")?,
            batches: IntCounter::new("sink_batches_total", "Batches stored")?,
            batch_latency: Histogram::with_opts(HistogramOpts::new(
                "sink_batch_latency_seconds",
                "Time to store one batch, retries included",
            ))?,
            lag: IntGauge::new("sink_lag_records", "Records in the topic not yet consumed")?,
            dead_letters: IntCounterVec::new(
                Opts::new(
                    "sink_dead_letters_total",
                    "Messages sent to the dead-letter topic",
                ),
                &["reason"],
            )?,
            storage_retries: IntCounter::new(
                "sink_storage_retries_total",
                "Batch writes retried after a storage outage",
            )?,
        };
        registry.register(Box::new(m.records_written.clone()))?;
        registry.register(Box::new(m.batches.clone()))?;
        registry.register(Box::new(m.batch_latency.clone()))?;
        registry.register(Box::new(m.lag.clone()))?;
        registry.register(Box::new(m.dead_letters.clone()))?;
        registry.register(Box::new(m.storage_retries.clone()))?;
        Ok(m)
    }
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

/// Messages the intake takes from librdkafka's queue in one go, at most.
const DRAIN_AT_ONCE: usize = 1024;

/// How often the lag metric is refreshed while records flow.
const LAG_METRIC_EVERY: Duration = Duration::from_secs(5);

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

/// What the intake counted.
#[derive(Default)]
struct Read {
    dead_letters: u64,
    stopped: bool,
}

/// The reading stage: consume, check each message, dead-letter the malformed, batch the rest.
struct Intake<'r> {
    consumer: &'r StreamConsumer,
    dlq: &'r FutureProducer,
    cfg: &'r RunConfig,
    metrics: &'r SinkMetrics,
}

impl Intake<'_> {
    async fn dead_letter(
        &self,
        m: &rdkafka::message::BorrowedMessage<'_>,
        why: &Malformed,
    ) -> Result<(), RunError> {
        let reason = why.to_string();
        let partition = m.partition().to_string();
        let offset = m.offset().to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "x-dlq-reason",
                value: Some(reason.as_str()),
            })
            .insert(Header {
                key: "x-dlq-category",
                value: Some(why.category()),
            })
            .insert(Header {
                key: "x-dlq-source-topic",
                value: Some(m.topic()),
            })
            .insert(Header {
                key: "x-dlq-partition",
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: "x-dlq-offset",
                value: Some(offset.as_str()),
            });
        let mut rec: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&self.cfg.dlq_topic).headers(headers);
        if let Some(k) = m.key() {
            rec = rec.key(k);
        }
        if let Some(p) = m.payload() {
            rec = rec.payload(p);
        }
        self.dlq
            .send(rec, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| RunError::Kafka {
                op: "dead-letter",
                reason: e.to_string(),
            })?;
        self.metrics
            .dead_letters
            .with_label_values(&[why.category()])
            .inc();
        Ok(())
    }

    /// Records left to read on the assigned partitions, or `None` when unknown; also the lag
    /// metric.
    fn lag(&self) -> Option<i64> {
        let lag = self.lag_now();
        if let Some(lag) = lag {
            self.metrics.lag.set(lag);
        }
        lag
    }

    fn lag_now(&self) -> Option<i64> {
        let assignment = self.consumer.assignment().ok()?;
        if assignment.count() == 0 {
            return None;
        }
        let position = self.consumer.position().ok()?;
        // Where a partition with nothing consumed yet starts: its committed offset (a restart),
        // else its first offset.
        let committed = self
            .consumer
            .committed_offsets(assignment.clone(), Duration::from_secs(5))
            .ok()?;
        let mut lag = 0;
        for e in assignment.elements() {
            let (low, high) = self
                .consumer
                .fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(5))
                .ok()?;
            let valid = |tpl: &TopicPartitionList| {
                tpl.find_partition(e.topic(), e.partition())
                    .and_then(|p| p.offset().to_raw())
                    .filter(|o| *o >= 0)
            };
            let next = valid(&position)
                .or_else(|| valid(&committed))
                .unwrap_or(low);
            lag += (high - next).max(0);
        }
        Some(lag)
    }

    /// The offset each partition of the topic will be consumed from: the group's committed
    /// offset, or the partition's start when nothing was committed. Empty while the topic does
    /// not exist yet.
    fn resume_positions(&self) -> Result<HashMap<i32, i64>, RunError> {
        let topic = self.cfg.topic.as_str();
        let md = self
            .consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(kafka("metadata"))?;
        let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
            return Ok(HashMap::new());
        };
        if t.error().is_some() {
            return Ok(HashMap::new());
        }
        let mut tpl = TopicPartitionList::new();
        for p in t.partitions() {
            tpl.add_partition(topic, p.id());
        }
        let committed = self
            .consumer
            .committed_offsets(tpl, Duration::from_secs(10))
            .map_err(kafka("committed offsets"))?;
        let mut out = HashMap::new();
        for e in committed.elements() {
            let from = match e.offset() {
                Offset::Offset(o) if o >= 0 => o,
                _ => {
                    self.consumer
                        .fetch_watermarks(topic, e.partition(), Duration::from_secs(10))
                        .map_err(kafka("watermarks"))?
                        .0
                }
            };
            out.insert(e.partition(), from);
        }
        Ok(out)
    }

    /// Read until the end of input or `stop`, handing each closed batch to the writer. Returns
    /// early, without error, when the writer is gone (it failed, and its error is the run's).
    async fn run(
        self,
        mut signals: watch::Receiver<Signals>,
        to_writer: mpsc::Sender<Batch>,
    ) -> Result<Read, RunError> {
        let mut read = Read::default();
        let mut batcher = Batcher::new(self.cfg.batch_records, self.cfg.batch_wait);
        let mut check = tokio::time::interval(Duration::from_millis(500));
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The lag check makes blocking broker requests, so it runs only when the consumer went
        // idle since the last tick (the end of input is near) or every few seconds for the
        // metric; never once per message while records flow.
        let mut received = false;
        let mut lag_checked = Instant::now();
        // Partitions read to their end since their last message, when the consumer reports
        // ends (`KafkaSettings::consumer_reporting_ends`): the end of input is then known the
        // moment it is reached, not a tick or two later.
        let mut at_end: HashSet<i32> = HashSet::new();
        loop {
            let deadline = batcher.deadline().map(tokio::time::Instant::from_std);
            let mut finished = false;
            tokio::select! {
                msg = self.consumer.recv() => {
                    let now = Instant::now();
                    // Take what is already fetched before waiting again: setting up the timers
                    // and signal futures of this loop once per message would cost more than
                    // reading the message.
                    let mut next = Some(msg);
                    let mut handled = 0;
                    let mut reached_end = false;
                    while let Some(msg) = next.take() {
                        match msg {
                            Ok(m) => {
                                received = true;
                                if !at_end.is_empty() {
                                    at_end.remove(&m.partition());
                                }
                                match record::parse(m.key(), m.payload(), m.partition(), m.offset(), m.timestamp().to_millis()) {
                                    Ok(r) => {
                                        if let Some(full) = batcher.push(r, now)
                                            && !hand_over(&to_writer, full).await
                                        {
                                            return Ok(read);
                                        }
                                    }
                                    Err(why) => {
                                        self.dead_letter(&m, &why).await?;
                                        read.dead_letters += 1;
                                        batcher.skip(m.partition(), m.offset(), now);
                                    }
                                }
                            }
                            Err(KafkaError::PartitionEOF(p)) => {
                                at_end.insert(p);
                                reached_end = true;
                            }
                            Err(e) => return Err(kafka("consume")(e)),
                        }
                        handled += 1;
                        if handled < DRAIN_AT_ONCE {
                            next = self.consumer.recv().now_or_never();
                        }
                    }
                    // Every partition at its end and the producer done: confirmed with the
                    // broker (an end reported before the producer's last records were appended
                    // is no end), once.
                    if reached_end && signals.borrow().producer_finished && self.read_to_the_end(&at_end) {
                        lag_checked = Instant::now();
                        finished = self.lag() == Some(0);
                    }
                }
                _ = async { if let Some(d) = deadline { tokio::time::sleep_until(d).await } else { std::future::pending::<()>().await } } => {
                    if let Some(b) = batcher.due(Instant::now())
                        && !hand_over(&to_writer, b).await
                    {
                        return Ok(read);
                    }
                }
                _ = check.tick() => {
                    let s = *signals.borrow();
                    if s.stop {
                        hand_over(&to_writer, batcher.take()).await;
                        read.stopped = true;
                        return Ok(read);
                    }
                    if std::mem::take(&mut received) && lag_checked.elapsed() < LAG_METRIC_EVERY {
                        continue;
                    }
                    lag_checked = Instant::now();
                    let lag = self.lag();
                    finished = s.producer_finished && lag == Some(0);
                }
                _ = async {
                    // A dropped sender can signal nothing more; do not spin on it.
                    if signals.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                } => {}
            }
            if finished {
                hand_over(&to_writer, batcher.take()).await;
                info!("producer finished and nothing left to read");
                return Ok(read);
            }
        }
    }

    /// Whether the consumer reported the end of every partition it is assigned.
    fn read_to_the_end(&self, at_end: &HashSet<i32>) -> bool {
        self.consumer.assignment().is_ok_and(|a| {
            a.count() > 0 && a.elements().iter().all(|e| at_end.contains(&e.partition()))
        })
    }
}

/// Hand a closed batch to the writer; false when the writer is gone.
async fn hand_over(to_writer: &mpsc::Sender<Batch>, b: Batch) -> bool {
    if b.is_empty() {
        return true;
    }
    let (records, waiting) = (b.records.len(), Instant::now());
    let sent = to_writer.send(b).await.is_ok();
    tracing::debug!(
        records,
        waited_ms = waiting.elapsed().as_millis() as u64,
        "batch handed to the writer"
    );
    sent
}

/// The writing stage: store each batch (retrying outages), then commit its offsets.
struct Writer<'r> {
    consumer: &'r StreamConsumer,
    storage: &'r mut dyn Storage,
    cfg: &'r RunConfig,
    metrics: &'r SinkMetrics,
}

impl Writer<'_> {
    async fn run(mut self, mut batches: mpsc::Receiver<Batch>) -> Result<RunReport, RunError> {
        let mut report = RunReport::default();
        while let Some(batch) = batches.recv().await {
            self.flush(batch, &mut report).await?;
        }
        Ok(report)
    }

    /// Store `batch` (retrying outages) and commit its offsets.
    async fn flush(&mut self, batch: Batch, report: &mut RunReport) -> Result<(), RunError> {
        let started = Instant::now();
        let batch = Arc::new(batch);
        let mut backoff = self.cfg.retry_start;
        if !batch.records.is_empty() {
            loop {
                match self.storage.write(batch.clone()).await {
                    Ok(stats) => {
                        report.written += stats.records;
                        self.metrics.records_written.inc_by(stats.records);
                        break;
                    }
                    Err(e) if e.is_transient() => {
                        warn!(error = %e, wait_ms = backoff.as_millis() as u64, "storage unavailable; retrying the batch");
                        report.storage_retries += 1;
                        self.metrics.storage_retries.inc();
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(self.cfg.retry_max);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            report.batches += 1;
            self.metrics.batches.inc();
            self.metrics
                .batch_latency
                .observe(started.elapsed().as_secs_f64());
            if let Some((lo, hi)) = batch.key_range() {
                if report.first_key.as_deref().is_none_or(|f| lo < f) {
                    report.first_key = Some(lo.to_owned());
                }
                if report.last_key.as_deref().is_none_or(|l| hi > l) {
                    report.last_key = Some(hi.to_owned());
                }
            }
        }
        let written_in = started.elapsed();
        let mut tpl = TopicPartitionList::new();
        for (p, o) in &batch.commit {
            tpl.add_partition_offset(&self.cfg.topic, *p, Offset::Offset(*o))
                .map_err(kafka("commit"))?;
        }
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(kafka("commit"))?;
        tracing::debug!(
            records = batch.records.len(),
            write_ms = written_in.as_millis() as u64,
            commit_ms = (started.elapsed() - written_in).as_millis() as u64,
            "batch stored and committed"
        );
        Ok(())
    }
}
