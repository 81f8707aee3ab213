//! Dead letters: a malformed message goes to the dead-letter topic as it came (key, payload and
//! its own headers), with why in added headers, and is counted. The added headers are Kafka
//! Connect's (`__connect.errors.topic`, `.partition`, `.offset`, `.connector.name`, `.task.id`,
//! `.stage`, `.class.name`, `.exception.class.name`, `.exception.message`), so tools that read a
//! Connect dead-letter queue read ours, and our own short ones (`x-dlq-reason`,
//! `x-dlq-category`, `x-dlq-source-topic`, `x-dlq-partition`, `x-dlq-offset`).
//!
//! The dead-letter topic is created when the sink starts ([`ensure_topic`]), with the data
//! topic's partitions and replication: brokers that do not create topics on first use (the
//! default on managed Kafka) would otherwise fail the first dead letter.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::{RunError, SinkMetrics};
use crate::core::record::Malformed;

/// Where a dead letter came from and why it is one. Public with [`headers`] so that workers
/// that dead-letter what they read from elsewhere (the generic loader's bad rows) write the
/// same headers.
pub struct Letter<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    /// The message's own headers, kept.
    pub headers: Option<&'a rdkafka::message::BorrowedHeaders>,
    pub reason: String,
    /// Our short label (`key`, `json`, `shape`, `empty`, `store`).
    pub category: &'static str,
    /// Kafka Connect's stage: `KEY_CONVERTER`, `VALUE_CONVERTER` or `TASK_PUT` (the store).
    pub stage: &'static str,
}

/// Send the malformed message `m` to the dead-letter topic as it came.
pub(super) async fn send(
    dlq: &FutureProducer,
    dlq_topic: &str,
    connector: &str,
    m: &BorrowedMessage<'_>,
    why: &Malformed,
    metrics: &SinkMetrics,
) -> Result<(), RunError> {
    let letter = Letter {
        topic: m.topic(),
        partition: m.partition(),
        offset: m.offset(),
        key: m.key(),
        payload: m.payload(),
        headers: m.headers(),
        reason: why.to_string(),
        category: why.category(),
        stage: match why {
            Malformed::NoKey | Malformed::KeyNotUtf8 => "KEY_CONVERTER",
            _ => "VALUE_CONVERTER",
        },
    };
    send_letter(dlq, dlq_topic, connector, letter, metrics).await
}

/// Send one dead letter, with why in Connect's headers and ours, and count it.
pub(super) async fn send_letter(
    dlq: &FutureProducer,
    dlq_topic: &str,
    connector: &str,
    letter: Letter<'_>,
    metrics: &SinkMetrics,
) -> Result<(), RunError> {
    let headers = headers(&letter, connector, CLASS_NAME);
    let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(dlq_topic).headers(headers);
    if let Some(k) = letter.key {
        rec = rec.key(k);
    }
    if let Some(p) = letter.payload {
        rec = rec.payload(p);
    }
    dlq.send(rec, Duration::from_secs(30))
        .await
        .map_err(|(e, _)| RunError::Kafka {
            op: "dead-letter",
            reason: e.to_string(),
        })?;
    metrics
        .dead_letters
        .with_label_values(&[letter.category])
        .inc();
    Ok(())
}

/// `__connect.errors.class.name` of the sinks' dead letters.
pub const CLASS_NAME: &str = "streamforge_sinks";

/// The headers of a dead letter: the message's own first, as it came, then Kafka Connect's
/// (`__connect.errors.*`, naming `connector` and the writer's `class_name`) and ours (`x-dlq-*`).
pub fn headers(letter: &Letter<'_>, connector: &str, class_name: &str) -> OwnedHeaders {
    let partition = letter.partition.to_string();
    let offset = letter.offset.to_string();
    let reason = letter.reason.as_str();
    // The message's own headers first, as it came.
    let mut headers = OwnedHeaders::new();
    if let Some(own) = letter.headers {
        for h in own.iter() {
            headers = headers.insert(Header {
                key: h.key,
                value: h.value,
            });
        }
    }
    for (key, value) in [
        ("__connect.errors.topic", letter.topic),
        ("__connect.errors.partition", partition.as_str()),
        ("__connect.errors.offset", offset.as_str()),
        ("__connect.errors.connector.name", connector),
        ("__connect.errors.task.id", "0"),
        ("__connect.errors.stage", letter.stage),
        ("__connect.errors.class.name", class_name),
        ("__connect.errors.exception.class.name", letter.category),
        ("__connect.errors.exception.message", reason),
        ("x-dlq-reason", reason),
        ("x-dlq-category", letter.category),
        ("x-dlq-source-topic", letter.topic),
        ("x-dlq-partition", partition.as_str()),
        ("x-dlq-offset", offset.as_str()),
    ] {
        headers = headers.insert(Header {
            key,
            value: Some(value),
        });
    }
    headers
}

/// Create `dlq_topic` if it is missing, with the partitions and replication of `data_topic`.
pub async fn ensure_topic(
    kafka: &streamforge_kit::KafkaSettings,
    data_topic: &str,
    dlq_topic: &str,
) -> Result<(), String> {
    let probe: BaseConsumer = kafka
        .client_config()
        .set("allow.auto.create.topics", "false")
        .create()
        .map_err(|e| e.to_string())?;
    let md = probe
        .fetch_metadata(Some(data_topic), Duration::from_secs(10))
        .map_err(|e| format!("metadata of {data_topic}: {e}"))?;
    let (partitions, replication) = md
        .topics()
        .iter()
        .find(|t| t.name() == data_topic && t.error().is_none())
        .map(|t| {
            let replicas = t.partitions().first().map_or(1, |p| p.replicas().len());
            (t.partitions().len().max(1), replicas.max(1))
        })
        .unwrap_or((1, 1));
    streamforge_kit::topics::ensure_topic(
        kafka,
        dlq_topic,
        i32::try_from(partitions).unwrap_or(1),
        i32::try_from(replication).unwrap_or(1),
        None,
    )
    .await
    .map_err(|e| {
        format!(
            "the dead-letter topic cannot be created ({e}); create {dlq_topic} or allow the sink to"
        )
    })
}
