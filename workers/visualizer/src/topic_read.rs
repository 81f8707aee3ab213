//! Read the latest records of a topic up to its current end, once (for the views that rebuild
//! a state from a topic's history, such as the order-book heatmap). Bounded by a record count
//! per partition and a deadline.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::Value;
use streamforge_kit::KafkaSettings;

use crate::events::partitions;

#[derive(Clone, Debug, PartialEq)]
pub struct TopicRecord {
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub key: Option<String>,
    pub value: Value,
}

/// The last `per_partition` records of each partition of `topic` (JSON payloads; others are
/// skipped), in offset order per partition and then by timestamp across partitions. Blocking:
/// call it off the runtime.
pub fn read_latest(
    kafka: &KafkaSettings,
    topic: &str,
    per_partition: i64,
    deadline: Duration,
) -> Result<Vec<TopicRecord>, String> {
    let consumer: BaseConsumer = kafka
        .client_config()
        .set("client.id", "visualizer-reader")
        .set("group.id", "visualizer-reader-unused")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .map_err(|e| e.to_string())?;
    let parts = partitions(consumer.client(), topic)?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = Vec::new();
    for &p in &parts {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .map_err(|e| format!("offsets of {topic}/{p}: {e}"))?;
        if high > low {
            let from = (high - per_partition).max(low);
            tpl.add_partition_offset(topic, p, Offset::Offset(from))
                .map_err(|e| e.to_string())?;
            ends.push((p, high));
        }
    }
    if ends.is_empty() {
        return Ok(vec![]);
    }
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut out = Vec::new();
    let mut last_seen: Vec<(i32, i64)> = vec![];
    while started.elapsed() < deadline {
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            if done_by(&last_seen, &ends) {
                break;
            }
            continue;
        };
        let m = m.map_err(|e| format!("reading {topic}: {e}"))?;
        match last_seen.iter_mut().find(|(p, _)| *p == m.partition()) {
            Some(seen) => seen.1 = m.offset(),
            None => last_seen.push((m.partition(), m.offset())),
        }
        if let Some(Ok(value)) = m.payload().map(serde_json::from_slice::<Value>) {
            out.push(TopicRecord {
                partition: m.partition(),
                offset: m.offset(),
                timestamp_ms: m.timestamp().to_millis(),
                key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                value,
            });
        }
        if done_by(&last_seen, &ends) {
            break;
        }
    }
    out.sort_by_key(|r| (r.timestamp_ms.unwrap_or_default(), r.partition, r.offset));
    Ok(out)
}

fn done_by(last_seen: &[(i32, i64)], ends: &[(i32, i64)]) -> bool {
    ends.iter().all(|(p, high)| {
        last_seen
            .iter()
            .find(|(q, _)| q == p)
            .is_some_and(|(_, off)| off + 1 >= *high)
    })
}
