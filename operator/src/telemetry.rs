//! Telemetry (I/O): one consumer of `queue-events` feeding [`FoldState`], and a coalescing
//! writer that turns due summaries into status patches (field manager `streamforge-telemetry`).
//!
//! Ordering rule: offsets are committed only up to the first event whose summary has not been
//! written, so a restart re-folds (idempotently) whatever was not yet in the API server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use streamforge_api::{Queue, QueueEvent};
use tracing::{debug, warn};

use crate::fold::{FoldState, Outcome, RunKey, TelemetryStatus};
use crate::metrics::{Metrics, outcome};
use crate::queue_index::QueueIndex;
use streamforge_kit::kafka::ErrorLog;

/// Field manager of the telemetry fields of status.
pub const MANAGER: &str = "streamforge-telemetry";
/// How often the writer looks for due Queues.
pub const TICK: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The Queue is gone, or its name now belongs to another Queue (a new UID).
    #[error("Queue {0} no longer exists")]
    Gone(String),
    /// The API server refused this summary (4xx): retrying the same write cannot help, and
    /// would pin the partition's offsets. It is dropped and counted.
    #[error("telemetry status of {queue} refused: {reason}")]
    Refused { queue: String, reason: String },
    #[error("writing telemetry status of {queue}: {reason}")]
    Failed { queue: String, reason: String },
}

/// Where telemetry summaries go: the API server, or a recorder in tests.
pub trait StatusWriter: Send + Sync {
    fn write<'a>(&'a self, t: &'a TelemetryStatus) -> BoxFuture<'a, Result<(), WriteError>>;
}

pub struct KubeStatusWriter(pub Client);

/// The status patch for a summary: a JSON patch of only the telemetry fields, led by a test of
/// the Queue's UID. The test is the precondition: a Queue made again under the same name has a
/// new UID, and the whole patch is refused (a UID in a server-side apply body is not checked on
/// the status subresource, whose strategy keeps the stored metadata).
pub fn patch_ops(t: &TelemetryStatus) -> serde_json::Value {
    json!([
        { "op": "test", "path": "/metadata/uid", "value": t.uid },
        { "op": "add", "path": "/status/recordsWritten", "value": t.records_written },
        { "op": "add", "path": "/status/progress", "value": t.progress },
        { "op": "add", "path": "/status/lastEventTime", "value": t.last_event_time },
        { "op": "add", "path": "/status/producers", "value": t.producers },
        { "op": "add", "path": "/status/training", "value": t.results.training },
        { "op": "add", "path": "/status/graph", "value": t.results.graph },
        { "op": "add", "path": "/status/outputPath", "value": t.results.output_path },
    ])
}

/// The message of the API server's 422 for a JSON patch whose `test` failed.
const TEST_FAILED: &str = "the server rejected our request due to an error in our request";

impl StatusWriter for KubeStatusWriter {
    fn write<'a>(&'a self, t: &'a TelemetryStatus) -> BoxFuture<'a, Result<(), WriteError>> {
        Box::pin(async move {
            let failed = |reason: String| WriteError::Failed {
                queue: t.name.clone(),
                reason,
            };
            let url = format!(
                "/apis/streamforge.io/v1alpha1/namespaces/{}/queues/{}/status?fieldManager={MANAGER}",
                t.namespace, t.name
            );
            let body = serde_json::to_vec(&patch_ops(t)).map_err(|e| failed(e.to_string()))?;
            let req = ::http::Request::patch(url)
                .header(::http::header::CONTENT_TYPE, "application/json-patch+json")
                .body(body)
                .map_err(|e| failed(e.to_string()))?;
            match self.0.request::<Queue>(req).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 404 => Err(WriteError::Gone(t.name.clone())),
                // The UID test failed: the name is another Queue's now.
                Err(kube::Error::Api(e)) if e.code == 422 && e.message == TEST_FAILED => {
                    Err(WriteError::Gone(t.name.clone()))
                }
                Err(kube::Error::Api(e)) if (400..500).contains(&e.code) && e.code != 429 => {
                    Err(WriteError::Refused {
                        queue: t.name.clone(),
                        reason: e.message,
                    })
                }
                Err(e) => Err(failed(e.to_string())),
            }
        })
    }
}

/// Finds a Queue by queue id.
pub trait QueueLookup: Send + Sync {
    fn run_key(&self, queue_id: &str) -> Option<RunKey>;
}

/// Looks Queues up in the [`QueueIndex`] the Queue watcher keeps.
#[derive(Clone, Default)]
pub struct IndexLookup(pub Arc<Mutex<QueueIndex>>);

impl QueueLookup for IndexLookup {
    fn run_key(&self, queue_id: &str) -> Option<RunKey> {
        self.0.lock().ok()?.get(queue_id).cloned()
    }
}

/// Keep `index` in step with the Queues of `api` until the watch ends (at shutdown).
pub async fn follow_queues(api: Api<Queue>, index: Arc<Mutex<QueueIndex>>) {
    let mut events = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(ev) => {
                if let Ok(mut idx) = index.lock() {
                    idx.on_event(&ev);
                }
            }
            Err(e) => warn!(error = %e, "watching Queues for the telemetry index"),
        }
    }
}

/// The folder and writer, shared by the consumer and writer tasks.
pub struct Telemetry {
    pub state: Mutex<FoldState>,
    lookup: Box<dyn QueueLookup>,
    writer: Box<dyn StatusWriter>,
    metrics: Metrics,
    /// Next offset to consume per (topic, partition).
    consumed: Mutex<HashMap<(String, i32), i64>>,
    /// Per Queue UID, when the oldest event not yet in status was consumed: the start of the
    /// telemetry → status latency, which leaves out how long the worker took to send it.
    unwritten_since: Mutex<HashMap<String, Instant>>,
    /// Status writes in flight, over every flush running.
    permits: tokio::sync::Semaphore,
}

/// Status writes in flight at once; a flush of many busy Queues is not one long queue.
pub const WRITE_CONCURRENCY: usize = 16;

impl Telemetry {
    pub fn new(
        min_interval: Duration,
        lookup: Box<dyn QueueLookup>,
        writer: Box<dyn StatusWriter>,
        metrics: Metrics,
    ) -> Self {
        Self {
            state: Mutex::new(FoldState::new(min_interval)),
            lookup,
            writer,
            metrics,
            consumed: Mutex::new(HashMap::new()),
            unwritten_since: Mutex::new(HashMap::new()),
            permits: tokio::sync::Semaphore::new(WRITE_CONCURRENCY),
        }
    }

    /// Fold one raw message; returns the outcome label it was counted under.
    pub fn handle(
        &self,
        payload: &[u8],
        position: Option<(&str, i32, i64)>,
        received_ts: f64,
    ) -> &'static str {
        if let Some((topic, p, o)) = position
            && let Ok(mut c) = self.consumed.lock()
        {
            c.insert((topic.to_owned(), p), o + 1);
        }
        let label = self.fold(payload, position.map(|(_, p, o)| (p, o)), received_ts);
        self.metrics.events.with_label_values(&[label]).inc();
        label
    }

    fn fold(&self, payload: &[u8], position: Option<(i32, i64)>, received_ts: f64) -> &'static str {
        let ev = match QueueEvent::from_json(payload) {
            Ok(ev) => ev,
            Err(e) => {
                debug!(error = %e, "malformed telemetry event skipped");
                return outcome::MALFORMED;
            }
        };
        let Some(key) = self.lookup.run_key(&ev.queue_id) else {
            return outcome::UNKNOWN_QUEUE;
        };
        let ts = ev
            .timestamp
            .filter(|t| t.is_finite() && *t > 0.0)
            .unwrap_or(received_ts);
        let Ok(mut state) = self.state.lock() else {
            return outcome::MALFORMED;
        };
        match state.fold(&ev.queue_id, &key, &ev, ts, position) {
            Outcome::Folded => {
                if let Ok(mut since) = self.unwritten_since.lock() {
                    since.entry(key.uid).or_insert_with(Instant::now);
                }
                outcome::FOLDED
            }
            Outcome::Stale => outcome::STALE,
            Outcome::Anonymous => outcome::ANONYMOUS,
        }
    }

    /// Write every due summary, at most [`WRITE_CONCURRENCY`] writes in flight; returns how many
    /// writes succeeded.
    pub async fn flush_due(&self, now: Instant) -> usize {
        let batch: Vec<(TelemetryStatus, Option<Instant>)> = match self.state.lock() {
            Ok(mut s) => {
                let taken: Vec<TelemetryStatus> = s
                    .due(now)
                    .into_iter()
                    .filter_map(|uid| s.take(&uid, now))
                    .collect();
                let mut since = self.unwritten_since.lock().ok();
                taken
                    .into_iter()
                    .map(|t| {
                        let at = since.as_mut().and_then(|m| m.remove(&t.uid));
                        (t, at)
                    })
                    .collect()
            }
            Err(_) => return 0,
        };
        let written = futures::future::join_all(batch.into_iter().map(|(t, at)| async move {
            let result = match self.permits.acquire().await {
                Ok(_permit) => {
                    let started = Instant::now();
                    let r = self.writer.write(&t).await;
                    self.metrics
                        .telemetry_write
                        .observe(started.elapsed().as_secs_f64());
                    r
                }
                Err(_) => Err(WriteError::Failed {
                    queue: t.name.clone(),
                    reason: "the writer is shutting down".into(),
                }),
            };
            self.settle(&t, at, result)
        }))
        .await;
        written.into_iter().filter(|ok| *ok).count()
    }

    /// Record how the write of `t` ended; true when it was written.
    fn settle(
        &self,
        t: &TelemetryStatus,
        at: Option<Instant>,
        result: Result<(), WriteError>,
    ) -> bool {
        let Ok(mut s) = self.state.lock() else {
            return false;
        };
        match result {
            Ok(()) => {
                s.written(&t.uid);
                self.metrics
                    .status_patches
                    .with_label_values(&["telemetry", "ok"])
                    .inc();
                if let Some(at) = at {
                    self.metrics
                        .telemetry_latency
                        .observe(at.elapsed().as_secs_f64());
                }
                return true;
            }
            Err(WriteError::Gone(name)) => {
                debug!(queue = %name, "Queue gone; dropping its telemetry");
                s.forget(&t.uid);
            }
            Err(e @ WriteError::Refused { .. }) => {
                warn!(error = %e, "telemetry summary refused; dropped");
                s.written(&t.uid);
                self.metrics
                    .status_patches
                    .with_label_values(&["telemetry", "refused"])
                    .inc();
            }
            Err(e) => {
                warn!(error = %e, "telemetry status write failed; will retry");
                s.write_failed(&t.uid);
                if let (Some(at), Ok(mut since)) = (at, self.unwritten_since.lock()) {
                    since.entry(t.uid.clone()).or_insert(at);
                }
                self.metrics
                    .status_patches
                    .with_label_values(&["telemetry", "error"])
                    .inc();
            }
        }
        false
    }

    /// Offsets safe to commit: per partition, up to the first event not yet written.
    pub fn commit_positions(&self) -> Vec<(String, i32, i64)> {
        let (Ok(consumed), Ok(state)) = (self.consumed.lock(), self.state.lock()) else {
            return vec![];
        };
        consumed
            .iter()
            .map(|((topic, p), next)| (topic.clone(), *p, state.committable(*p, *next)))
            .collect()
    }
}

fn now_secs() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}

/// Consume `topic` until `shutdown` resolves, folding every message.
pub async fn consume(
    t: Arc<Telemetry>,
    consumer: Arc<StreamConsumer>,
    topic: &str,
    shutdown: impl std::future::Future<Output = ()>,
) {
    if let Err(e) = consumer.subscribe(&[topic]) {
        warn!(error = %e, topic, "subscribing to telemetry failed");
        t.metrics.kafka_errors.with_label_values(&["consume"]).inc();
        return;
    }
    tokio::pin!(shutdown);
    let mut errors = ErrorLog::default();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            msg = consumer.recv() => match msg {
                Ok(m) => {
                    let received = m.timestamp().to_millis().map_or_else(now_secs, |ms| ms as f64 / 1000.0);
                    t.handle(m.payload().unwrap_or_default(), Some((m.topic(), m.partition(), m.offset())), received);
                }
                // Taken as they come: a pause per error would leave the events after an outage
                // behind librdkafka's backlog of connection errors.
                Err(e) => {
                    t.metrics.kafka_errors.with_label_values(&["consume"]).inc();
                    if let Some(more) = errors.note(Instant::now()) {
                        warn!(error = %e, more, "consuming queue-events failed; retrying");
                    }
                }
            }
        }
    }
}

/// Write due summaries and commit safe offsets every [`TICK`] until `shutdown`, then once more.
pub async fn write_loop(
    t: Arc<Telemetry>,
    consumer: Arc<StreamConsumer>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut last_committed: HashMap<(String, i32), i64> = HashMap::new();
    loop {
        let stop = tokio::select! {
            _ = &mut shutdown => true,
            _ = tokio::time::sleep(TICK) => false,
        };
        // On shutdown everything unwritten is written, whatever the interval.
        let now = if stop {
            Instant::now() + Duration::from_secs(3600)
        } else {
            Instant::now()
        };
        // One flush at a time: its writes pace the next to what the API server absorbs.
        // Overlapping flushes were tried and measured no better on the 2-core platform, where
        // the API server's own write time dominates (docs/benchmarks.md).
        t.flush_due(now).await;
        let mut tpl = TopicPartitionList::new();
        for (topic, p, o) in t.commit_positions() {
            if last_committed.get(&(topic.clone(), p)) == Some(&o) {
                continue;
            }
            if tpl
                .add_partition_offset(&topic, p, Offset::Offset(o))
                .is_ok()
            {
                last_committed.insert((topic, p), o);
            }
        }
        if tpl.count() > 0
            && let Err(e) = consumer.commit(
                &tpl,
                if stop {
                    CommitMode::Sync
                } else {
                    CommitMode::Async
                },
            )
        {
            t.metrics.kafka_errors.with_label_values(&["commit"]).inc();
            warn!(error = %e, "committing queue-events offsets failed");
            last_committed.clear();
        }
        if stop {
            break;
        }
    }
}

#[cfg(test)]
mod writer_tests {
    use super::*;
    use http::{Request, Response};
    use kube::client::Body;
    use tower_test::mock;

    fn summary() -> TelemetryStatus {
        TelemetryStatus {
            namespace: "default".into(),
            name: "btc".into(),
            uid: "a1b2c3d4-1111-4222-8333-444455556666".into(),
            queue_id: "q".into(),
            run: 1,
            records_written: 42,
            progress: None,
            last_event_time: None,
            producers: vec![],
            results: Default::default(),
        }
    }

    /// The writer's one request, answered with `status` and `reply`.
    async fn write_answered(
        status: u16,
        reply: serde_json::Value,
    ) -> (Result<(), WriteError>, String, String, serde_json::Value) {
        let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let (req, send) = handle.next_request().await.unwrap();
            let uri = req.uri().to_string();
            let ctype = req.headers()[http::header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .to_owned();
            let body: serde_json::Value =
                serde_json::from_slice(&req.into_body().collect_bytes().await.unwrap()).unwrap();
            send.send_response(
                Response::builder()
                    .status(status)
                    .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                    .unwrap(),
            );
            (uri, ctype, body)
        });
        let w = KubeStatusWriter(Client::new(service, "default"));
        let r = w.write(&summary()).await;
        let (uri, ctype, body) = server.await.unwrap();
        (r, uri, ctype, body)
    }

    fn failure(code: u16, message: &str) -> serde_json::Value {
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": "Invalid", "code": code})
    }

    #[tokio::test]
    async fn writes_carry_the_queues_uid_as_a_precondition() {
        let q = serde_json::to_value(<Queue as crate::fixtures::QueueExt>::test()).unwrap();
        let (r, uri, ctype, body) = write_answered(200, q).await;
        assert!(r.is_ok(), "{r:?}");
        assert!(uri.starts_with("/apis/streamforge.io/v1alpha1/namespaces/default/queues/btc/status?fieldManager=streamforge-telemetry"), "{uri}");
        assert_eq!(ctype, "application/json-patch+json");
        assert_eq!(
            body[0],
            json!({"op": "test", "path": "/metadata/uid", "value": "a1b2c3d4-1111-4222-8333-444455556666"})
        );
        assert_eq!(body[1]["value"], 42);
    }

    #[tokio::test]
    async fn a_failed_uid_test_means_the_queue_is_gone_and_other_refusals_are_dropped() {
        let (r, ..) = write_answered(422, failure(422, TEST_FAILED)).await;
        assert!(matches!(r, Err(WriteError::Gone(_))), "{r:?}");
        let (r, ..) = write_answered(
            422,
            failure(
                422,
                "Queue.streamforge.io \"btc\" is invalid: status.recordsWritten: Invalid value",
            ),
        )
        .await;
        assert!(matches!(r, Err(WriteError::Refused { .. })), "{r:?}");
        let (r, ..) = write_answered(503, failure(503, "unavailable")).await;
        assert!(matches!(r, Err(WriteError::Failed { .. })), "{r:?}");
    }
}

#[cfg(test)]
mod flush_tests {
    use super::*;
    use std::sync::atomic::{AtomicU8, Ordering};

    const QID: &str = "wf-btcusdt-api_candles_5m-20240801-a1b2c3";

    struct One;
    impl QueueLookup for One {
        fn run_key(&self, queue_id: &str) -> Option<RunKey> {
            (queue_id == QID).then(|| RunKey {
                namespace: "default".into(),
                name: "btc".into(),
                uid: "uid-1".into(),
                run: 1,
                main_telemetry_id: "loader-producer__a1b2c3".into(),
            })
        }
    }

    /// Answers 0: ok, 1: refused (4xx), 2: failed (5xx).
    struct Answer(AtomicU8);
    impl StatusWriter for Answer {
        fn write<'a>(&'a self, t: &'a TelemetryStatus) -> BoxFuture<'a, Result<(), WriteError>> {
            let r = match self.0.load(Ordering::SeqCst) {
                0 => Ok(()),
                1 => Err(WriteError::Refused {
                    queue: t.name.clone(),
                    reason: "422".into(),
                }),
                _ => Err(WriteError::Failed {
                    queue: t.name.clone(),
                    reason: "503".into(),
                }),
            };
            Box::pin(async move { r })
        }
    }

    fn event(records: u64) -> Vec<u8> {
        format!(r#"{{"queue_id":"{QID}","telemetry_id":"loader-producer__a1b2c3","status":"loading","records_written":{records},"run":1}}"#).into_bytes()
    }

    #[tokio::test]
    async fn a_refused_summary_is_dropped_and_its_offsets_committed_a_failed_one_is_held() {
        let answer = Arc::new(Answer(AtomicU8::new(2)));
        struct Shared(Arc<Answer>);
        impl StatusWriter for Shared {
            fn write<'a>(
                &'a self,
                t: &'a TelemetryStatus,
            ) -> BoxFuture<'a, Result<(), WriteError>> {
                self.0.write(t)
            }
        }
        let metrics = Metrics::new().unwrap();
        let t = Telemetry::new(
            Duration::ZERO,
            Box::new(One),
            Box::new(Shared(answer.clone())),
            metrics.clone(),
        );
        t.handle(&event(5), Some(("queue-events", 0, 7)), 1.0);
        // A 5xx: the event stays unwritten, its offset is not committable.
        assert_eq!(t.flush_due(Instant::now()).await, 0);
        assert_eq!(
            t.commit_positions(),
            vec![("queue-events".to_owned(), 0, 7)]
        );
        // A 4xx: retrying the same write cannot help; it is dropped, counted, and the
        // partition moves on.
        answer.0.store(1, Ordering::SeqCst);
        assert_eq!(t.flush_due(Instant::now()).await, 0);
        assert_eq!(
            t.commit_positions(),
            vec![("queue-events".to_owned(), 0, 8)]
        );
        assert!(
            metrics.render().contains(
                r#"streamforge_status_patches_total{result="refused",writer="telemetry"} 1"#
            ),
            "{}",
            metrics.render()
        );
        // The next event is written normally, and its latency observed.
        answer.0.store(0, Ordering::SeqCst);
        t.handle(&event(9), Some(("queue-events", 0, 8)), 2.0);
        assert_eq!(t.flush_due(Instant::now()).await, 1);
        assert_eq!(
            t.commit_positions(),
            vec![("queue-events".to_owned(), 0, 9)]
        );
        assert!(
            metrics
                .render()
                .contains("streamforge_telemetry_status_latency_seconds_count 1")
        );
    }
}
