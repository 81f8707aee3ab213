//! `GET /ws/topic/{topic}`: one consumer per tailed topic, shared by all its clients through a
//! bounded broadcast channel. The consumer never waits for a client: a client that falls more
//! than the channel's capacity behind loses the oldest records it had not taken and is told how
//! many (`{"kind":"skipped"}`), so a slow browser never slows the others or the consumer. The
//! consumer stops when its last client leaves.
//!
//! ```text
//!  topic ─► consumer task ─► broadcast (CLIENT_BUFFER) ─┬─► client 1 ─► filter ─► WebSocket
//!           (parse once,      never blocks               ├─► client 2 (slow: skipped n)
//!            encode once)                                └─► client n
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use rdkafka::Message as _;
use serde_json::{Value, json};
use streamforge_kit::KafkaSettings;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};
use warp::ws::{Message, WebSocket};

use crate::events::tail_consumer;
use crate::filter::Filter;

/// Records of each partition a new feed starts with, so a page shows something at once.
pub const START_TAIL: i64 = 20;
/// A client whose socket takes longer than this to take one message is dropped.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// One record, decoded once for every client.
#[derive(Debug)]
pub struct Record {
    pub key: Option<String>,
    pub value: Value,
    /// The message every client is sent.
    pub text: String,
}

impl Record {
    pub fn new(
        topic: &str,
        partition: i32,
        offset: i64,
        key: Option<String>,
        timestamp_ms: Option<i64>,
        payload: Option<&[u8]>,
    ) -> Self {
        let value = match payload {
            None => Value::Null,
            Some(bytes) => serde_json::from_slice(bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned())),
        };
        let text = json!({
            "kind": "record",
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "key": key,
            "timestamp_ms": timestamp_ms,
            "value": value,
        })
        .to_string();
        Record { key, value, text }
    }
}

/// What the hub counts, for `/metrics`.
#[derive(Clone)]
pub struct TailMetrics {
    pub consumed: IntCounterVec,
    pub delivered: IntCounterVec,
    pub skipped: IntCounterVec,
    pub clients: IntGauge,
}

impl TailMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str| {
            IntCounterVec::new(Opts::new(name, help), &["topic"]).and_then(|c| {
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            })
        };
        let clients = IntGauge::new("visualizer_ws_clients", "WebSocket clients tailing a topic")?;
        registry.register(Box::new(clients.clone()))?;
        Ok(TailMetrics {
            consumed: counter(
                "visualizer_tail_records_consumed_total",
                "records read from tailed topics",
            )?,
            delivered: counter(
                "visualizer_tail_records_delivered_total",
                "records sent to WebSocket clients",
            )?,
            skipped: counter(
                "visualizer_tail_records_skipped_total",
                "records slow clients skipped",
            )?,
            clients,
        })
    }
}

/// A topic's shared consumer; dropping the last handle stops it.
pub struct Feed {
    tx: broadcast::Sender<Arc<Record>>,
    task: JoinHandle<()>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct TopicHub {
    kafka: KafkaSettings,
    buffer: usize,
    feeds: Mutex<HashMap<String, Weak<Feed>>>,
    pub metrics: TailMetrics,
}

impl TopicHub {
    pub fn new(kafka: KafkaSettings, buffer: usize, metrics: TailMetrics) -> Self {
        TopicHub {
            kafka,
            buffer: buffer.max(1),
            feeds: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// Join `topic`'s feed, starting its consumer if nobody tails it yet.
    pub fn subscribe(
        &self,
        topic: &str,
    ) -> Result<(Arc<Feed>, broadcast::Receiver<Arc<Record>>), String> {
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(feed) = feeds.get(topic).and_then(Weak::upgrade) {
            let rx = feed.tx.subscribe();
            return Ok((feed, rx));
        }
        let consumer = tail_consumer(&self.kafka, "visualizer-tail", topic, START_TAIL)?;
        let (tx, rx) = broadcast::channel(self.buffer);
        let task = tokio::spawn(pump(
            consumer,
            topic.to_owned(),
            tx.clone(),
            self.metrics.clone(),
        ));
        let feed = Arc::new(Feed { tx, task });
        feeds.retain(|_, w| w.strong_count() > 0);
        feeds.insert(topic.to_owned(), Arc::downgrade(&feed));
        info!(%topic, "tailing");
        Ok((feed, rx))
    }
}

async fn pump(
    consumer: rdkafka::consumer::StreamConsumer,
    topic: String,
    tx: broadcast::Sender<Arc<Record>>,
    metrics: TailMetrics,
) {
    let consumed = metrics.consumed.with_label_values(&[&topic]);
    loop {
        match consumer.recv().await {
            Ok(m) => {
                consumed.inc();
                let key = m.key().map(|k| String::from_utf8_lossy(k).into_owned());
                let record = Record::new(
                    &topic,
                    m.partition(),
                    m.offset(),
                    key,
                    m.timestamp().to_millis(),
                    m.payload(),
                );
                // No client right now is fine: the feed ends when the last one leaves.
                let _ = tx.send(Arc::new(record));
            }
            Err(e) => {
                warn!(%topic, error = %e, "tailing");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Serve one client until it leaves: the feed's records that match `filter`, a `skipped`
/// notice whenever it fell behind.
pub async fn serve_client(
    ws: WebSocket,
    topic: String,
    feed: Arc<Feed>,
    mut rx: broadcast::Receiver<Arc<Record>>,
    filter: Filter,
    metrics: TailMetrics,
) {
    metrics.clients.inc();
    let delivered = metrics.delivered.with_label_values(&[&topic]);
    let skipped = metrics.skipped.with_label_values(&[&topic]);
    let (mut sink, mut incoming) = ws.split();
    loop {
        let out = tokio::select! {
            r = rx.recv() => match r {
                Ok(rec) if filter.record(rec.key.as_deref(), &rec.value) => Some(rec.text.clone()),
                Ok(_) => None,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    skipped.inc_by(n);
                    Some(json!({
                        "kind": "skipped",
                        "count": n,
                        "reason": "this client fell behind the topic; the oldest records it had not taken were dropped",
                    }).to_string())
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            m = incoming.next() => match m {
                None | Some(Err(_)) => break,
                Some(Ok(m)) if m.is_close() => break,
                Some(Ok(_)) => None,
            },
        };
        let Some(text) = out else { continue };
        match tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::text(text))).await {
            Ok(Ok(())) => delivered.inc(),
            Ok(Err(e)) => {
                debug!(error = %e, "client gone");
                break;
            }
            Err(_) => {
                warn!(%topic, "a client took no message for {SEND_TIMEOUT:?}; dropped");
                break;
            }
        }
    }
    metrics.clients.dec();
    drop(feed);
}

/// Tell a client why it gets nothing, then close.
pub async fn refuse(ws: WebSocket, message: String) {
    let (mut sink, _) = ws.split();
    let _ = sink
        .send(Message::text(
            json!({"kind": "error", "message": message}).to_string(),
        ))
        .await;
    let _ = sink.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_encoded_once_with_its_position() {
        let r = Record::new(
            "t",
            2,
            41,
            Some("BTCUSDT|1m|1".into()),
            Some(5),
            Some(br#"{"symbol":"BTCUSDT"}"#),
        );
        let v: Value = serde_json::from_str(&r.text).unwrap();
        assert_eq!(v["kind"], "record");
        assert_eq!(v["offset"], 41);
        assert_eq!(v["value"]["symbol"], "BTCUSDT");
        let r = Record::new("t", 0, 0, None, None, Some(b"not json \xff"));
        assert_eq!(r.value, Value::String("not json \u{fffd}".into()));
    }
}
