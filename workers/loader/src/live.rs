//! Live loading over WebSocket: trades, closed candles and a correct order book, until the
//! range ends or `stop` is set. Each ends gracefully: it flushes and returns its report.
//!
//! * trades: deduplicated by trade id across reconnects; skipped ids are counted as missing;
//! * candles: only closed candles (`x: true`); a gap left by a reconnect is filled over REST;
//! * order book: kept by the procedure in [`crate::book`]; a snapshot record after every (re)sync
//!   and every `snapshot_every`, a diff record for every applied event.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::binance::market;
use crate::binance::parse::{self, ParseError};
use crate::binance::rest::RestClient;
use crate::binance::ws::{self, StreamConfig, WsEvent};
use crate::book::{self, BookError, DepthEvent, OrderBook, Snapshot};
use crate::datatype::Interval;
use crate::historical::{Completeness, LoadError, Progress};
use crate::records::BookRecord;
use crate::sink::RecordSink;

/// Levels a side of the snapshot the live book is built from.
pub const BOOK_DEPTH: u32 = 1000;

/// Attempts at a snapshot recent enough for the buffered events before giving up.
pub const SNAPSHOT_ATTEMPTS: u32 = 5;

pub struct Live<'a> {
    pub rest: &'a RestClient,
    pub sink: &'a mut dyn RecordSink,
    pub ws_url: String,
    pub symbol: String,
    /// Stop at this time (ms): trades at or after it, candles opening at or after it.
    pub end_ms: i64,
    pub progress: &'a watch::Sender<Progress>,
    pub stop: watch::Receiver<bool>,
    pub rotate_after: Duration,
}

/// A stream of text events from `stream`, with a way to end it.
struct Feed {
    rx: mpsc::Receiver<WsEvent>,
    stop: watch::Sender<bool>,
}

impl Feed {
    fn open(live: &Live<'_>, stream: String) -> Self {
        let (tx, rx) = mpsc::channel(ws::CHANNEL);
        let (stop, stop_rx) = watch::channel(false);
        let cfg = StreamConfig {
            base_url: live.ws_url.clone(),
            stream,
            rotate_after: live.rotate_after,
        };
        tokio::spawn(ws::run(cfg, tx, stop_rx));
        Self { rx, stop }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The next event, or `None` when asked to stop.
async fn next(feed: &mut Feed, stop: &mut watch::Receiver<bool>) -> Option<WsEvent> {
    if *stop.borrow() {
        return None;
    }
    let stopped = async {
        // A stop channel whose sender is gone can no longer ask to stop.
        if stop.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        e = feed.rx.recv() => e,
        _ = stopped => None,
    }
}

fn json(text: &str) -> Result<Value, ParseError> {
    serde_json::from_str(text).map_err(|e| ParseError(e.to_string()))
}

/// Longest time a live trade stream goes without handing its count to the worker's telemetry.
pub const REPORT_AT_LEAST_EVERY: Duration = Duration::from_secs(1);

fn report_progress(live: &Live<'_>, r: &Completeness) {
    live.progress.send_replace(Progress {
        records: r.produced,
        position: r.last,
        fraction: 0.0,
    });
}

pub async fn trades(live: Live<'_>) -> Result<Completeness, LoadError> {
    let mut feed = Feed::open(&live, format!("{}@trade", live.symbol.to_ascii_lowercase()));
    let mut r = Completeness::default();
    let mut last_report = Instant::now();
    let mut stop = live.stop.clone();
    while let Some(ev) = next(&mut feed, &mut stop).await {
        match ev {
            WsEvent::Connected { generation } if generation > 1 => r.reconnects += 1,
            WsEvent::Text(t) => {
                let trade = match json(&t).and_then(|v| parse::trade_event(&v)) {
                    Ok(t) => t,
                    Err(e) => {
                        warn!(error = %e, "unreadable trade event skipped");
                        continue;
                    }
                };
                if trade.time >= live.end_ms {
                    break;
                }
                if let Some(last) = r.last {
                    if trade.trade_id <= last {
                        r.duplicates_skipped += 1;
                        continue;
                    }
                    if trade.trade_id > last + 1 {
                        r.gap(last + 1, trade.trade_id, (trade.trade_id - last - 1) as u64);
                    }
                }
                live.sink
                    .write(trade.key(), serde_json::to_vec(&trade).unwrap_or_default())
                    .await?;
                r.produced(trade.trade_id);
                // Every 1000 trades on a busy market, and at least once a second on a quiet one
                // (so a slow stream's count still moves in the Queue's status).
                if r.produced % 1000 == 0 || last_report.elapsed() >= REPORT_AT_LEAST_EVERY {
                    report_progress(&live, &r);
                    last_report = Instant::now();
                }
            }
            _ => {}
        }
    }
    r.expected = r.produced + r.missing;
    report_progress(&live, &r);
    live.sink.flush().await?;
    Ok(r)
}

pub async fn candles(live: Live<'_>, interval: Interval) -> Result<Completeness, LoadError> {
    let stream = format!(
        "{}@kline_{}",
        live.symbol.to_ascii_lowercase(),
        interval.name
    );
    let mut feed = Feed::open(&live, stream);
    let mut r = Completeness::default();
    let mut stop = live.stop.clone();
    while let Some(ev) = next(&mut feed, &mut stop).await {
        match ev {
            WsEvent::Connected { generation } if generation > 1 => r.reconnects += 1,
            WsEvent::Text(t) => {
                let (candle, closed) = match json(&t).and_then(|v| parse::kline_event(&v)) {
                    Ok(c) => c,
                    Err(e) => {
                        warn!(error = %e, "unreadable kline event skipped");
                        continue;
                    }
                };
                if !closed {
                    continue;
                }
                if candle.open_time >= live.end_ms {
                    break;
                }
                if let Some(last) = r.last {
                    if candle.open_time <= last {
                        r.duplicates_skipped += 1;
                        continue;
                    }
                    let expected = last + interval.ms;
                    if candle.open_time > expected {
                        // A reconnect left a hole: the closed candles are on REST.
                        let missed = market::klines(
                            live.rest,
                            &live.symbol,
                            interval.name,
                            expected,
                            candle.open_time - 1,
                        )
                        .await?;
                        for c in missed
                            .into_iter()
                            .filter(|c| c.open_time > last && c.open_time < candle.open_time)
                        {
                            live.sink
                                .write(c.key(), serde_json::to_vec(&c).unwrap_or_default())
                                .await?;
                            r.produced(c.open_time);
                            r.backfilled += 1;
                        }
                        let still =
                            (candle.open_time - r.last.unwrap_or(last) - interval.ms) / interval.ms;
                        if still > 0 {
                            r.gap(
                                r.last.unwrap_or(last) + interval.ms,
                                candle.open_time,
                                still as u64,
                            );
                        }
                    }
                }
                live.sink
                    .write(
                        candle.key(),
                        serde_json::to_vec(&candle).unwrap_or_default(),
                    )
                    .await?;
                r.produced(candle.open_time);
                report_progress(&live, &r);
            }
            _ => {}
        }
    }
    r.expected = r.produced + r.missing;
    live.sink.flush().await?;
    Ok(r)
}

async fn snapshot(rest: &RestClient, symbol: &str) -> Result<Snapshot, LoadError> {
    Ok(market::depth(rest, symbol, BOOK_DEPTH).await?)
}

fn depth_event(text: &str) -> Result<DepthEvent, ParseError> {
    serde_json::from_str(text).map_err(|e| ParseError(e.to_string()))
}

/// The order book stream. `snapshot_every` bounds how far back a consumer must replay.
pub async fn orderbook(
    live: Live<'_>,
    snapshot_every: Duration,
) -> Result<(Completeness, Option<OrderBook>), LoadError> {
    let mut feed = Feed::open(
        &live,
        format!("{}@depth@100ms", live.symbol.to_ascii_lowercase()),
    );
    let mut r = Completeness::default();
    let mut stop = live.stop.clone();
    let mut synced: Option<OrderBook> = None;
    let mut buffered: Vec<DepthEvent> = vec![];
    let mut last_snapshot_record = Instant::now();
    let symbol = live.symbol.clone();
    while let Some(ev) = next(&mut feed, &mut stop).await {
        let event = match ev {
            WsEvent::Connected { generation } => {
                if generation > 1 {
                    r.reconnects += 1;
                    // A new connection: the book must be rebuilt from its events.
                    if synced.take().is_some() {
                        r.resyncs += 1;
                    }
                    buffered.clear();
                }
                continue;
            }
            WsEvent::Disconnected { .. } => continue,
            WsEvent::Text(t) => match depth_event(&t) {
                Ok(e) => e,
                Err(e) => {
                    warn!(error = %e, "unreadable depth event skipped");
                    continue;
                }
            },
        };
        if let Some(book) = synced.as_mut() {
            match book.apply(&event) {
                Ok(true) => {
                    let rec = BookRecord::Diff {
                        symbol: symbol.clone(),
                        first_update_id: event.first_update_id,
                        final_update_id: event.final_update_id,
                        event_time: event.event_time,
                        bids: event.bids,
                        asks: event.asks,
                    };
                    live.sink
                        .write(rec.key(), serde_json::to_vec(&rec).unwrap_or_default())
                        .await?;
                    r.produced(event.final_update_id);
                }
                Ok(false) => r.duplicates_skipped += 1,
                Err(BookError::Gap { expected, got }) => {
                    warn!(
                        expected,
                        got, "gap in the depth stream; rebuilding the book"
                    );
                    r.gap(expected, got, (got - expected) as u64);
                    r.resyncs += 1;
                    synced = None;
                    buffered = vec![event];
                    continue;
                }
                Err(e) => {
                    warn!(error = %e, "depth event skipped");
                    continue;
                }
            }
            if last_snapshot_record.elapsed() >= snapshot_every
                && let Some(book) = synced.as_ref()
            {
                write_snapshot(live.sink, &symbol, book).await?;
                last_snapshot_record = Instant::now();
            }
            report_progress(&live, &r);
            continue;
        }
        // Not synced: buffer, then build from a snapshot recent enough for the buffer.
        buffered.push(event);
        for attempt in 1..=SNAPSHOT_ATTEMPTS {
            let snap = snapshot(live.rest, &symbol).await?;
            // Events that arrived while the snapshot was on its way.
            while let Ok(WsEvent::Text(t)) = feed.rx.try_recv() {
                if let Ok(e) = depth_event(&t) {
                    buffered.push(e);
                }
            }
            match book::sync(&snap, &buffered) {
                Ok((book, _)) => {
                    info!(
                        last_update_id = book.last_update_id,
                        attempt, "order book synced"
                    );
                    write_snapshot(live.sink, &symbol, &book).await?;
                    last_snapshot_record = Instant::now();
                    r.first.get_or_insert(book.last_update_id);
                    synced = Some(book);
                    buffered.clear();
                    break;
                }
                Err(BookError::SnapshotTooOld { .. }) if attempt < SNAPSHOT_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(BookError::Gap { .. }) => {
                    // The buffer itself has a hole: start buffering afresh.
                    buffered.clear();
                    break;
                }
                Err(e) => {
                    warn!(error = %e, "order book sync failed; retrying on the next event");
                    buffered.clear();
                    break;
                }
            }
        }
    }
    r.expected = r.produced + r.missing;
    live.sink.flush().await?;
    Ok((r, synced))
}

async fn write_snapshot(
    sink: &mut dyn RecordSink,
    symbol: &str,
    book: &OrderBook,
) -> Result<(), LoadError> {
    let s = book.to_snapshot();
    let rec = BookRecord::Snapshot {
        symbol: symbol.to_owned(),
        last_update_id: s.last_update_id,
        bids: s.bids,
        asks: s.asks,
        time: None,
    };
    sink.write(rec.key(), serde_json::to_vec(&rec).unwrap_or_default())
        .await?;
    Ok(())
}
