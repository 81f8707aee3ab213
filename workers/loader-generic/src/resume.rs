//! What a retried upload need not send again: the keys the data topic already holds (a pod
//! that failed halfway, or an earlier run into the same topic). Read once before loading, from
//! every partition's start to its end; a topic holding more than [`MAX_KEYS`] messages is not
//! read (the upload is then sent whole: keys make that harmless for the stores that upsert).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};
use streamforge_kit::KafkaSettings;
use streamforge_loader::sink::SinkError;

/// Most messages read back; beyond it the topic is not read.
pub const MAX_KEYS: i64 = 2_000_000;

/// The keys `topic` holds; empty when it holds none or more than [`MAX_KEYS`] messages.
pub fn stored_keys(
    settings: &KafkaSettings,
    topic: &str,
    timeout: Duration,
) -> Result<HashSet<String>, SinkError> {
    let err = |reason: String| SinkError::Topic {
        topic: topic.to_owned(),
        reason,
    };
    let mut cfg = settings.client_config();
    cfg.set("group.id", "streamforge-loader-generic-resume")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true");
    let consumer: BaseConsumer = cfg.create().map_err(|e| err(e.to_string()))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| err(e.to_string()))?;
    let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(HashSet::new());
    };
    let mut tpl = TopicPartitionList::new();
    let mut ends = Vec::new();
    let mut total = 0;
    for p in t.partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), timeout)
            .map_err(|e| err(e.to_string()))?;
        if high > low {
            total += high - low;
            tpl.add_partition_offset(topic, p.id(), Offset::Offset(low))
                .map_err(|e| err(e.to_string()))?;
            ends.push((p.id(), high));
        }
    }
    if total == 0 || total > MAX_KEYS {
        if total > MAX_KEYS {
            tracing::warn!(
                total,
                "the data topic holds too many messages to read back; the file is sent whole"
            );
        }
        return Ok(HashSet::new());
    }
    consumer.assign(&tpl).map_err(|e| err(e.to_string()))?;
    let mut keys = HashSet::new();
    let deadline = Instant::now() + timeout;
    while !ends.is_empty() {
        if Instant::now() >= deadline {
            return Err(err(format!(
                "reading back what the topic holds took longer than {timeout:?}"
            )));
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                if let Some(k) = m.key().and_then(|k| std::str::from_utf8(k).ok()) {
                    keys.insert(k.to_owned());
                }
                let (partition, offset) = (m.partition(), m.offset());
                ends.retain(|&(p, high)| p != partition || offset + 1 < high);
            }
            // The end of a partition whose last offsets hold no message (a compacted tail, a
            // transaction marker).
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                ends.retain(|&(p, _)| p != partition);
            }
            Some(Err(e)) => return Err(err(e.to_string())),
            None => {}
        }
    }
    Ok(keys)
}
