//! The lake as its users read it: candles stored by the lake connector's loop (a data topic on
//! librdkafka's mock cluster into a local directory), then DuckDB and polars (from PyPI, through
//! `STREAMFORGE_TEST_PYTHON`) read the directory as a Hive-partitioned dataset with the daily
//! VWAP query of docs/sinks.md. Their sums must equal the exact sums of the records produced,
//! and the VWAP the exact quotient, with prices and volumes read as decimals, no cast.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/topics.rs"]
mod topics;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::FutureRecord;
use serde_json::Value;
use streamforge_kit::KafkaSettings;
use streamforge_kit::testing::{TEST_PYTHON, required_env, unique};
use streamforge_sinks::core::Storage;
use streamforge_sinks::core::run::{RunConfig, Runner, Signals, SinkMetrics};
use streamforge_sinks::lake::{LakeLocation, LakeSink};
use tokio::sync::watch;

use topics::mock_topic;

const START: i64 = 1_722_384_000_000; // 2024-07-31 00:00 UTC: the days cross a month.
const DAYS: i64 = 3;
const KIND: &str = "api_candles_1m";

/// One symbol's price and volume steps, as the exchange quotes them: BTCUSDT with a 0.01 tick
/// and 0.00001 lots, SHIBUSDT with an 8-decimal price and whole lots.
struct Market {
    symbol: &'static str,
    /// Price and volume of minute `i`, in units of 10^-8.
    price: fn(i64) -> i128,
    volume: fn(i64) -> i128,
}

const MARKETS: [Market; 2] = [
    Market {
        symbol: "BTCUSDT",
        // 64,000.00 and up, in cents.
        price: |i| (6_400_000 + (i * 7_919) % 150_000) as i128 * 1_000_000,
        volume: |i| (1 + (i * 104_729) % 900_000) as i128 * 1_000,
    },
    Market {
        symbol: "SHIBUSDT",
        price: |i| 1_234 + ((i * 31) % 500) as i128,
        volume: |i| (1_000_000 + (i * 7_877) % 90_000_000) as i128 * 100_000_000,
    },
];

/// `v` units of 10^-8 as the exchange writes it: `"64000.12000000"`.
fn text(v: i128) -> String {
    format!("{}.{:08}", v / 100_000_000, v % 100_000_000)
}

/// Per (symbol, UTC day): sum(close * volume) in 10^-16, sum(volume) in 10^-8.
type Expected = BTreeMap<(String, String), (i128, i128)>;

async fn produce(settings: &KafkaSettings, topic: &str) -> Expected {
    let producer = settings.producer("loader").unwrap();
    let mut expected = Expected::new();
    let mut sent = vec![];
    for m in &MARKETS {
        for i in 0..DAYS * 1440 {
            let t = START + i * 60_000;
            let (close, volume) = ((m.price)(i), (m.volume)(i));
            let payload = format!(
                r#"{{"symbol":"{}","interval":"1m","open_time":{t},"close_time":{},"open":"{}","high":"{}","low":"{}","close":"{}","volume":"{}","trades":{}}}"#,
                m.symbol,
                t + 59_999,
                text(close),
                text(close),
                text(close),
                text(close),
                text(volume),
                i % 50
            );
            let key = format!("{}|1m|{t}", m.symbol);
            let producer = producer.clone();
            sent.push(async move {
                producer
                    .send(
                        FutureRecord::to(topic).key(&key).payload(&payload),
                        Duration::from_secs(10),
                    )
                    .await
                    .map(|_| ())
                    .map_err(|(e, _)| e)
            });
            let day = streamforge_sinks::lake::layout::utc_date(t).unwrap();
            let e = expected.entry((m.symbol.to_owned(), day)).or_default();
            e.0 += close * volume;
            e.1 += volume;
        }
    }
    for r in futures::future::join_all(sent).await {
        r.unwrap();
    }
    expected
}

#[tokio::test]
async fn duckdb_and_polars_read_the_daily_vwap_of_the_records_produced() {
    let Some(python) = required_env("lake readers", TEST_PYTHON, "duckdb and polars") else {
        return;
    };
    let topic = "wf-readers";
    let (_cluster, settings) = mock_topic(topic, 3);
    let expected = produce(&settings, topic).await;

    let dir = std::env::temp_dir().join(unique("streamforge-lake-readers"));
    let mut storage = LakeSink::new(
        LakeLocation::Local { dir: dir.clone() },
        "market",
        topic,
        KIND,
        "BTCUSDT",
    )
    .unwrap();
    storage.prepare().await.unwrap();
    let consumer: StreamConsumer = settings.consumer("lake", &unique("readers")).unwrap();
    let dlq = settings.producer("lake-dlq").unwrap();
    let mut cfg = RunConfig::new(topic);
    // Several batches, so a day's rows are spread over files.
    cfg.batch_records = 2_000;
    cfg.batch_wait = Duration::from_millis(300);
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
    let report = tokio::time::timeout(Duration::from_secs(120), runner.run(rx))
        .await
        .expect("the sink ends by itself")
        .unwrap();
    assert_eq!(report.written, (MARKETS.len() as i64 * DAYS * 1440) as u64);

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e/lake/vwap.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(dir.join("market"))
        .arg(KIND)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "vwap.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (reader, decimal, month) in [
        ("duckdb", "DECIMAL(38,8)", "VARCHAR"),
        ("polars", "Decimal(precision=38, scale=8)", "String"),
    ] {
        let rows = v[reader].as_array().unwrap();
        assert_eq!(
            rows.len(),
            expected.len(),
            "{reader}: a row per symbol and day: {rows:?}"
        );
        for (row, ((symbol, day), (pv, vol))) in rows.iter().zip(&expected) {
            let got = |i: usize| row[i].as_str().unwrap().to_owned();
            assert_eq!((got(0), got(1)), (symbol.clone(), day.clone()), "{reader}");
            assert_eq!(
                got(2),
                pv.to_string(),
                "{reader} {symbol} {day}: sum(close*volume)"
            );
            assert_eq!(
                got(3),
                vol.to_string(),
                "{reader} {symbol} {day}: sum(volume)"
            );
            let exact = *pv as f64 / (*vol as f64 * 1e8);
            let vwap = row[4].as_f64().unwrap();
            // DuckDB divides in DOUBLE; polars keeps 8 decimals.
            let tolerance = if reader == "duckdb" {
                exact * 1e-12
            } else {
                1e-8
            };
            assert!(
                (vwap - exact).abs() <= tolerance,
                "{reader} {symbol} {day}: vwap {vwap} vs {exact}"
            );
            assert_eq!(
                row[5],
                serde_json::json!([decimal, decimal, month]),
                "{reader}: prices and volumes are decimals to the reader"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
