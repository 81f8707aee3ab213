//! Loader → real Kafka broker throughput with the weight budget lifted: candles fetched from the
//! simulator and written to a data topic, in records per second. Compare with Kafka's own
//! producer performance tool on the same broker (`e2e/bench-loader.sh` runs both).
//!
//! Run: `KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 cargo bench -p streamforge-loader --bench kafka_throughput`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use streamforge_kit::KafkaSettings;
use streamforge_loader::binance::rest::RestClient;
use streamforge_loader::datatype::Interval;
use streamforge_loader::historical::{self, Progress};
use streamforge_loader::sink::{self, KafkaSink};
use tokio::sync::watch;

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
    sink::ensure_topic(&settings, &topic, 3, 1, None)
        .await
        .unwrap();
    let mut out = KafkaSink::new(settings.producer("bench").unwrap(), topic.clone());
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
    println!(
        "topic {topic}: {} candles ({days} days of 1m) in {secs:.1}s = {:.0} records/s, complete: {}",
        report.produced,
        report.produced as f64 / secs,
        report.is_complete()
    );
}
