//! The loader against the exchange simulator, which implements Binance's documented REST
//! behaviour (payloads, pagination, weights, 429 with Retry-After, 418, error bodies). Binance
//! itself cannot be reached from our machines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use binance_sim::{Config, Faults};
use streamforge_loader::binance::market::{self, MarketError};
use streamforge_loader::binance::rest::{RestClient, RestError};
use streamforge_loader::datatype::Interval;
use streamforge_loader::historical::{self, LoadError, Progress};
use streamforge_loader::records::{CandleRecord, TradeRecord};
use streamforge_loader::sink::MemorySink;
use tokio::sync::watch;

const DAY: i64 = 86_400_000;
/// 2024-08-01T00:00:00Z
const AUG1: i64 = 1_722_470_400_000;

async fn sim(config: Config) -> (String, binance_sim::server::Shared) {
    let (addr, state, _task) =
        binance_sim::serve("127.0.0.1:0".parse::<SocketAddr>().unwrap(), config)
            .await
            .unwrap();
    (format!("http://{addr}"), state)
}

fn candles_of(sink: &MemorySink) -> Vec<CandleRecord> {
    sink.records
        .iter()
        .map(|(_, p)| serde_json::from_slice(p).unwrap())
        .collect()
}

#[tokio::test]
async fn protocol_candles_for_a_day_are_complete_and_exact() {
    let (url, _) = sim(Config::default()).await;
    let rest = RestClient::new(&url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, rx) = watch::channel(Progress::default());
    let i5 = Interval::parse("5m").unwrap();
    let report = historical::candles(
        &rest,
        &mut sink,
        "BTCUSDT",
        i5,
        AUG1,
        AUG1 + DAY,
        AUG1 + 10 * DAY,
        None,
        &tx,
    )
    .await
    .unwrap();
    assert_eq!(
        (report.expected, report.produced, report.missing),
        (288, 288, 0)
    );
    assert!(report.is_complete());
    let candles = candles_of(&sink);
    for (n, c) in candles.iter().enumerate() {
        assert_eq!(c.open_time, AUG1 + n as i64 * 300_000);
        assert_eq!(sink.records[n].0, format!("BTCUSDT|5m|{}", c.open_time));
    }
    // Exactly the simulator's data for that candle.
    let m = binance_sim::market::Market::new("BTCUSDT", 250);
    let expected = m.candle(AUG1, 300_000);
    assert_eq!(candles[0].close, binance_sim::market::cents(expected.close));
    assert_eq!(rx.borrow().fraction, 1.0);
    assert_eq!(rest.stats().throttled_429, 0);
}

#[tokio::test]
async fn protocol_candles_paginate_across_pages_without_gaps_or_repeats() {
    let (url, _) = sim(Config::default()).await;
    let rest = RestClient::new(&url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let i1 = Interval::parse("1m").unwrap();
    // Unaligned start: the first candle is the next whole minute.
    let report = historical::candles(
        &rest,
        &mut sink,
        "ETHUSDT",
        i1,
        AUG1 + 30_000,
        AUG1 + 3 * DAY,
        AUG1 + 10 * DAY,
        None,
        &tx,
    )
    .await
    .unwrap();
    assert_eq!(report.produced, 3 * 1440 - 1);
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(rest.stats().requests, 5, "4,319 candles in pages of 1,000");
    let mut keys: Vec<&String> = sink.records.iter().map(|(k, _)| k).collect();
    keys.dedup();
    assert_eq!(keys.len(), sink.records.len());
}

#[tokio::test]
async fn protocol_candles_stop_at_the_last_closed_one() {
    let (url, _) = sim(Config::default()).await;
    let rest = RestClient::new(&url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let i1h = Interval::parse("1h").unwrap();
    let now = AUG1 + 5 * 3_600_000 + 1_000; // 05:00:01: the 05:00 candle is still open
    let report = historical::candles(
        &rest,
        &mut sink,
        "BTCUSDT",
        i1h,
        AUG1,
        AUG1 + DAY,
        now,
        None,
        &tx,
    )
    .await
    .unwrap();
    assert_eq!(report.produced, 5);
    assert_eq!(report.last, Some(AUG1 + 4 * 3_600_000));
}

#[tokio::test]
async fn protocol_candles_resume_after_the_last_written() {
    let (url, _) = sim(Config::default()).await;
    let rest = RestClient::new(&url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let i5 = Interval::parse("5m").unwrap();
    let resume = Some(AUG1 + 99 * 300_000);
    let report = historical::candles(
        &rest,
        &mut sink,
        "BTCUSDT",
        i5,
        AUG1,
        AUG1 + DAY,
        AUG1 + 2 * DAY,
        resume,
        &tx,
    )
    .await
    .unwrap();
    assert_eq!((report.expected, report.produced), (188, 188));
    assert_eq!(report.resumed_after, resume);
    assert_eq!(candles_of(&sink)[0].open_time, AUG1 + 100 * 300_000);
}

#[tokio::test]
async fn protocol_trades_are_continuous_by_id_and_bounded_by_the_range() {
    let (url, _) = sim(Config::default()).await;
    let rest = RestClient::new(&url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let start = AUG1 + 1_000;
    let end = AUG1 + 10 * 60_000;
    let report = historical::trades(
        &rest,
        &mut sink,
        "BTCUSDT",
        start,
        end,
        AUG1 + DAY,
        None,
        &tx,
    )
    .await
    .unwrap();
    // One trade every 250 ms: [start, end) holds (end - start) / 250 of them.
    assert_eq!(report.produced, ((end - start) / 250) as u64);
    assert!(report.is_complete(), "{report:?}");
    let trades: Vec<TradeRecord> = sink
        .records
        .iter()
        .map(|(_, p)| serde_json::from_slice(p).unwrap())
        .collect();
    assert!(trades.first().unwrap().time >= start);
    assert!(trades.last().unwrap().time < end);
    assert!(trades.windows(2).all(|w| w[1].agg_id == w[0].agg_id + 1));

    // Resumed from an id, it continues right after it.
    let mut sink2 = MemorySink::default();
    let last = trades[999].agg_id;
    let r2 = historical::trades(
        &rest,
        &mut sink2,
        "BTCUSDT",
        start,
        end,
        AUG1 + DAY,
        Some(last),
        &tx,
    )
    .await
    .unwrap();
    assert_eq!(r2.produced as usize, trades.len() - 1000);
    assert_eq!(sink2.records[0].0, format!("BTCUSDT|{}", last + 1));
}

#[tokio::test]
async fn protocol_429_is_honoured_and_the_load_still_completes() {
    let (url, state) = sim(Config {
        faults: Faults {
            throttle_request: Some(2),
            ..Faults::default()
        },
        ..Config::default()
    })
    .await;
    let rest = RestClient::new(&url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let i1 = Interval::parse("1m").unwrap();
    let t0 = std::time::Instant::now();
    let report = historical::candles(
        &rest,
        &mut sink,
        "BTCUSDT",
        i1,
        AUG1,
        AUG1 + 2 * DAY,
        AUG1 + 3 * DAY,
        None,
        &tx,
    )
    .await
    .unwrap();
    assert!(report.is_complete());
    assert_eq!(rest.stats().throttled_429, 1);
    assert!(
        t0.elapsed() >= std::time::Duration::from_secs(1),
        "waited as Retry-After said"
    );
    assert_eq!(binance_sim::server::stats(&state)["throttled_429"], 1);
}

#[tokio::test]
async fn protocol_418_stops_the_load_with_the_reason() {
    let (url, _) = sim(Config {
        faults: Faults {
            banned: true,
            ..Faults::default()
        },
        ..Config::default()
    })
    .await;
    let rest = RestClient::new(&url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let err = historical::candles(
        &rest,
        &mut sink,
        "BTCUSDT",
        Interval::parse("1m").unwrap(),
        AUG1,
        AUG1 + DAY,
        AUG1 + 2 * DAY,
        None,
        &tx,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::Market(MarketError::Rest(RestError::Banned { .. }))
        ),
        "{err}"
    );
    assert!(err.to_string().contains("418"));
    assert!(sink.records.is_empty());
}

#[tokio::test]
async fn protocol_unknown_symbols_are_refused_before_loading() {
    let (url, _) = sim(Config::default()).await;
    let rest = RestClient::new(&url, 5400).unwrap();
    market::check_symbol(&rest, "BTCUSDT").await.unwrap();
    let err = market::check_symbol(&rest, "NOPEUSDT").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "symbol NOPEUSDT is not listed on the exchange"
    );
    // A bad interval comes back as Binance's error body.
    let err = market::klines(&rest, "BTCUSDT", "7m", AUG1, AUG1 + DAY)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("code -1120: Invalid interval."),
        "{err}"
    );
}

#[tokio::test]
async fn protocol_server_errors_are_retried_then_reported() {
    let (url, _) = sim(Config {
        faults: Faults {
            fail_after: Some(0),
            ..Faults::default()
        },
        ..Config::default()
    })
    .await;
    let rest = RestClient::new(&url, 5400).unwrap();
    let err = market::klines(&rest, "BTCUSDT", "1m", AUG1, AUG1 + DAY)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("failed after 5 retries"), "{err}");
    assert_eq!(rest.stats().requests, 6);
}

async fn recorded_sim() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data");
    let recorded = binance_sim::recorded::Recorded::load(&dir).unwrap();
    sim(Config {
        recorded,
        ..Config::default()
    })
    .await
    .0
}

#[tokio::test]
async fn protocol_recorded_candles_with_a_hole_are_reported_not_invented() {
    let url = recorded_sim().await;
    let rest = RestClient::new(&url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let i1h = Interval::parse("1h").unwrap();
    let r = historical::candles(
        &rest,
        &mut sink,
        "BTCUSDT",
        i1h,
        AUG1,
        AUG1 + 6 * 3_600_000,
        AUG1 + DAY,
        None,
        &tx,
    )
    .await
    .unwrap();
    assert_eq!((r.expected, r.produced, r.missing), (6, 5, 1));
    assert_eq!(r.gaps, vec![(AUG1 + 3 * 3_600_000, AUG1 + 4 * 3_600_000)]);
    assert!(!r.is_complete());
    // Exactly the recorded values, passed through as text.
    assert_eq!(candles_of(&sink)[0].open, "64000.10000000");
}

#[tokio::test]
async fn protocol_recorded_trades_with_a_missing_id_are_reported() {
    let url = recorded_sim().await;
    let rest = RestClient::new(&url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let r = historical::trades(
        &rest,
        &mut sink,
        "BTCUSDT",
        AUG1,
        AUG1 + 60_000,
        AUG1 + DAY,
        None,
        &tx,
    )
    .await
    .unwrap();
    assert_eq!((r.produced, r.missing, r.expected), (9, 1, 10));
    assert_eq!(r.gaps, vec![(1005, 1006)]);
}
