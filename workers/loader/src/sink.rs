//! Where records go: the data topic in Kafka, or memory in tests.
//!
//! The Kafka sink keeps a bounded number of sends in flight (backpressure, not memory growth)
//! and surfaces the first delivery error. Its producer is idempotent, so librdkafka's retries
//! never duplicate a record.

use std::collections::VecDeque;
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

/// The position (open time or trade id, from the record keys) a restarted loader may continue
/// after: one that every partition of `topic` has reached ([`safe_resume`]), so nothing that
/// was in flight when the last run ended is skipped. Keys are idempotent, so what is sent again
/// overwrites itself.
pub fn last_position(
    settings: &KafkaSettings,
    topic: &str,
    timeout: Duration,
) -> Result<Option<i64>, SinkError> {
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
        return Ok(None);
    };
    let mut lasts: Vec<Option<i64>> = Vec::with_capacity(t.partitions().len());
    for p in t.partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), timeout)
            .map_err(|e| terr(e.to_string()))?;
        if high <= low {
            lasts.push(None);
            continue;
        }
        let mut last = None;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, p.id(), Offset::Offset(high - 1))
            .map_err(|e| terr(e.to_string()))?;
        consumer.assign(&tpl).map_err(|e| terr(e.to_string()))?;
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) if m.partition() == p.id() => {
                    last = m.key().and_then(position_of_key);
                    break;
                }
                Some(Err(e)) => return Err(terr(e.to_string())),
                _ => {}
            }
        }
        lasts.push(last);
    }
    Ok(safe_resume(&lasts))
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
