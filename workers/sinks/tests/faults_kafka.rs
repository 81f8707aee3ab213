//! The connector core under faults, on the real broker (`STREAMFORGE_TEST_KAFKA`): a storage
//! outage longer than the consumer's `max.poll.interval.ms` keeps the sink in its group (its
//! partitions are paused and it goes on polling), and a sink that starts before its data topic
//! exists waits for it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/topics.rs"]
mod topics;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureRecord;
use serde_json::json;
use streamforge_kit::KafkaSettings;
use streamforge_kit::testing::{real_kafka, unique};
use streamforge_sinks::core::run::{RunConfig, RunError, RunReport, Runner, Signals, SinkMetrics};
use streamforge_sinks::core::{Batch, Storage, StorageError, WriteStats};
use tokio::sync::watch;

use topics::real_topic;

/// What the store double saw: how often each key was written.
#[derive(Default)]
struct Seen {
    writes: HashMap<String, u32>,
}

/// A store in memory that is unavailable until `down_until` (set at its first write when
/// `outage` is given).
struct MemoryStore {
    seen: Arc<Mutex<Seen>>,
    outage: Option<Duration>,
    down_until: Option<Instant>,
}

impl Storage for MemoryStore {
    fn prepare(&mut self) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async { Ok(()) })
    }

    fn write(&mut self, batch: Arc<Batch>) -> BoxFuture<'_, Result<WriteStats, StorageError>> {
        Box::pin(async move {
            if let Some(outage) = self.outage {
                let until = *self
                    .down_until
                    .get_or_insert_with(|| Instant::now() + outage);
                if Instant::now() < until {
                    return Err(StorageError::Unavailable("the store double is down".into()));
                }
            }
            let mut seen = self.seen.lock().unwrap();
            for r in &batch.records {
                *seen.writes.entry(r.key.clone()).or_default() += 1;
            }
            Ok(WriteStats {
                records: batch.records.len() as u64,
                requests: 1,
                ..WriteStats::default()
            })
        })
    }
}

async fn produce(settings: &KafkaSettings, topic: &str, keys: impl Iterator<Item = String>) {
    let producer = settings.producer("loader").unwrap();
    for key in keys {
        let payload = json!({"symbol": "BTCUSDT", "key": key}).to_string();
        producer
            .send(
                FutureRecord::to(topic).key(&key).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
}

/// The group's committed offset and the end offset of every partition of `topic`.
fn committed_and_ends(consumer: &StreamConsumer, topic: &str) -> Vec<(i32, i64, i64)> {
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let t = md.topics().iter().find(|t| t.name() == topic).unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in t.partitions() {
        tpl.add_partition(topic, p.id());
    }
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    committed
        .elements()
        .iter()
        .map(|e| {
            let (_, high) = consumer
                .fetch_watermarks(topic, e.partition(), Duration::from_secs(10))
                .unwrap();
            (e.partition(), e.offset().to_raw().unwrap_or(-1), high)
        })
        .collect()
}

fn keys(n: usize) -> impl Iterator<Item = String> {
    (0..n).map(|i| format!("BTCUSDT|1m|{}", 1_722_470_400_000i64 + i as i64 * 60_000))
}

/// A storage outage of 15 s against a consumer whose `max.poll.interval.ms` is 6 s: while the
/// writer retries, the intake pauses its partitions and keeps polling, so the sink stays in its
/// group, every record is stored once, the run ends well and every offset is committed.
#[tokio::test]
async fn real_broker_sink_stays_in_its_group_through_an_outage_longer_than_the_poll_interval() {
    let Some((settings, topic)) =
        real_topic("real_broker_sink_stays_in_its_group", "wf-long-outage", 3).await
    else {
        return;
    };
    const RECORDS: usize = 600;
    produce(&settings, &topic, keys(RECORDS)).await;

    let consumer = settings
        .consumer_reporting_ends_within(
            "sink",
            &unique("long-outage"),
            Some(Duration::from_millis(6_000)),
        )
        .unwrap();
    let dlq = settings.producer("sink-dlq").unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut storage = MemoryStore {
        seen: seen.clone(),
        outage: Some(Duration::from_secs(15)),
        down_until: None,
    };
    let mut cfg = RunConfig::new(&topic);
    cfg.batch_records = 50;
    cfg.batch_wait = Duration::from_millis(200);
    cfg.retry_start = Duration::from_millis(100);
    cfg.retry_max = Duration::from_secs(1);
    cfg.retry_give_up = Duration::from_secs(120);
    let (_tx, rx) = watch::channel(Signals {
        producer_finished: true,
        stop: false,
    });
    let mut runner = Runner {
        consumer: &consumer,
        storage: &mut storage,
        dlq: &dlq,
        cfg,
        metrics: SinkMetrics::new(&prometheus::Registry::new()).unwrap(),
    };
    let report: Result<RunReport, RunError> =
        tokio::time::timeout(Duration::from_secs(120), runner.run(rx))
            .await
            .expect("the sink ends by itself");
    drop(runner);
    let report = report.expect("the run ends well after the outage");
    assert!(report.storage_retries > 0, "the store was down: {report:?}");

    let seen = seen.lock().unwrap();
    assert_eq!(seen.writes.len(), RECORDS, "every record stored");
    let again: Vec<_> = seen.writes.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        again.is_empty(),
        "{} records delivered and written twice (the group was left and rejoined): {:?}",
        again.len(),
        again.iter().take(3).collect::<Vec<_>>()
    );
    assert_eq!(report.written, RECORDS as u64);
    for (p, committed, end) in committed_and_ends(&consumer, &topic) {
        assert_eq!(committed, end, "partition {p}: committed offset at its end");
    }
}

/// A sink started on a topic that does not exist yet waits for it: the topic is made and
/// records produced 3.5 s later, and the sink stores them all and commits them.
#[tokio::test]
async fn real_broker_sink_waits_for_a_data_topic_made_after_it_started() {
    let Some(settings) = real_kafka("real_broker_sink_waits_for_a_data_topic") else {
        return;
    };
    let topic = unique("wf-late-topic");
    let consumer = settings
        .consumer_reporting_ends("sink", &unique("late-topic"))
        .unwrap();
    let dlq = settings.producer("sink-dlq").unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut storage = MemoryStore {
        seen: seen.clone(),
        outage: None,
        down_until: None,
    };
    let mut cfg = RunConfig::new(&topic);
    cfg.batch_records = 10;
    cfg.batch_wait = Duration::from_millis(200);
    let (tx, rx) = watch::channel(Signals::default());
    let mut runner = Runner {
        consumer: &consumer,
        storage: &mut storage,
        dlq: &dlq,
        cfg,
        metrics: SinkMetrics::new(&prometheus::Registry::new()).unwrap(),
    };
    const RECORDS: usize = 30;
    let loader = async {
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        streamforge_kit::topics::ensure_topic(&settings, &topic, 3, 1, None)
            .await
            .unwrap();
        produce(&settings, &topic, keys(RECORDS)).await;
        // The loader is done once the sink stored everything (or never, if it does not).
        let waiting = Instant::now();
        while seen.lock().unwrap().writes.len() < RECORDS {
            assert!(
                waiting.elapsed() < Duration::from_secs(60),
                "stored {} of {RECORDS} records within 60 s of the topic's creation",
                seen.lock().unwrap().writes.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tx.send_modify(|s| s.producer_finished = true);
        std::future::pending::<std::convert::Infallible>().await
    };
    let report = tokio::select! {
        r = tokio::time::timeout(Duration::from_secs(90), runner.run(rx)) => r.expect("the sink ends by itself"),
        never = loader => match never {},
    };
    drop(runner);
    let report = report.expect("a missing topic is waited for, not an error");
    assert_eq!(report.written, RECORDS as u64);
    assert_eq!(seen.lock().unwrap().writes.len(), RECORDS);
    for (p, committed, end) in committed_and_ends(&consumer, &topic) {
        assert_eq!(committed, end, "partition {p}: committed offset at its end");
    }
}
