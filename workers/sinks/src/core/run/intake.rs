//! The reading stage: consume, check each message, dead-letter the malformed, batch the rest,
//! and hand each closed batch to the writer (`hand_over.rs`); it ends on `stop`, or once the
//! producer finished and nothing is left to read (confirmed with the broker). A data topic that
//! does not exist yet (librdkafka's unknown topic or partition) is waited for: logged at most
//! every 10 s, looked for on each tick, and subscribed to again once it exists.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use futures::FutureExt;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::FutureProducer;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use streamforge_kit::kafka::ErrorLog;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::{RunConfig, RunError, Signals, SinkMetrics, dead_letter, kafka};
use crate::core::batch::{Batch, Batcher};
use crate::core::record;
use crate::core::storage::Resume;

/// Messages the intake takes from librdkafka's queue in one go, at most.
const DRAIN_AT_ONCE: usize = 1024;

/// Partitions whose watermarks are asked for at once (one thread each) in a lag check.
const WATERMARKS_AT_ONCE: usize = 16;

/// How often the lag metric is refreshed while records flow.
const LAG_METRIC_EVERY: Duration = Duration::from_secs(5);

/// What the intake counted.
#[derive(Default)]
pub(super) struct Read {
    pub(super) dead_letters: u64,
    pub(super) stopped: bool,
}

/// The reading stage: consume, check each message, dead-letter the malformed, batch the rest.
pub(super) struct Intake<'r> {
    pub(super) consumer: &'r StreamConsumer,
    pub(super) dlq: &'r FutureProducer,
    pub(super) cfg: &'r RunConfig,
    pub(super) metrics: &'r SinkMetrics,
}

impl<'r> Intake<'r> {
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
        let parts: Vec<(String, i32)> = assignment
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect();
        // Each query waits on the broker's connection behind the consumer's own fetch, which at
        // the end of a partition is held for `fetch.wait.max.ms` (500 ms): asked together, the
        // partitions cost one such wait instead of one each.
        let consumer = self.consumer;
        let mut watermarks = Vec::with_capacity(parts.len());
        for group in parts.chunks(WATERMARKS_AT_ONCE) {
            std::thread::scope(|s| {
                let asks: Vec<_> = group
                    .iter()
                    .map(|(topic, partition)| {
                        s.spawn(move || {
                            consumer
                                .fetch_watermarks(topic, *partition, Duration::from_secs(5))
                                .ok()
                        })
                    })
                    .collect();
                watermarks.extend(asks.into_iter().map(|a| a.join().ok().flatten()));
            });
        }
        let mut lag = 0;
        for ((topic, partition), marks) in parts.iter().zip(watermarks) {
            let (low, high) = marks?;
            let valid = |tpl: &TopicPartitionList| {
                tpl.find_partition(topic, *partition)
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
    pub(super) fn resume_positions(&self) -> Result<HashMap<i32, Resume>, RunError> {
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
            let resume = match e.offset() {
                Offset::Offset(o) if o >= 0 => Resume {
                    offset: o,
                    metadata: Some(e.metadata())
                        .filter(|m| !m.is_empty())
                        .map(str::to_owned),
                },
                _ => Resume {
                    offset: self
                        .consumer
                        .fetch_watermarks(topic, e.partition(), Duration::from_secs(10))
                        .map_err(kafka("watermarks"))?
                        .0,
                    metadata: None,
                },
            };
            out.insert(e.partition(), resume);
        }
        Ok(out)
    }

    /// Read until the end of input or `stop`, handing each closed batch to the writer. Returns
    /// early, without error, when the writer is gone (it failed, and its error is the run's).
    pub(super) async fn run(
        self,
        mut signals: watch::Receiver<Signals>,
        to_writer: mpsc::Sender<Batch>,
    ) -> Result<Read, RunError> {
        let mut flow = Flow {
            read: Read::default(),
            batcher: Batcher::new(self.cfg.batch_records, self.cfg.batch_wait),
            received: false,
            at_end: HashSet::new(),
            held: VecDeque::new(),
            topic: TopicWait::default(),
        };
        let mut check = tokio::time::interval(Duration::from_millis(500));
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The lag check makes blocking broker requests, so it runs only when the consumer went
        // idle since the last tick (the end of input is near) or every few seconds for the
        // metric; never once per message while records flow.
        let mut lag_checked = Instant::now();
        loop {
            // Messages the consumer returned while the writer was busy come first, in order.
            while let Some(m) = flow.held.pop_front() {
                if !self.take(&m, Instant::now(), &mut flow, &to_writer).await? {
                    return Ok(flow.read);
                }
            }
            let deadline = flow.batcher.deadline().map(tokio::time::Instant::from_std);
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
                                if !self.take(&m, now, &mut flow, &to_writer).await? {
                                    return Ok(flow.read);
                                }
                            }
                            Err(e) => reached_end |= self.consumer_error(e, &mut flow)?,
                        }
                        handled += 1;
                        // Held messages go before anything read after them.
                        if handled < DRAIN_AT_ONCE && flow.held.is_empty() {
                            next = self.consumer.recv().now_or_never();
                        }
                    }
                    // Every partition at its end and the producer done: confirmed with the
                    // broker (an end reported before the producer's last records were appended
                    // is no end), once.
                    if reached_end && signals.borrow().producer_finished && self.read_to_the_end(&flow.at_end) {
                        lag_checked = Instant::now();
                        finished = self.lag() == Some(0);
                    }
                    // The writer runs in this task: while messages keep arriving the consumer is
                    // always ready, so without a yield the writer would not be polled (its
                    // finished encodes not uploaded, its next files not started) until the
                    // intake caught up with the topic.
                    if handled >= DRAIN_AT_ONCE {
                        tokio::task::yield_now().await;
                    }
                }
                _ = async { if let Some(d) = deadline { tokio::time::sleep_until(d).await } else { std::future::pending::<()>().await } } => {
                    if let Some(b) = flow.batcher.due(Instant::now())
                        && !self.hand_over(&to_writer, b, &mut flow).await?
                    {
                        return Ok(flow.read);
                    }
                }
                _ = check.tick() => {
                    let s = *signals.borrow();
                    if s.stop {
                        let b = flow.batcher.take();
                        self.hand_over(&to_writer, b, &mut flow).await?;
                        flow.read.stopped = true;
                        return Ok(flow.read);
                    }
                    if flow.topic.missing {
                        self.look_for_topic(&mut flow.topic)?;
                    }
                    if std::mem::take(&mut flow.received) && lag_checked.elapsed() < LAG_METRIC_EVERY {
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
                let b = flow.batcher.take();
                self.hand_over(&to_writer, b, &mut flow).await?;
                info!("producer finished and nothing left to read");
                return Ok(flow.read);
            }
        }
    }

    /// Check one message and batch it, or dead-letter it; false when the writer is gone.
    async fn take(
        &self,
        m: &BorrowedMessage<'r>,
        now: Instant,
        flow: &mut Flow<'r>,
        to_writer: &mpsc::Sender<Batch>,
    ) -> Result<bool, RunError> {
        flow.received = true;
        if !flow.at_end.is_empty() {
            flow.at_end.remove(&m.partition());
        }
        match record::parse(
            m.key(),
            m.payload(),
            m.partition(),
            m.offset(),
            m.timestamp().to_millis(),
        ) {
            Ok(r) => {
                if let Some(full) = flow.batcher.push(r, now) {
                    return self.hand_over(to_writer, full, flow).await;
                }
            }
            Err(why) => {
                dead_letter::send(
                    self.dlq,
                    &self.cfg.dlq_topic,
                    &self.cfg.connector_name,
                    m,
                    &why,
                    self.metrics,
                )
                .await?;
                flow.read.dead_letters += 1;
                flow.batcher.skip(m.partition(), m.offset(), now);
            }
        }
        Ok(true)
    }

    /// What a consumer error means: a partition end (true), a data topic that does not exist
    /// yet (waited for), or the end of the run.
    pub(super) fn consumer_error(
        &self,
        e: KafkaError,
        flow: &mut Flow<'r>,
    ) -> Result<bool, RunError> {
        match e {
            KafkaError::PartitionEOF(p) => {
                flow.at_end.insert(p);
                Ok(true)
            }
            e if topic_missing(&e) => {
                flow.topic.missing = true;
                flow.topic.note(&self.cfg.topic, &e);
                Ok(false)
            }
            e => Err(kafka("consume")(e)),
        }
    }

    /// While the data topic is missing: once it exists, subscribe again, so the consumer sees
    /// it now rather than at its next metadata refresh (minutes later).
    fn look_for_topic(&self, wait: &mut TopicWait) -> Result<(), RunError> {
        let topic = self.cfg.topic.as_str();
        let exists = self
            .consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .is_ok_and(|md| {
                md.topics()
                    .iter()
                    .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
            });
        if !exists {
            return Ok(());
        }
        info!(topic, "the data topic exists now; subscribing again");
        self.consumer.unsubscribe();
        self.consumer
            .subscribe(&[topic])
            .map_err(kafka("subscribe"))?;
        *wait = TopicWait::default();
        Ok(())
    }

    /// Whether the consumer reported the end of every partition it is assigned.
    fn read_to_the_end(&self, at_end: &HashSet<i32>) -> bool {
        self.consumer.assignment().is_ok_and(|a| {
            a.count() > 0 && a.elements().iter().all(|e| at_end.contains(&e.partition()))
        })
    }
}

/// The intake's state between messages.
pub(super) struct Flow<'r> {
    read: Read,
    batcher: Batcher,
    /// A message came since the last tick.
    received: bool,
    /// Partitions read to their end since their last message, when the consumer reports ends
    /// (`KafkaSettings::consumer_reporting_ends`): the end of input is then known the moment it
    /// is reached, not a tick or two later.
    at_end: HashSet<i32>,
    /// Messages the consumer returned while its partitions were paused for a busy writer
    /// (fetched before the pause took hold); they are taken before the next read.
    pub(super) held: VecDeque<BorrowedMessage<'r>>,
    topic: TopicWait,
}

/// Waiting for a data topic that does not exist yet; logged at most every
/// [`ErrorLog::EVERY`].
#[derive(Default)]
struct TopicWait {
    missing: bool,
    log: ErrorLog,
}

impl TopicWait {
    fn note(&mut self, topic: &str, e: &KafkaError) {
        if let Some(since) = self.log.note(Instant::now()) {
            warn!(topic, error = %e, repeated = since, "the data topic does not exist yet; waiting for it");
        }
    }
}

/// librdkafka's answer for a subscription to a topic that does not exist (yet).
fn topic_missing(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic)
    )
}
