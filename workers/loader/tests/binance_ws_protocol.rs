//! Live streams against the exchange simulator's WebSocket endpoints, which follow Binance's
//! documented stream behaviour (event shapes, `U`/`u` update ids, pings, disconnects).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use binance_sim::{Config, WsConfig};
use streamforge_loader::binance::rest::RestClient;
use streamforge_loader::book::OrderBook;
use streamforge_loader::datatype::Interval;
use streamforge_loader::historical::{Completeness, Progress};
use streamforge_loader::live::{self, Live};
use streamforge_loader::records::{BookRecord, CandleRecord, LiveTradeRecord};
use streamforge_loader::sink::MemorySink;
use tokio::sync::watch;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn sim(ws: WsConfig, trade_step_ms: i64) -> (String, String) {
    let (rest, ws, _) = sim_with_state(ws, trade_step_ms).await;
    (rest, ws)
}

async fn sim_with_state(
    ws: WsConfig,
    trade_step_ms: i64,
) -> (String, String, binance_sim::server::Shared) {
    let config = Config {
        ws,
        trade_step_ms,
        ..Config::default()
    };
    let (addr, state, _task) = binance_sim::serve("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    (format!("http://{addr}"), format!("ws://{addr}"), state)
}

fn live<'a>(
    rest: &'a RestClient,
    sink: &'a mut MemorySink,
    ws_url: String,
    run_ms: i64,
    progress: &'a watch::Sender<Progress>,
) -> Live<'a> {
    Live {
        rest,
        sink,
        ws_url,
        symbol: "BTCUSDT".into(),
        end_ms: now_ms() + run_ms,
        progress,
        stop: watch::channel(false).1,
        rotate_after: live_rotation(),
    }
}

fn live_rotation() -> Duration {
    Duration::from_secs(3600)
}

fn check_trades(sink: &MemorySink, r: &Completeness) -> Vec<LiveTradeRecord> {
    let trades: Vec<LiveTradeRecord> = sink
        .records
        .iter()
        .map(|(_, p)| serde_json::from_slice(p).unwrap())
        .collect();
    assert!(!trades.is_empty());
    assert!(
        trades.windows(2).all(|w| w[1].trade_id > w[0].trade_id),
        "strictly increasing, no duplicates"
    );
    let skipped: i64 = trades
        .windows(2)
        .map(|w| w[1].trade_id - w[0].trade_id - 1)
        .sum();
    assert_eq!(r.missing as i64, skipped, "every skipped id is reported");
    assert_eq!(r.produced as usize, trades.len());
    trades
}

#[tokio::test]
async fn protocol_ws_trades_stream_without_gaps() {
    let (rest_url, ws_url) = sim(WsConfig::default(), 20).await;
    let rest = RestClient::new(&rest_url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let r = live::trades(live(&rest, &mut sink, ws_url, 1500, &tx))
        .await
        .unwrap();
    check_trades(&sink, &r);
    assert_eq!(r.missing, 0);
    assert!(r.produced >= 40, "{}", r.produced);
}

#[tokio::test]
async fn protocol_ws_trades_survive_disconnects() {
    let ws = WsConfig {
        disconnect_after: Some(15),
        ..WsConfig::default()
    };
    let (rest_url, ws_url) = sim(ws, 20).await;
    let rest = RestClient::new(&rest_url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let r = live::trades(live(&rest, &mut sink, ws_url, 2500, &tx))
        .await
        .unwrap();
    check_trades(&sink, &r);
    assert!(r.reconnects >= 2, "{r:?}");
}

#[tokio::test]
async fn protocol_ws_candles_are_closed_consecutive_and_backfilled_after_a_disconnect() {
    // Kline events every 250 ms: dropping after 6 messages loses closed 1s candles, which the
    // loader fetches over REST.
    let ws = WsConfig {
        disconnect_after: Some(6),
        ..WsConfig::default()
    };
    let (rest_url, ws_url) = sim(ws, 250).await;
    let rest = RestClient::new(&rest_url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let r = live::candles(
        live(&rest, &mut sink, ws_url, 6000, &tx),
        Interval::parse("1s").unwrap(),
    )
    .await
    .unwrap();
    let candles: Vec<CandleRecord> = sink
        .records
        .iter()
        .map(|(_, p)| serde_json::from_slice(p).unwrap())
        .collect();
    assert!(candles.len() >= 3, "{r:?}");
    assert!(
        candles
            .windows(2)
            .all(|w| w[1].open_time == w[0].open_time + 1000),
        "consecutive: {:?}",
        candles.iter().map(|c| c.open_time).collect::<Vec<_>>()
    );
    assert_eq!(r.missing, 0);
    assert!(r.reconnects >= 1);
}

/// Stop the stream once it has reported `records` diffs applied, or after 60 s (the test's
/// checks then say what was missing).
fn stop_after_records(
    mut progress: watch::Receiver<Progress>,
    stop: watch::Sender<bool>,
    records: u64,
) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(
            Duration::from_secs(60),
            progress.wait_for(|p| p.records >= records),
        )
        .await;
        let _ = stop.send(true);
    });
}

/// The simulator's book at `id`, in the loader's units (1e-8 ticks).
fn sim_book(id: i64) -> (BTreeMap<i128, i128>, BTreeMap<i128, i128>) {
    let m = binance_sim::market::Market::new("BTCUSDT", 250);
    let b = binance_sim::book::Book::at(binance_sim::ws::mid_of(&m), id);
    let conv = |side: &BTreeMap<i64, i64>| {
        side.iter()
            .map(|(p, q)| (i128::from(*p) * 1_000_000, i128::from(*q) * 100))
            .collect()
    };
    (conv(&b.bids), conv(&b.asks))
}

fn local(book: &OrderBook) -> (BTreeMap<i128, i128>, BTreeMap<i128, i128>) {
    let conv = |side: &BTreeMap<i128, (String, String)>| {
        side.iter()
            .map(|(p, (_, q))| (*p, streamforge_loader::book::ticks(q).unwrap()))
            .collect()
    };
    (conv(&book.bids), conv(&book.asks))
}

/// Rebuild the book from the records alone, as a consumer of the topic would.
fn rebuild(sink: &MemorySink) -> OrderBook {
    let records: Vec<BookRecord> = sink
        .records
        .iter()
        .map(|(_, p)| serde_json::from_slice(p).unwrap())
        .collect();
    let last_snap = records
        .iter()
        .rposition(|r| matches!(r, BookRecord::Snapshot { .. }))
        .unwrap();
    let BookRecord::Snapshot {
        last_update_id,
        bids,
        asks,
        ..
    } = &records[last_snap]
    else {
        unreachable!()
    };
    let mut book = OrderBook::from_snapshot(&streamforge_loader::book::Snapshot {
        last_update_id: *last_update_id,
        bids: bids.clone(),
        asks: asks.clone(),
    })
    .unwrap();
    for r in &records[last_snap + 1..] {
        if let BookRecord::Diff {
            first_update_id,
            final_update_id,
            event_time,
            bids,
            asks,
            ..
        } = r
        {
            book.apply(&streamforge_loader::book::DepthEvent {
                event_time: *event_time,
                first_update_id: *first_update_id,
                final_update_id: *final_update_id,
                bids: bids.clone(),
                asks: asks.clone(),
            })
            .unwrap();
        }
    }
    book
}

#[tokio::test]
async fn protocol_ws_orderbook_matches_the_exchange_book() {
    let (rest_url, ws_url) = sim(WsConfig::default(), 250).await;
    let rest = RestClient::new(&rest_url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, rx) = watch::channel(Progress::default());
    let l = Live {
        end_ms: i64::MAX,
        ..live(&rest, &mut sink, ws_url, 0, &tx)
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let l = Live { stop: stop_rx, ..l };
    // Synced and past a snapshot record (every 500 ms, 100 ms per depth event): stop then.
    stop_after_records(rx, stop_tx, 8);
    let (r, book) = live::orderbook(l, Duration::from_millis(500))
        .await
        .unwrap();
    let book = book.expect("synced");
    assert!(r.produced > 5, "{r:?}");
    assert_eq!(r.missing, 0);
    assert_eq!(
        local(&book),
        sim_book(book.last_update_id),
        "local book equals the exchange's at {}",
        book.last_update_id
    );
    let rebuilt = rebuild(&sink);
    assert_eq!(rebuilt.last_update_id, book.last_update_id);
    assert_eq!(
        local(&rebuilt),
        local(&book),
        "snapshot + diffs in the topic rebuild the book"
    );
}

#[tokio::test]
async fn protocol_ws_orderbook_rebuilds_after_a_gap() {
    let ws = WsConfig {
        drop_depth_event: Some(6),
        ..WsConfig::default()
    };
    let (rest_url, ws_url) = sim(ws, 250).await;
    let rest = RestClient::new(&rest_url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, rx) = watch::channel(Progress::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let l = Live {
        end_ms: i64::MAX,
        stop: stop_rx,
        ..live(&rest, &mut sink, ws_url, 0, &tx)
    };
    // The 6th depth event is lost, so at most 4 diffs are applied before the gap: more than 8
    // means the book was rebuilt and has moved on since.
    stop_after_records(rx, stop_tx, 9);
    let (r, book) = live::orderbook(l, Duration::from_secs(60)).await.unwrap();
    let book = book.expect("synced again after the gap");
    assert!(r.resyncs >= 1 && r.missing >= 1, "{r:?}");
    assert_eq!(local(&book), sim_book(book.last_update_id));
    assert_eq!(local(&rebuild(&sink)), local(&book));
}

#[tokio::test]
async fn protocol_ws_pings_are_answered() {
    let ws = WsConfig {
        ping_every: Duration::from_millis(100),
        ..WsConfig::default()
    };
    let (rest_url, ws_url, state) = sim_with_state(ws, 20).await;
    let rest = RestClient::new(&rest_url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    live::trades(live(&rest, &mut sink, ws_url, 1500, &tx))
        .await
        .unwrap();
    let pongs = binance_sim::server::stats(&state)["pongs"]
        .as_u64()
        .unwrap();
    assert!(pongs >= 5, "pongs: {pongs}");
}

#[tokio::test]
async fn protocol_ws_rotation_replaces_the_connection_without_losing_trades() {
    let (rest_url, ws_url) = sim(WsConfig::default(), 20).await;
    let rest = RestClient::new(&rest_url, 5400).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let l = Live {
        rotate_after: Duration::from_millis(400),
        ..live(&rest, &mut sink, ws_url, 2000, &tx)
    };
    let r = live::trades(l).await.unwrap();
    check_trades(&sink, &r);
    assert!(r.reconnects >= 2, "{r:?}");
    assert_eq!(r.missing, 0, "make before break: {r:?}");
}
