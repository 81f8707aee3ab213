//! Dead letters: a row or message that cannot be loaded goes to `<data topic>-dlq` as it came,
//! with why in the same headers the sinks write (Kafka Connect's `__connect.errors.*` and our
//! `x-dlq-*`, built by [`streamforge_sinks::core::run::dead_letter::headers`]). The source topic
//! header names the file or feed URL and the offset header the row's number (the line of a
//! text file) or the message's sequence number; the partition is -1.

use std::time::Duration;

use futures::future::BoxFuture;
use rdkafka::producer::{FutureProducer, FutureRecord};
use streamforge_loader::sink::SinkError;
use streamforge_sinks::core::run::dead_letter;

/// `__connect.errors.class.name` of this loader's dead letters.
pub const CLASS_NAME: &str = "streamforge_loader_generic";

/// The dead-letter topic of `data_topic` (the sinks name theirs the same).
pub fn topic_for(data_topic: &str) -> String {
    format!("{data_topic}-dlq")
}

/// One row or message that was not loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    /// The file or feed URL.
    pub source: String,
    /// The row's number, or the message's sequence number.
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub reason: String,
    /// A short fixed label (`missing`, `number`, `time`, `json`, `key`, ...).
    pub category: &'static str,
}

pub trait DeadLetterSink: Send {
    fn send(&mut self, letter: DeadLetter) -> BoxFuture<'_, Result<(), SinkError>>;
}

/// Keeps dead letters in memory. For tests.
#[derive(Default)]
pub struct MemoryDeadLetters {
    pub letters: Vec<DeadLetter>,
}

impl DeadLetterSink for MemoryDeadLetters {
    fn send(&mut self, letter: DeadLetter) -> BoxFuture<'_, Result<(), SinkError>> {
        self.letters.push(letter);
        Box::pin(async { Ok(()) })
    }
}

/// Sends dead letters to the dead-letter topic, each acknowledged before the next row.
pub struct KafkaDeadLetters {
    producer: FutureProducer,
    topic: String,
    /// `__connect.errors.connector.name`: the worker's telemetry id.
    connector: String,
}

impl KafkaDeadLetters {
    pub fn new(
        producer: FutureProducer,
        topic: impl Into<String>,
        connector: impl Into<String>,
    ) -> Self {
        Self {
            producer,
            topic: topic.into(),
            connector: connector.into(),
        }
    }
}

impl DeadLetterSink for KafkaDeadLetters {
    fn send(&mut self, l: DeadLetter) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            let letter = dead_letter::Letter {
                topic: &l.source,
                partition: -1,
                offset: l.offset,
                key: l.key.as_deref(),
                payload: Some(&l.payload),
                headers: None,
                reason: l.reason.clone(),
                category: l.category,
                stage: if l.category == "key" {
                    "KEY_CONVERTER"
                } else {
                    "VALUE_CONVERTER"
                },
            };
            let headers = dead_letter::headers(&letter, &self.connector, CLASS_NAME);
            let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic)
                .headers(headers)
                .payload(&l.payload);
            if let Some(k) = l.key.as_deref() {
                rec = rec.key(k);
            }
            self.producer
                .send(rec, Duration::from_secs(30))
                .await
                .map_err(|(e, _)| SinkError::Kafka {
                    topic: self.topic.clone(),
                    reason: e.to_string(),
                })?;
            crate::metrics::dead_letter(l.category);
            Ok(())
        })
    }
}

/// Create the dead-letter topic of `data_topic` (which must exist) with its partitions and
/// replication, as the sinks do.
pub async fn ensure_topic(
    kafka: &streamforge_kit::KafkaSettings,
    data_topic: &str,
) -> Result<String, SinkError> {
    let topic = topic_for(data_topic);
    dead_letter::ensure_topic(kafka, data_topic, &topic)
        .await
        .map_err(|reason| SinkError::Topic {
            topic: topic.clone(),
            reason,
        })?;
    Ok(topic)
}
