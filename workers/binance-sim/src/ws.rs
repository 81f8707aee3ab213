//! WebSocket market streams at `/ws/<stream>`: `<symbol>@trade`, `<symbol>@kline_<interval>`
//! and `<symbol>@depth@100ms`, plus the REST snapshot `GET /api/v3/depth` they pair with.
//!
//! The server pings every `ping_every` and can be told to drop the connection after some
//! messages or to lose one depth event (a gap the client must notice and resync after).
//!
//! Reference: Binance spot "WebSocket Streams" (ping/pong, 24-hour connections), "Trade
//! Streams", "Kline/Candlestick Streams", "Diff. Depth Stream", "How to manage a local order
//! book correctly".

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use warp::ws::{Message, WebSocket};

use crate::book::{self, Book, Side};
use crate::market::{self, Market, cents, micro};
use crate::state::{Shared, lock};

/// Where the depth book's mid price comes from (kept here too for the streams' users).
pub use crate::book::mid_of;

fn real_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn levels(side: &std::collections::BTreeMap<i64, i64>, desc: bool, limit: usize) -> Vec<Value> {
    let it: Box<dyn Iterator<Item = (&i64, &i64)>> = if desc {
        Box::new(side.iter().rev())
    } else {
        Box::new(side.iter())
    };
    it.take(limit)
        .map(|(p, q)| json!([cents(*p), micro(*q)]))
        .collect()
}

/// `GET /api/v3/depth` body for the book at update id `id`.
pub fn snapshot_json(book: &Book, limit: usize) -> Value {
    json!({
        "lastUpdateId": book.last_update_id,
        "bids": levels(&book.bids, true, limit),
        "asks": levels(&book.asks, false, limit),
    })
}

enum Stream {
    Trade,
    Kline(&'static str, i64),
    Depth,
}

fn parse_stream(s: &str) -> Option<(String, Stream)> {
    let (sym, kind) = s.split_once('@')?;
    let sym = sym.to_ascii_uppercase();
    let stream = match kind {
        "trade" => Stream::Trade,
        "depth" | "depth@100ms" => Stream::Depth,
        k => {
            let i = k.strip_prefix("kline_")?;
            let (name, ms) = market::INTERVALS.iter().find(|(n, _)| *n == i)?;
            Stream::Kline(name, *ms)
        }
    };
    Some((sym, stream))
}

fn kline_event(
    m: &Market,
    symbol: &str,
    interval: &str,
    step: i64,
    open: i64,
    closed: bool,
    now: i64,
) -> Value {
    let c = m.candle(open, step);
    let first = m.first_trade_at(open);
    json!({
        "e": "kline", "E": now, "s": symbol,
        "k": {
            "t": c.open_time, "T": c.close_time, "s": symbol, "i": interval,
            "f": first, "L": first + c.trades - 1,
            "o": cents(c.open), "c": cents(c.close), "h": cents(c.high), "l": cents(c.low),
            "v": micro(c.volume_micro), "n": c.trades, "x": closed,
            "q": micro(c.volume_micro / 100), "V": micro(c.volume_micro / 2), "Q": micro(c.volume_micro / 200), "B": "0"
        }
    })
}

/// Serve one stream connection until the client leaves or a fault ends it.
pub async fn serve_stream(ws: WebSocket, stream: String, state: Shared) {
    let (mut tx, mut rx) = ws.split();
    let Some((symbol, kind)) = parse_stream(&stream) else {
        let _ = tx
            .send(Message::close_with(1008u16, "unknown stream"))
            .await;
        return;
    };
    let found = {
        let st = lock(&state);
        st.market(&symbol)
            .cloned()
            .map(|m| (m, st.config.ws.clone(), st.update_id()))
    };
    let Some((market, faults, start_id)) = found else {
        let _ = tx
            .send(Message::close_with(1008u16, "invalid symbol"))
            .await;
        return;
    };
    let ping_every = faults.ping_every;
    // Read side: pongs (counted) and closes; the connection ends when the client goes.
    let pongs = lock(&state).pongs.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(m)) = rx.next().await {
            if m.is_pong() {
                pongs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if m.is_close() {
                break;
            }
        }
    });
    let mut tick = tokio::time::interval(match kind {
        Stream::Kline(..) => Duration::from_millis(250),
        _ => Duration::from_millis(100),
    });
    let mut ping = tokio::time::interval(ping_every);
    ping.tick().await;
    let mut sent = 0u64;
    let mut last_trade = market.first_trade_at(real_now_ms()) - 1;
    let mut last_update = start_id;
    let mut last_open: Option<i64> = None;
    let mut depth_events = 0u64;
    loop {
        if reader.is_finished() {
            return;
        }
        tokio::select! {
            _ = ping.tick() => {
                if tx.send(Message::ping(b"sim".to_vec())).await.is_err() { return; }
                continue;
            }
            _ = tick.tick() => {}
        }
        let now = real_now_ms();
        let mut out: Vec<Value> = vec![];
        match &kind {
            Stream::Trade => {
                let upto = market.first_trade_at(now + 1) - 1;
                for id in (last_trade + 1)..=upto {
                    let t = market.trade(id);
                    out.push(json!({"e": "trade", "E": now, "s": symbol, "t": t.id, "p": cents(t.price_cents), "q": micro(t.qty_micro), "T": t.time, "m": t.buyer_maker, "M": true}));
                }
                last_trade = upto.max(last_trade);
            }
            Stream::Kline(name, step) => {
                let open = now.div_euclid(*step) * step;
                if let Some(prev) = last_open.filter(|p| *p < open) {
                    let mut o = prev;
                    while o < open {
                        out.push(kline_event(&market, &symbol, name, *step, o, true, now));
                        o += step;
                    }
                }
                out.push(kline_event(&market, &symbol, name, *step, open, false, now));
                last_open = Some(open);
            }
            Stream::Depth => {
                let u = lock(&state).update_id();
                if u > last_update {
                    let mid = book::mid_of(&market);
                    let changes = book::diff(mid, last_update + 1, u);
                    let side = |s: Side| -> Vec<Value> {
                        changes
                            .iter()
                            .filter(|((sd, _), _)| *sd == s)
                            .map(|((_, p), q)| json!([cents(*p), micro(*q)]))
                            .collect()
                    };
                    depth_events += 1;
                    let event = json!({"e": "depthUpdate", "E": now, "s": symbol, "U": last_update + 1, "u": u, "b": side(Side::Bid), "a": side(Side::Ask)});
                    last_update = u;
                    if faults.drop_depth_event != Some(depth_events) {
                        out.push(event);
                    }
                }
            }
        }
        for v in out {
            if tx.send(Message::text(v.to_string())).await.is_err() {
                return;
            }
            sent += 1;
            if faults.disconnect_after.is_some_and(|n| sent >= n) {
                let _ = tx.send(Message::close()).await;
                return;
            }
        }
    }
}
