//! The Webhooks tab's feed: the latest `queue-events`, newest first, kept in a bounded ring,
//! and a broadcast of each new one to the live clients. The consumer reads without a group from
//! the last [`EventLog::capacity`] events of every partition, so a restarted visualizer shows
//! recent history at once and commits nothing.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use streamforge_api::QueueEvent;
use streamforge_kit::KafkaSettings;
use tokio::sync::broadcast;
use tracing::{info, warn};

use crate::filter::Filter;

/// One event as the page gets it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Seen {
    /// When the broker stored it (ms since the epoch).
    pub received_ms: i64,
    /// The Queue it belongs to (its queue id).
    pub queue: String,
    pub event: QueueEvent,
}

pub struct EventLog {
    ring: Mutex<VecDeque<Arc<Seen>>>,
    capacity: usize,
    live: broadcast::Sender<Arc<Seen>>,
}

impl EventLog {
    pub fn new(capacity: usize, client_buffer: usize) -> Self {
        EventLog {
            ring: Mutex::new(VecDeque::with_capacity(capacity.min(10_000))),
            capacity,
            live: broadcast::channel(client_buffer.max(1)).0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn push(&self, seen: Seen) {
        let seen = Arc::new(seen);
        {
            let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
            if ring.len() == self.capacity {
                ring.pop_back();
            }
            ring.push_front(seen.clone());
        }
        // No live client is not an error.
        let _ = self.live.send(seen);
    }

    /// Up to `limit` events matching `filter`, newest first, and how many match in all.
    pub fn latest(&self, filter: &Filter, limit: usize) -> (Vec<Arc<Seen>>, usize) {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let mut total = 0;
        let mut out = Vec::new();
        for s in ring.iter().filter(|s| filter.event(&s.event)) {
            total += 1;
            if out.len() < limit {
                out.push(s.clone());
            }
        }
        (out, total)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Seen>> {
        self.live.subscribe()
    }
}

/// A group-less consumer of every partition of `topic`, from `tail` records before its end.
pub fn tail_consumer(
    kafka: &KafkaSettings,
    client_id: &str,
    topic: &str,
    tail: i64,
) -> Result<StreamConsumer, String> {
    let mut c = kafka.client_config();
    c.set("client.id", client_id)
        .set("group.id", format!("{client_id}-unused"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "latest")
        .set("fetch.queue.backoff.ms", "20");
    let consumer: StreamConsumer = c.create().map_err(|e| e.to_string())?;
    let partitions = partitions(consumer.client(), topic)?;
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        tpl.add_partition_offset(topic, p, Offset::OffsetTail(tail))
            .map_err(|e| e.to_string())?;
    }
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    Ok(consumer)
}

/// The partition numbers of `topic`; an error when the broker does not know it.
pub fn partitions<C: rdkafka::client::ClientContext>(
    client: &rdkafka::client::Client<C>,
    topic: &str,
) -> Result<Vec<i32>, String> {
    let md = client
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| format!("metadata of {topic}: {e}"))?;
    let t = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .ok_or_else(|| format!("topic {topic} does not exist"))?;
    if t.error().is_some() || t.partitions().is_empty() {
        return Err(format!("topic {topic} does not exist"));
    }
    Ok(t.partitions().iter().map(|p| p.id()).collect())
}

/// A consumer able to ask for metadata and watermarks, not used to read.
pub fn metadata_client(kafka: &KafkaSettings) -> Result<BaseConsumer, String> {
    kafka
        .client_config()
        .set("client.id", "visualizer-metadata")
        .set("group.id", "visualizer-metadata-unused")
        .create()
        .map_err(|e| e.to_string())
}

/// Fold `queue-events` into `log` until the process ends; waits and retries while the topic
/// does not exist yet or the broker is away.
pub async fn follow(kafka: KafkaSettings, topic: String, log: Arc<EventLog>) {
    let tail = log.capacity() as i64;
    loop {
        let consumer = match tail_consumer(&kafka, "visualizer-events", &topic, tail) {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "cannot read {topic} yet; trying again in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        info!(%topic, "following telemetry");
        loop {
            match consumer.recv().await {
                Ok(m) => {
                    let Some(Ok(text)) = m.payload_view::<str>() else {
                        continue;
                    };
                    // Anything not an event is not shown; the operator logs such messages.
                    let Ok(event) = serde_json::from_str::<QueueEvent>(text) else {
                        continue;
                    };
                    log.push(Seen {
                        received_ms: m.timestamp().to_millis().unwrap_or_default(),
                        queue: event.queue_id.clone(),
                        event,
                    });
                }
                Err(e) => {
                    warn!(error = %e, "reading {topic}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seen(q: &str, n: i64) -> Seen {
        Seen {
            received_ms: n,
            queue: q.into(),
            event: serde_json::from_value(json!({"queue_id": q, "status": "loading"})).unwrap(),
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_first_and_is_bounded() {
        let log = EventLog::new(3, 8);
        for n in 0..5 {
            log.push(seen(if n % 2 == 0 { "a" } else { "b" }, n));
        }
        let (all, total) = log.latest(&Filter::default(), 10);
        assert_eq!(total, 3);
        assert_eq!(
            all.iter().map(|s| s.received_ms).collect::<Vec<_>>(),
            [4, 3, 2]
        );
        let only_a = Filter {
            queue_id: Some("a".into()),
            ..Filter::default()
        };
        let (a, total) = log.latest(&only_a, 1);
        assert_eq!((a.len(), total), (1, 2));
        assert_eq!(a[0].received_ms, 4);
    }

    #[test]
    fn live_clients_hear_each_new_event() {
        let log = EventLog::new(3, 8);
        let mut rx = log.subscribe();
        log.push(seen("a", 7));
        assert_eq!(rx.try_recv().unwrap().received_ms, 7);
    }
}
