//! Dead letters: a malformed message goes to the dead-letter topic as it came, with why in its
//! headers (`x-dlq-reason`, `x-dlq-category`, source topic, partition, offset), and is counted.

use std::time::Duration;

use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::{RunError, SinkMetrics};
use crate::core::record::Malformed;

/// Send the malformed message `m` to `dlq_topic` as it came (key and payload), with why in its
/// headers, and count it by category.
pub(super) async fn send(
    dlq: &FutureProducer,
    dlq_topic: &str,
    m: &BorrowedMessage<'_>,
    why: &Malformed,
    metrics: &SinkMetrics,
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
    let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(dlq_topic).headers(headers);
    if let Some(k) = m.key() {
        rec = rec.key(k);
    }
    if let Some(p) = m.payload() {
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
        .with_label_values(&[why.category()])
        .inc();
    Ok(())
}
