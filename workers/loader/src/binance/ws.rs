//! The WebSocket client: one stream, kept open. It answers the server's pings, reconnects with
//! exponential backoff when the connection drops, and replaces the connection before Binance's
//! 24-hour limit (make before break: the new one is open before the old one closes, and the
//! old one is read until it delivers a message the new one already did, so nothing is missed
//! however far behind the old one is; consumers drop the overlap by id).
//!
//! Events go out on a bounded channel: a slow consumer slows the reader, memory stays flat.
//!
//! Reference: Binance spot "WebSocket Streams" (ping every 20 s, pong within a minute, a single
//! connection is valid for 24 hours).

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tracing::{info, warn};

/// Connections are replaced after this long, before Binance's 24-hour cut.
pub const ROTATE_AFTER: Duration = Duration::from_secs(23 * 3600 + 50 * 60);
pub const BACKOFF_START: Duration = Duration::from_millis(250);
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Events buffered between the socket and the consumer.
pub const CHANNEL: usize = 10_000;
/// How long a rotation reads both connections at most, waiting for the old one to catch up
/// with the new one's first message.
pub const OVERLAP_MAX: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq)]
pub enum WsEvent {
    /// A (new) connection is open; `generation` counts connections from 1.
    Connected {
        generation: u64,
    },
    Text(String),
    Disconnected {
        reason: String,
    },
}

#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// e.g. `wss://stream.binance.com:9443`
    pub base_url: String,
    /// e.g. `btcusdt@depth@100ms`
    pub stream: String,
    pub rotate_after: Duration,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(cfg: &StreamConfig) -> Result<Socket, String> {
    let url = format!("{}/ws/{}", cfg.base_url.trim_end_matches('/'), cfg.stream);
    tokio_tungstenite::connect_async(url.as_str())
        .await
        .map(|(s, _)| s)
        .map_err(|e| e.to_string())
}

/// Keep `cfg.stream` open until `stop` turns true or the receiver goes away.
pub async fn run(cfg: StreamConfig, tx: mpsc::Sender<WsEvent>, mut stop: watch::Receiver<bool>) {
    let mut generation = 0u64;
    let mut backoff = BACKOFF_START;
    let mut socket: Option<Socket> = None;
    // Messages of a rotated-in connection read during the overlap, not yet forwarded.
    let mut pending: VecDeque<String> = VecDeque::new();
    loop {
        if *stop.borrow() {
            return;
        }
        let mut ws = match socket.take() {
            Some(s) => s,
            None => match connect(&cfg).await {
                Ok(s) => s,
                Err(e) => {
                    warn!(stream = %cfg.stream, error = %e, wait_ms = backoff.as_millis() as u64, "connect failed; retrying");
                    if tx.send(WsEvent::Disconnected { reason: e }).await.is_err() {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            },
        };
        generation += 1;
        backoff = BACKOFF_START;
        info!(stream = %cfg.stream, generation, "stream connected");
        if tx.send(WsEvent::Connected { generation }).await.is_err() {
            return;
        }
        let mut rotate_at = Instant::now() + cfg.rotate_after;
        for t in pending.drain(..) {
            if tx.send(WsEvent::Text(t)).await.is_err() {
                return;
            }
        }
        let reason = loop {
            tokio::select! {
                _ = stop.changed() => {
                    let _ = ws.close(None).await;
                    return;
                }
                _ = tokio::time::sleep_until(rotate_at) => {
                    match connect(&cfg).await {
                        Ok(mut next) => {
                            match overlap(&mut ws, &mut next, &tx).await {
                                Overlap::Done(rest) => pending = rest,
                                Overlap::ReceiverGone => return,
                                Overlap::NextFailed(e) => {
                                    warn!(error = %e, "the rotated-in connection failed; keeping the current one");
                                    rotate_at = Instant::now() + BACKOFF_MAX;
                                    continue;
                                }
                            }
                            socket = Some(next);
                            let _ = ws.close(None).await;
                            break "rotated before the 24-hour limit".to_owned();
                        }
                        Err(e) => {
                            warn!(error = %e, "rotation connect failed; keeping the current connection");
                            rotate_at = Instant::now() + BACKOFF_MAX;
                        }
                    }
                }
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        if tx.send(WsEvent::Text(t.to_string())).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(Message::Ping(p))) => {
                        if let Err(e) = ws.send(Message::Pong(p)).await {
                            break format!("pong failed: {e}");
                        }
                    }
                    Some(Ok(Message::Close(f))) => break format!("closed by server: {f:?}"),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break e.to_string(),
                    None => break "stream ended".to_owned(),
                },
            }
        };
        if tx.send(WsEvent::Disconnected { reason }).await.is_err() {
            return;
        }
    }
}

/// How a rotation's overlap ended.
enum Overlap {
    /// Switch to the new connection; these of its messages are still to be forwarded.
    Done(VecDeque<String>),
    ReceiverGone,
    /// The new connection failed during the overlap; the old one is kept.
    NextFailed(String),
}

/// Where a message lies in its stream: the trade id of a trade, the last update id of a depth
/// update; for a kline twice its open time, plus one once closed (the closed candle comes after
/// its updates); `None` for anything else.
pub fn position(text: &str) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    match v.get("e")?.as_str()? {
        "trade" | "aggTrade" => v.get("t").or_else(|| v.get("a"))?.as_i64(),
        "depthUpdate" => v.get("u")?.as_i64(),
        "kline" => {
            let k = v.get("k")?;
            let closed = k.get("x").and_then(serde_json::Value::as_bool) == Some(true);
            Some(k.get("t")?.as_i64()?.checked_mul(2)? + i64::from(closed))
        }
        _ => None,
    }
}

/// Make before break: read both connections, forwarding the old one's messages and keeping the
/// new one's, until the old one delivers a message at or past the new one's first
/// ([`position`]; the same text, for messages without one): the two have met, and everything
/// before came through the old one. Also ends when the old one ends or [`OVERLAP_MAX`] passes.
/// The new one's messages past the meeting point are returned, to forward next; without a
/// meeting point, all of them (consumers drop repeats by id).
async fn overlap(old: &mut Socket, next: &mut Socket, tx: &mpsc::Sender<WsEvent>) -> Overlap {
    let mut from_next: VecDeque<String> = VecDeque::new();
    let deadline = Instant::now() + OVERLAP_MAX;
    loop {
        tokio::select! {
            m = next.next() => match m {
                Some(Ok(Message::Text(t))) => from_next.push_back(t.to_string()),
                Some(Ok(Message::Ping(p))) => {
                    let _ = next.send(Message::Pong(p)).await;
                }
                Some(Ok(Message::Close(f))) => return Overlap::NextFailed(format!("closed by server: {f:?}")),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Overlap::NextFailed(e.to_string()),
                None => return Overlap::NextFailed("stream ended".to_owned()),
            },
            m = old.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let at = position(&t);
                    let met = match (at, from_next.front().and_then(|f| position(f))) {
                        (Some(at), Some(first)) => at >= first,
                        _ => from_next.iter().any(|n| n.as_str() == t.as_str()),
                    };
                    if tx.send(WsEvent::Text(t.to_string())).await.is_err() {
                        return Overlap::ReceiverGone;
                    }
                    if met {
                        // What the old one already delivered is not forwarded again.
                        match at {
                            Some(at) => from_next.retain(|n| position(n).is_none_or(|p| p > at)),
                            None => {
                                if let Some(i) = from_next.iter().position(|n| n.as_str() == t.as_str()) {
                                    from_next.drain(..=i);
                                }
                            }
                        }
                        return Overlap::Done(from_next);
                    }
                }
                Some(Ok(Message::Ping(p))) => {
                    let _ = old.send(Message::Pong(p)).await;
                }
                Some(Ok(_)) => {}
                // The old one ended first: the new one takes over from what it has.
                _ => return Overlap::Done(from_next),
            },
            _ = tokio::time::sleep_until(deadline) => {
                warn!("the old connection did not catch up with the new one; switching");
                return Overlap::Done(from_next);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A trade stream over WebSocket: trade `n` happens `n` × 2 ms after the server starts, and
    /// each connection sends the trades from its connect on; the first connection sends each
    /// `lag` late (a connection whose messages queue up), the others at once.
    async fn lagging_server(lag: Duration) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let t0 = Instant::now();
        let connections = Arc::new(AtomicU64::new(0));
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let c = connections.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let step = Duration::from_millis(2);
                    let lag = if c == 1 { lag } else { Duration::ZERO };
                    let mut n = (t0.elapsed().as_millis() / 2) as u64 + 1;
                    loop {
                        tokio::time::sleep_until(t0 + step * n as u32 + lag).await;
                        let text = format!(r#"{{"e":"trade","t":{n},"c":{c}}}"#);
                        if ws.send(Message::text(text)).await.is_err() {
                            return;
                        }
                        n += 1;
                    }
                });
            }
        });
        format!("ws://{addr}")
    }

    #[tokio::test]
    async fn a_rotation_reads_the_old_connection_until_it_meets_the_new_one() {
        let base_url = lagging_server(Duration::from_millis(300)).await;
        let (tx, mut rx) = mpsc::channel(CHANNEL);
        let (stop, stop_rx) = watch::channel(false);
        let cfg = StreamConfig {
            base_url,
            stream: "btcusdt@trade".into(),
            rotate_after: Duration::from_millis(400),
        };
        let client = tokio::spawn(run(cfg, tx, stop_rx));
        let mut ids = BTreeSet::new();
        let mut generations = 0;
        let until = Instant::now() + Duration::from_millis(1_500);
        while let Ok(Some(ev)) = tokio::time::timeout_at(until, rx.recv()).await {
            match ev {
                WsEvent::Text(t) => {
                    ids.insert(position(&t).unwrap());
                }
                WsEvent::Connected { generation } => generations = generation,
                WsEvent::Disconnected { .. } => {}
            }
        }
        stop.send(true).unwrap();
        client.await.unwrap();
        assert!(generations >= 2, "rotated: {generations} connections");
        let (first, last) = (*ids.first().unwrap(), *ids.last().unwrap());
        let missing: Vec<i64> = (first..=last).filter(|n| !ids.contains(n)).collect();
        assert!(
            missing.is_empty(),
            "{} trades lost at the rotation, {:?}..{:?}",
            missing.len(),
            missing.first(),
            missing.last()
        );
    }

    #[test]
    fn positions_of_trades_depth_updates_and_klines() {
        assert_eq!(position(r#"{"e":"trade","E":1,"t":42}"#), Some(42));
        assert_eq!(position(r#"{"e":"depthUpdate","U":5,"u":9}"#), Some(9));
        let open = r#"{"e":"kline","k":{"t":60000,"x":false}}"#;
        let closed = r#"{"e":"kline","k":{"t":60000,"x":true}}"#;
        assert_eq!(position(open), Some(120_000));
        assert_eq!(position(closed), Some(120_001), "closed after its updates");
        assert_eq!(position("not json"), None);
        assert_eq!(position(r#"{"result":null,"id":1}"#), None);
    }
}
