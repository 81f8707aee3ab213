//! The WebSocket client: one stream, kept open. It answers the server's pings, reconnects with
//! exponential backoff when the connection drops, and replaces the connection before Binance's
//! 24-hour limit (make before break: the new one is open before the old one closes, so nothing
//! is missed; consumers drop the overlap by id).
//!
//! Events go out on a bounded channel: a slow consumer slows the reader, memory stays flat.
//!
//! Reference: Binance spot "WebSocket Streams" (ping every 20 s, pong within a minute, a single
//! connection is valid for 24 hours).

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
    let mut pending: Option<Message> = None;
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
        let rotate_at = Instant::now() + cfg.rotate_after;
        // The first message of a rotated-in connection, read during the overlap.
        if let Some(Message::Text(t)) = pending.take()
            && tx.send(WsEvent::Text(t.to_string())).await.is_err()
        {
            return;
        }
        let reason = loop {
            tokio::select! {
                _ = stop.changed() => {
                    let _ = ws.close(None).await;
                    return;
                }
                _ = tokio::time::sleep_until(rotate_at) => {
                    // Make before break: open the next connection and keep reading this one
                    // until the next has delivered its first message, so the two overlap.
                    match connect(&cfg).await {
                        Ok(mut next) => {
                            let first = loop {
                                tokio::select! {
                                    m = next.next() => break m,
                                    m = ws.next() => match m {
                                        Some(Ok(Message::Text(t))) => {
                                            if tx.send(WsEvent::Text(t.to_string())).await.is_err() {
                                                return;
                                            }
                                        }
                                        Some(Ok(Message::Ping(p))) => {
                                            let _ = ws.send(Message::Pong(p)).await;
                                        }
                                        Some(Ok(_)) => {}
                                        // The old one ended first: wait on the new one alone.
                                        _ => break next.next().await,
                                    },
                                }
                            };
                            pending = match first {
                                Some(Ok(m)) => Some(m),
                                _ => None,
                            };
                            socket = Some(next);
                            let _ = ws.close(None).await;
                            break "rotated before the 24-hour limit".to_owned();
                        }
                        Err(e) => warn!(error = %e, "rotation connect failed; keeping the current connection"),
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
