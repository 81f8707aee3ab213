//! Where records go: the data topic in Kafka, or memory in tests.
//!
//! The Kafka sink keeps a bounded number of sends in flight (backpressure, not memory growth)
//! and surfaces the first delivery error. Its producer is idempotent, so librdkafka's retries
//! never duplicate a record.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use futures::future::BoxFuture;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use streamforge_kit::KafkaSettings;

use crate::records::position_of_key;

/// Sends in flight before `write` waits for the oldest.
pub const MAX_IN_FLIGHT: usize = 50_000;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("writing to Kafka topic {topic}: {reason}")]
    Kafka { topic: String, reason: String },
    #[error("preparing Kafka topic {topic}: {reason}")]
    Topic { topic: String, reason: String },
}

pub trait RecordSink: Send {
    fn write(&mut self, key: String, payload: Vec<u8>) -> BoxFuture<'_, Result<(), SinkError>>;
    /// Wait until everything written is acknowledged.
    fn flush(&mut self) -> BoxFuture<'_, Result<(), SinkError>>;
}

/// Keeps records in memory, in order. For tests.
#[derive(Default)]
pub struct MemorySink {
    pub records: Vec<(String, Vec<u8>)>,
}

impl RecordSink for MemorySink {
    fn write(&mut self, key: String, payload: Vec<u8>) -> BoxFuture<'_, Result<(), SinkError>> {
        self.records.push((key, payload));
        Box::pin(async { Ok(()) })
    }
    fn flush(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async { Ok(()) })
    }
}

pub struct KafkaSink {
    producer: FutureProducer,
    topic: String,
    in_flight: VecDeque<DeliveryFuture>,
}

impl KafkaSink {
    pub fn new(producer: FutureProducer, topic: impl Into<String>) -> Self {
        Self {
            producer,
            topic: topic.into(),
            in_flight: VecDeque::new(),
        }
    }

    fn err(&self, reason: impl ToString) -> SinkError {
        SinkError::Kafka {
            topic: self.topic.clone(),
            reason: reason.to_string(),
        }
    }

    async fn settle_oldest(&mut self) -> Result<(), SinkError> {
        if let Some(f) = self.in_flight.pop_front() {
            match f.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(self.err(e)),
                Err(_) => return Err(self.err("delivery was cancelled")),
            }
        }
        Ok(())
    }
}

impl RecordSink for KafkaSink {
    fn write(&mut self, key: String, payload: Vec<u8>) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            loop {
                let record = FutureRecord::to(&self.topic).key(&key).payload(&payload);
                match self.producer.send_result(record) {
                    Ok(f) => {
                        self.in_flight.push_back(f);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        if self.in_flight.is_empty() {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        self.settle_oldest().await?;
                    }
                    Err((e, _)) => return Err(self.err(e)),
                }
            }
            while self.in_flight.len() >= MAX_IN_FLIGHT {
                self.settle_oldest().await?;
            }
            Ok(())
        })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            while !self.in_flight.is_empty() {
                self.settle_oldest().await?;
            }
            Ok(())
        })
    }
}

/// Create `topic` if it is missing (an existing topic is left as it is).
pub async fn ensure_topic(
    settings: &KafkaSettings,
    topic: &str,
    partitions: i32,
    replication: i32,
    retention_ms: Option<i64>,
) -> Result<(), SinkError> {
    streamforge_kit::topics::ensure_topic(settings, topic, partitions, replication, retention_ms)
        .await
        .map_err(|e| SinkError::Topic {
            topic: e.topic,
            reason: e.reason,
        })
}

/// Where a restarted historical loader continues.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resume {
    /// Continue after this position: every partition reached it ([`safe_resume`]).
    pub after: Option<i64>,
    /// Positions past `after` that some partition already holds: sending them again is
    /// harmless for stores that upsert by key, but the lake appends, so they are not sent.
    pub present: HashSet<i64>,
}

/// Where a restarted loader continues in `topic`: after the position every partition reached,
/// skipping what is already stored past it (read from the tails of the partitions ahead, at
/// most [`MAX_IN_FLIGHT`] records each: no more can have been in flight), so nothing that was
/// in flight when the last run ended is skipped, and nothing is stored twice.
pub fn resume_point(
    settings: &KafkaSettings,
    topic: &str,
    timeout: Duration,
) -> Result<Resume, SinkError> {
    let terr = |reason: String| SinkError::Topic {
        topic: topic.to_owned(),
        reason,
    };
    let mut cfg = settings.client_config();
    cfg.set("group.id", "streamforge-loader-resume")
        .set("enable.auto.commit", "false");
    let consumer: BaseConsumer = cfg.create().map_err(|e| terr(e.to_string()))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| terr(e.to_string()))?;
    let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(Resume::default());
    };
    // The last record of each partition.
    let mut marks = Vec::with_capacity(t.partitions().len());
    for p in t.partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), timeout)
            .map_err(|e| terr(e.to_string()))?;
        let last = if high <= low {
            None
        } else {
            read(&consumer, topic, p.id(), high - 1, high, timeout)
                .map_err(terr)?
                .last()
                .copied()
        };
        marks.push((p.id(), low, high, last));
    }
    let lasts: Vec<Option<i64>> = marks.iter().map(|m| m.3).collect();
    let after = safe_resume(&lasts);
    let mut present = HashSet::new();
    if let Some(after) = after {
        for &(id, low, high, last) in &marks {
            if last.is_some_and(|l| l > after) {
                let from = (high - MAX_IN_FLIGHT as i64 - 1).max(low);
                let seen = read(&consumer, topic, id, from, high, timeout).map_err(terr)?;
                present.extend(seen.into_iter().filter(|&pos| pos > after));
            }
        }
    }
    Ok(Resume { after, present })
}

/// The positions of partition `partition`'s records at offsets `[from, to)`.
fn read(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
    from: i64,
    to: i64,
    timeout: Duration,
) -> Result<Vec<i64>, String> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(from))
        .map_err(|e| e.to_string())?;
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut last_seen = from - 1;
    let deadline = std::time::Instant::now() + timeout;
    while last_seen + 1 < to {
        if std::time::Instant::now() >= deadline {
            return Err(format!(
                "reading {topic}/{partition} up to offset {to} took longer than {timeout:?}"
            ));
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) if m.partition() == partition => {
                last_seen = m.offset();
                if let Some(pos) = m.key().and_then(position_of_key) {
                    out.push(pos);
                }
            }
            Some(Err(e)) => return Err(e.to_string()),
            _ => {}
        }
    }
    Ok(out)
}

/// A sink that does not send records whose position is already stored (a resumed load's
/// [`Resume::present`]), passing the rest on.
pub struct SkipPresent<'a> {
    pub inner: &'a mut dyn RecordSink,
    pub present: HashSet<i64>,
    /// Records not sent because they were there.
    pub skipped: u64,
}

impl RecordSink for SkipPresent<'_> {
    fn write(&mut self, key: String, payload: Vec<u8>) -> BoxFuture<'_, Result<(), SinkError>> {
        if position_of_key(key.as_bytes()).is_some_and(|p| self.present.contains(&p)) {
            self.skipped += 1;
            return Box::pin(async { Ok(()) });
        }
        self.inner.write(key, payload)
    }
    fn flush(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        self.inner.flush()
    }
}

/// Where to continue, from the last position of each partition (`None`: empty, or its last
/// key unreadable). The producer sends in increasing position and each partition keeps its
/// records in send order, so every record up to the smallest partition's last position was
/// stored; past it, a partition that is behind may have lost sends that were in flight. With an
/// empty partition nothing is certain and the load starts over (keys make that harmless).
pub fn safe_resume(lasts: &[Option<i64>]) -> Option<i64> {
    if lasts.is_empty() || lasts.iter().any(Option::is_none) {
        return None;
    }
    lasts.iter().flatten().copied().min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_from_where_every_partition_arrived() {
        // The largest last position (1000) would skip what partition 1 lost after 500.
        assert_eq!(safe_resume(&[Some(1000), Some(500), Some(900)]), Some(500));
        assert_eq!(safe_resume(&[Some(7)]), Some(7));
        assert_eq!(safe_resume(&[Some(1000), None, Some(900)]), None);
        assert_eq!(safe_resume(&[]), None);
    }
}
