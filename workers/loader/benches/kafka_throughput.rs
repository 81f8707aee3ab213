//! Loader → real Kafka broker throughput with the weight budget lifted: candles fetched from the
//! simulator and written to a data topic, in records per second, against a producer baseline
//! with the same settings: the loader's producer, a topic of `PARTITIONS` partitions, records
//! keyed as the loader keys them and of the loader's mean size, without the exchange. Kafka's
//! own producer performance tool runs on a topic of the same partitions in
//! `e2e/bench-loader.sh`, unkeyed (the tool cannot key records).
//!
//! Run: `KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 cargo bench -p streamforge-loader --bench kafka_throughput`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use futures::future::BoxFuture;
use streamforge_kit::KafkaSettings;
use streamforge_loader::binance::rest::RestClient;
use streamforge_loader::datatype::Interval;
use streamforge_loader::historical::{self, Progress};
use streamforge_loader::sink::{self, KafkaSink, RecordSink, SinkError};
use tokio::sync::watch;

/// Partitions of both topics; `e2e/bench-loader.sh` gives Kafka's tool the same.
const PARTITIONS: i32 = 3;

/// Counts what passes through to the Kafka sink: records and key + payload bytes.
struct Counted<S> {
    inner: S,
    records: u64,
    bytes: u64,
}

impl<S: RecordSink> RecordSink for Counted<S> {
    fn write(&mut self, key: String, payload: Vec<u8>) -> BoxFuture<'_, Result<(), SinkError>> {
        self.records += 1;
        self.bytes += (key.len() + payload.len()) as u64;
        self.inner.write(key, payload)
    }
    fn flush(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        self.inner.flush()
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Ok(bootstrap) = std::env::var("KAFKA_BOOTSTRAP_SERVERS") else {
        println!(
            "KAFKA_BOOTSTRAP_SERVERS is not set: skipped (start a broker with e2e/kafka/start.sh)"
        );
        return;
    };
    let days: i64 = std::env::var("BENCH_DAYS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(365);
    let config = binance_sim::Config {
        weight_limit: u32::MAX,
        ..binance_sim::Config::default()
    };
    let (addr, _state, _task) = binance_sim::serve("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let rest = RestClient::new(&format!("http://{addr}"), u32::MAX / 2).unwrap();
    let settings = KafkaSettings::plaintext(bootstrap);
    let topic = format!("bench-candles-{}", std::process::id());
    sink::ensure_topic(&settings, &topic, PARTITIONS, 1, None)
        .await
        .unwrap();
    let mut out = Counted {
        inner: KafkaSink::new(settings.producer("bench").unwrap(), topic.clone()),
        records: 0,
        bytes: 0,
    };
    let (tx, _rx) = watch::channel(Progress::default());
    let start = 1_672_531_200_000; // 2023-01-01
    let end = start + days * 86_400_000;
    let t0 = Instant::now();
    let report = historical::candles(
        &rest,
        &mut out,
        "BTCUSDT",
        Interval::parse("1m").unwrap(),
        start,
        end,
        end + 60_000,
        None,
        &tx,
    )
    .await
    .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let loader_rate = report.produced as f64 / secs;
    assert_eq!(
        out.records, report.produced,
        "every record reached the sink"
    );
    let mean = (out.bytes / out.records.max(1)) as usize;

    // The baseline: the same producer and sink, the same number of records, keys of the same
    // form and the loader's mean record size, to a fresh topic of the same partitions.
    let base_topic = format!("bench-baseline-{}", std::process::id());
    sink::ensure_topic(&settings, &base_topic, PARTITIONS, 1, None)
        .await
        .unwrap();
    let mut base = KafkaSink::new(
        settings.producer("bench-baseline").unwrap(),
        base_topic.clone(),
    );
    let t1 = Instant::now();
    for i in 0..out.records as i64 {
        let key = format!("BTCUSDT|1m|{}", start + i * 60_000);
        let payload = vec![b'x'; mean.saturating_sub(key.len())];
        base.write(key, payload).await.unwrap();
    }
    base.flush().await.unwrap();
    let base_secs = t1.elapsed().as_secs_f64();
    let base_rate = out.records as f64 / base_secs;

    println!(
        "producer baseline, topic {base_topic} ({PARTITIONS} partitions): {} keyed records of {mean} bytes in {base_secs:.1}s = {base_rate:.0} records/s",
        out.records
    );
    println!(
        "loader, topic {topic} ({PARTITIONS} partitions): {} candles ({days} days of 1m, {mean} bytes each on average, keyed) in {secs:.1}s = {loader_rate:.0} records/s = {:.0}% of the baseline, complete: {}",
        report.produced,
        100.0 * loader_rate / base_rate,
        report.is_complete()
    );
}
