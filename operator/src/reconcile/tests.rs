//! Reconciler scenarios against kube's mock service: each lists the exact API calls it expects,
//! in order, so a missing or extra call fails the test. The real API server runs these flows in
//! the end-to-end suite (see docs/testing.md).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response};
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::{Client, Resource};
use serde_json::{Value, json};
use streamforge_api::{Command, Phase, Queue, SinkKind};
use tower_test::mock;

use super::{Context, reconcile};
use crate::config::WorkerDefaults;
use crate::fixtures::{QueueExt, job_with};
use crate::metrics::Metrics;
use crate::publisher::RecordingPublisher;
use crate::topics::RecordingDataTopics;

/// One expected API call: method, path (query ignored), and the status and JSON to answer with.
struct Call {
    method: Method,
    path: &'static str,
    status: u16,
    reply: Value,
}

fn call(method: Method, path: &'static str, reply: Value) -> Call {
    Call {
        method,
        path,
        status: 200,
        reply,
    }
}

/// The API server's answer for an object that no longer exists.
fn not_found(method: Method, path: &'static str) -> Call {
    Call {
        method,
        path,
        status: 404,
        reply: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "queues.streamforge.io \"btc-candles\" not found", "reason": "NotFound",
            "code": 404}),
    }
}

const JOBS: &str = "/apis/batch/v1/namespaces/default/jobs";
const STATUS: &str = "/apis/streamforge.io/v1alpha1/namespaces/default/queues/btc-candles/status";
const QUEUE: &str = "/apis/streamforge.io/v1alpha1/namespaces/default/queues/btc-candles";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/default/events";

fn job_list(jobs: Vec<k8s_openapi::api::batch::v1::Job>) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "JobList", "metadata": {}, "items": jobs})
}

fn event_reply() -> Value {
    json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"}, "eventTime": "2024-08-01T00:00:00.000000Z"})
}

struct Harness {
    ctx: Arc<Context>,
    publisher: RecordingPublisher,
    topics: RecordingDataTopics,
    bodies: Arc<Mutex<Vec<(Method, String, Value)>>>,
    server: tokio::task::JoinHandle<()>,
}

fn harness(queue: &Queue, calls: Vec<Call>) -> Harness {
    let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let queue_json = serde_json::to_value(queue).unwrap();
    let server = tokio::spawn(async move {
        for (i, expected) in calls.into_iter().enumerate() {
            let (request, send) = handle.next_request().await.unwrap_or_else(|| {
                panic!(
                    "call {i} ({} {}) never came",
                    expected.method, expected.path
                )
            });
            let method = request.method().clone();
            let path = request.uri().path().to_owned();
            assert_eq!(
                (&method, path.as_str()),
                (&expected.method, expected.path),
                "call {i}"
            );
            let bytes = request.into_body().collect_bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            seen.lock().unwrap().push((method, path, body));
            let reply = if expected.reply.is_null() {
                queue_json.clone()
            } else {
                expected.reply
            };
            send.send_response(
                Response::builder()
                    .status(expected.status)
                    .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                    .unwrap(),
            );
        }
        // Nothing else may be called.
        if let Ok(Some((request, _))) =
            tokio::time::timeout(Duration::from_millis(200), handle.next_request()).await
        {
            panic!("unexpected call {} {}", request.method(), request.uri());
        }
    });
    let client = Client::new(service, "default");
    let publisher = RecordingPublisher::default();
    let topics = RecordingDataTopics::default();
    let ctx = Arc::new(
        Context::new(
            client,
            WorkerDefaults::for_tests(),
            Arc::new(publisher.clone()),
            Metrics::new().unwrap(),
            Duration::from_secs(60),
        )
        .with_data_topics(Arc::new(topics.clone())),
    );
    Harness {
        ctx,
        publisher,
        topics,
        bodies,
        server,
    }
}

impl Harness {
    async fn done(self) -> (RecordingPublisher, Vec<(Method, String, Value)>) {
        self.server.await.unwrap();
        let bodies = self.bodies.lock().unwrap().clone();
        (self.publisher, bodies)
    }
}

fn statuses(bodies: &[(Method, String, Value)]) -> Vec<Value> {
    bodies
        .iter()
        .filter(|(_, p, _)| p == STATUS)
        .map(|(_, _, b)| b["status"].clone())
        .collect()
}

#[tokio::test]
async fn a_new_queue_gets_its_jobs_and_exactly_one_start() {
    let q = Queue::test().with_sinks(&[SinkKind::Arango]).finalized();
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![])),
            call(
                Method::POST,
                JOBS,
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "btc-candles-a1b2c3-r1"}}),
            ),
            call(
                Method::POST,
                JOBS,
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "btc-candles-a1b2c3-arango-r1"}}),
            ),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    let action = reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(super::RESYNC));
    let topics = h.topics.clone();
    let (publisher, bodies) = h.done().await;
    assert_eq!(
        topics.ensured(),
        ["wf-btcusdt-api_candles_5m-20240801-a1b2c3-data"],
        "the data topic is made once, before the Jobs (see the test below for the order)"
    );

    let sent = publisher.sent();
    assert_eq!(sent.len(), 2, "one start per worker");
    assert!(
        sent.iter()
            .all(|c| c.command == Command::Start && c.run == 1)
    );
    assert_eq!(sent[0].telemetry_id, "loader-producer__a1b2c3");
    assert_eq!(sent[1].telemetry_id, "arango-connector__a1b2c3");

    let created: Vec<&Value> = bodies
        .iter()
        .filter(|(m, p, _)| *m == Method::POST && p == JOBS)
        .map(|(_, _, b)| b)
        .collect();
    assert_eq!(
        created[0]["metadata"]["ownerReferences"][0]["kind"],
        "Queue"
    );
    assert_eq!(
        created[1]["metadata"]["labels"]["streamforge.io/role"],
        "arango"
    );

    let st = statuses(&bodies);
    assert_eq!(
        st.len(),
        1,
        "the start is recorded in one write; nothing else changed"
    );
    assert_eq!(st[0]["phase"], "Pending");
    assert_eq!(st[0]["startSentRun"], 1);
    assert_eq!(
        st[0]["queueId"],
        "wf-btcusdt-api_candles_5m-20240801-a1b2c3"
    );
    assert!(
        st[0].get("producers").is_none(),
        "telemetry fields belong to the other field manager"
    );
}

/// The data topic comes before the Jobs: a topic that cannot be made holds them back (a sink
/// started before its topic would wait for it), and the reconcile is retried with the reason
/// shown.
#[tokio::test]
async fn a_data_topic_that_cannot_be_made_holds_the_jobs_back() {
    let q = Queue::test().with_sinks(&[SinkKind::Arango]).finalized();
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![])),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    h.topics.set_failing(true);
    let err = reconcile(Arc::new(q), h.ctx.clone()).await.unwrap_err();
    assert_eq!(err.reason(), "DataTopicNotMade");
    let topics = h.topics.clone();
    let (publisher, bodies) = h.done().await;
    assert_eq!(
        topics.ensured(),
        ["wf-btcusdt-api_candles_5m-20240801-a1b2c3-data"]
    );
    assert!(publisher.sent().is_empty(), "no start without Jobs");
    let st = &statuses(&bodies)[0];
    let stalled = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Stalled")
        .unwrap();
    assert_eq!(stalled["reason"], "DataTopicNotMade");
    assert!(
        stalled["message"]
            .as_str()
            .unwrap()
            .contains("broker unavailable"),
        "{stalled}"
    );
}

#[tokio::test]
async fn a_restarted_operator_never_sends_a_second_start() {
    let q = Queue::test().finalized().in_phase(Phase::Running, 1, true);
    let h = harness(
        &q,
        vec![
            call(
                Method::GET,
                JOBS,
                job_list(vec![job_with("btc-candles-a1b2c3-r1", 1, None)]),
            ),
            call(Method::PATCH, STATUS, Value::Null),
        ],
    );
    reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    let topics = h.topics.clone();
    let (publisher, bodies) = h.done().await;
    assert!(publisher.sent().is_empty());
    assert!(
        topics.ensured().is_empty(),
        "a run whose Jobs exist asks Kafka nothing"
    );
    let st = statuses(&bodies);
    assert_eq!(st[0]["phase"], "Running");
    assert_eq!(st[0]["startSentRun"], 1);
}

#[tokio::test]
async fn a_failed_job_fails_the_queue_and_stops_the_run() {
    let q = Queue::test().finalized().in_phase(Phase::Running, 1, true);
    let failed = job_with(
        "btc-candles-a1b2c3-r1",
        0,
        Some((
            "Failed",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        )),
    );
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![failed])),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    let action = reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::await_change());
    let (publisher, bodies) = h.done().await;
    assert_eq!(
        publisher
            .sent()
            .iter()
            .map(|c| c.command)
            .collect::<Vec<_>>(),
        [Command::Stop]
    );
    let st = &statuses(&bodies)[0];
    assert_eq!(st["phase"], "Failed");
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .contains("BackoffLimitExceeded")
    );
    let failed_cond = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Failed")
        .unwrap();
    assert_eq!(
        (
            failed_cond["status"].as_str(),
            failed_cond["reason"].as_str()
        ),
        (Some("True"), Some("JobFailed"))
    );
    let event = bodies
        .iter()
        .find(|(_, p, _)| p == EVENTS)
        .map(|(_, _, b)| b)
        .unwrap();
    assert_eq!(event["type"], "Warning");
}

#[tokio::test]
async fn suspend_sends_stop_once_and_deletes_the_jobs() {
    let q = Queue::test()
        .finalized()
        .in_phase(Phase::Running, 1, true)
        .suspended();
    let h = harness(
        &q,
        vec![
            call(
                Method::GET,
                JOBS,
                job_list(vec![job_with("btc-candles-a1b2c3-r1", 1, None)]),
            ),
            call(Method::PATCH, STATUS, Value::Null),
            call(
                Method::DELETE,
                "/apis/batch/v1/namespaces/default/jobs/btc-candles-a1b2c3-r1",
                json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}),
            ),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    let (publisher, bodies) = h.done().await;
    assert_eq!(
        publisher
            .sent()
            .iter()
            .map(|c| c.command)
            .collect::<Vec<_>>(),
        [Command::Stop]
    );
    let st = statuses(&bodies);
    assert_eq!(
        st[0]["stopSentRun"], 1,
        "stop is recorded before the Jobs go"
    );
    assert_eq!(st[1]["phase"], "Stopped");
}

#[tokio::test]
async fn resume_after_suspend_is_a_new_run() {
    let mut q = Queue::test().finalized().in_phase(Phase::Stopped, 1, true);
    q.status.as_mut().unwrap().stop_sent_run = Some(1);
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![])),
            call(
                Method::POST,
                JOBS,
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "btc-candles-a1b2c3-r2"}}),
            ),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    let (publisher, bodies) = h.done().await;
    let sent = publisher.sent();
    assert_eq!(
        (sent.len(), sent[0].command, sent[0].run),
        (1, Command::Start, 2)
    );
    let created = bodies
        .iter()
        .find(|(m, p, _)| *m == Method::POST && p == JOBS)
        .unwrap();
    assert_eq!(created.2["metadata"]["name"], "btc-candles-a1b2c3-r2");
    assert_eq!(statuses(&bodies)[0]["run"], 2);
}

#[tokio::test]
async fn an_invalid_spec_fails_without_touching_jobs_or_kafka() {
    let mut q = Queue::test().finalized();
    q.spec.time_range = Some("2024-08-02:2024-08-01".into());
    let h = harness(
        &q,
        vec![
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    assert_eq!(
        reconcile(Arc::new(q), h.ctx.clone()).await.unwrap(),
        Action::await_change()
    );
    let (publisher, bodies) = h.done().await;
    assert!(publisher.sent().is_empty());
    let st = &statuses(&bodies)[0];
    assert_eq!(st["phase"], "Failed");
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .contains("is not before end"),
        "{st}"
    );
}

#[tokio::test]
async fn an_image_from_outside_the_allowed_registries_fails_without_jobs() {
    let mut q = Queue::test().finalized();
    q.spec.image = Some("docker.io/evil/miner:1".into());
    let h = harness(
        &q,
        vec![
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    assert_eq!(
        reconcile(Arc::new(q), h.ctx.clone()).await.unwrap(),
        Action::await_change()
    );
    let (publisher, bodies) = h.done().await;
    assert!(publisher.sent().is_empty());
    let st = &statuses(&bodies)[0];
    assert_eq!(st["phase"], "Failed");
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .starts_with("not allowed: image \"docker.io/evil/miner:1\""),
        "{st}"
    );
    let failed = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Failed")
        .unwrap();
    assert_eq!(failed["reason"], "NotAllowed");
}

#[tokio::test]
async fn deletion_retries_stop_then_releases_the_finalizer_after_the_grace_period() {
    // Kafka is down. Within the grace period the cleanup fails (and is retried).
    let q = Queue::test()
        .finalized()
        .in_phase(Phase::Running, 1, true)
        .deleting();
    let h = harness(&q, vec![]);
    h.publisher.set_failing(true);
    assert!(reconcile(Arc::new(q), h.ctx.clone()).await.is_err());
    h.done().await;

    // Past it, a Warning event, the Jobs deleted, and the finalizer removed.
    let mut q = Queue::test()
        .finalized()
        .in_phase(Phase::Running, 1, true)
        .deleting();
    q.metadata.deletion_timestamp = Some(crate::time::from_chrono(
        chrono::Utc::now() - chrono::Duration::seconds(120),
    ));
    let h = harness(
        &q,
        vec![
            call(Method::POST, EVENTS, event_reply()),
            call(
                Method::GET,
                JOBS,
                job_list(vec![job_with("btc-candles-a1b2c3-r1", 1, None)]),
            ),
            call(
                Method::DELETE,
                "/apis/batch/v1/namespaces/default/jobs/btc-candles-a1b2c3-r1",
                json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}),
            ),
            call(Method::PATCH, QUEUE, Value::Null),
        ],
    );
    h.publisher.set_failing(true);
    reconcile(Arc::new(q.clone()), h.ctx.clone()).await.unwrap();
    let (_, bodies) = h.done().await;
    let event = &bodies[0].2;
    assert_eq!(
        (event["type"].as_str(), event["reason"].as_str()),
        (Some("Warning"), Some("StopNotDelivered"))
    );
    let patch = &bodies[3].2;
    assert_eq!(patch[1]["op"], "remove", "finalizer removed: {patch}");
    assert_eq!(q.meta().finalizers.as_ref().unwrap()[0], super::FINALIZER);
}

#[tokio::test]
async fn deletion_of_a_live_queue_sends_stop() {
    let q = Queue::test()
        .finalized()
        .in_phase(Phase::Running, 1, true)
        .deleting();
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![])),
            call(Method::PATCH, QUEUE, Value::Null),
        ],
    );
    reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    let (publisher, _) = h.done().await;
    assert_eq!(
        publisher
            .sent()
            .iter()
            .map(|c| c.command)
            .collect::<Vec<_>>(),
        [Command::Stop]
    );
}

#[tokio::test]
async fn a_queue_gone_before_its_finalizer_is_removed_is_done() {
    // A bulk delete: the cleanup ran, but the Queue vanished before the finalizer patch.
    let q = Queue::test()
        .finalized()
        .in_phase(Phase::Running, 1, true)
        .deleting();
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![])),
            not_found(Method::PATCH, QUEUE),
        ],
    );
    let action = reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::await_change());
    h.done().await;
}

fn succeeded_job(name: &str) -> k8s_openapi::api::batch::v1::Job {
    job_with(name, 0, Some(("Complete", "Completed", "")))
}

#[tokio::test]
async fn a_completed_job_removed_by_its_ttl_is_not_created_again() {
    // First look: the Job is complete; the reconciler records it.
    let q = Queue::test()
        .finalized()
        .in_phase(Phase::Running, 1, true)
        .with_sinks(&[SinkKind::Lake]);
    let h = harness(
        &q,
        vec![
            call(
                Method::GET,
                JOBS,
                job_list(vec![
                    succeeded_job("btc-candles-a1b2c3-r1"),
                    job_with("btc-candles-a1b2c3-lake-r1", 1, None),
                ]),
            ),
            call(Method::PATCH, STATUS, Value::Null),
        ],
    );
    reconcile(Arc::new(q.clone()), h.ctx.clone()).await.unwrap();
    let (_, bodies) = h.done().await;
    let st = &statuses(&bodies)[0];
    assert_eq!(st["succeededJobs"], json!(["btc-candles-a1b2c3-r1"]));

    // Its TTL (0 s) removed it: nothing is created, the sink still runs.
    let mut q = q;
    q.status.as_mut().unwrap().succeeded_jobs = vec!["btc-candles-a1b2c3-r1".into()];
    q.status.as_mut().unwrap().drain_sent_run = Some(1);
    let h = harness(
        &q,
        vec![
            call(
                Method::GET,
                JOBS,
                job_list(vec![job_with("btc-candles-a1b2c3-lake-r1", 1, None)]),
            ),
            call(Method::PATCH, STATUS, Value::Null),
        ],
    );
    reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    let (publisher, bodies) = h.done().await;
    assert!(publisher.sent().is_empty());
    assert!(
        !bodies
            .iter()
            .any(|(m, p, _)| *m == Method::POST && p == JOBS)
    );
    assert_eq!(statuses(&bodies)[0]["phase"], "Running");
}

#[tokio::test]
async fn a_job_gone_before_it_was_seen_complete_is_not_rerun_when_its_worker_finished() {
    let mut q = Queue::test().finalized().in_phase(Phase::Running, 1, true);
    q.status.as_mut().unwrap().producers = vec![streamforge_api::ProducerSummary {
        telemetry_id: "loader-producer__a1b2c3".into(),
        status: "finished".into(),
        finished: true,
        records_written: 288,
        run: Some(1),
        ..Default::default()
    }];
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![])),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    let (_, bodies) = h.done().await;
    assert_eq!(statuses(&bodies)[0]["phase"], "Succeeded");
}

#[tokio::test]
async fn sinks_are_told_to_drain_once_when_the_main_job_succeeded() {
    let q = Queue::test()
        .finalized()
        .in_phase(Phase::Running, 1, true)
        .with_sinks(&[SinkKind::Arango, SinkKind::Lake]);
    let jobs = || {
        job_list(vec![
            succeeded_job("btc-candles-a1b2c3-r1"),
            job_with("btc-candles-a1b2c3-arango-r1", 1, None),
            succeeded_job("btc-candles-a1b2c3-lake-r1"),
        ])
    };
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, jobs()),
            call(Method::PATCH, STATUS, Value::Null),
        ],
    );
    reconcile(Arc::new(q.clone()), h.ctx.clone()).await.unwrap();
    let (publisher, bodies) = h.done().await;
    let sent = publisher.sent();
    assert_eq!(sent.len(), 1, "only the sink still running: {sent:?}");
    assert_eq!(
        (sent[0].command, sent[0].telemetry_id.as_str(), sent[0].run),
        (Command::Drain, "arango-connector__a1b2c3", 1)
    );
    assert_eq!(statuses(&bodies)[0]["drainSentRun"], 1);

    // Recorded: the next reconcile sends nothing.
    let mut q = q;
    q.status.as_mut().unwrap().drain_sent_run = Some(1);
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, jobs()),
            call(Method::PATCH, STATUS, Value::Null),
        ],
    );
    reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    let (publisher, _) = h.done().await;
    assert!(publisher.sent().is_empty());
}

#[tokio::test]
async fn a_job_name_taken_by_something_else_is_shown_not_swallowed() {
    let q = Queue::test().finalized();
    let mut theirs = job_with("btc-candles-a1b2c3-r1", 1, None);
    theirs.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "streamforge.io/v1alpha1".into(),
            kind: "Queue".into(),
            name: "btc-candles-a1b2c3".into(),
            uid: "someone-else".into(),
            ..Default::default()
        },
    ]);
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![])),
            Call {
                method: Method::POST,
                path: JOBS,
                status: 409,
                reply: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "jobs.batch \"btc-candles-a1b2c3-r1\" already exists", "reason": "AlreadyExists", "code": 409}),
            },
            call(
                Method::GET,
                "/apis/batch/v1/namespaces/default/jobs/btc-candles-a1b2c3-r1",
                serde_json::to_value(&theirs).unwrap(),
            ),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    let err = reconcile(Arc::new(q), h.ctx.clone()).await.unwrap_err();
    assert_eq!(err.reason(), "JobNameTaken");
    let (publisher, bodies) = h.done().await;
    assert!(
        publisher.sent().is_empty(),
        "no start for a run without its Job"
    );
    let stalled = statuses(&bodies)[0]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Stalled")
        .cloned()
        .unwrap();
    assert_eq!(
        (stalled["status"].as_str(), stalled["reason"].as_str()),
        (Some("True"), Some("JobNameTaken"))
    );
    let event = &bodies.last().unwrap().2;
    assert_eq!(
        (event["type"].as_str(), event["reason"].as_str()),
        (Some("Warning"), Some("JobNameTaken"))
    );
}

#[tokio::test]
async fn a_refused_job_create_shows_as_stalled_and_backs_off() {
    let q = Queue::test().finalized();
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![])),
            Call {
                method: Method::POST,
                path: JOBS,
                status: 403,
                reply: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "jobs.batch is forbidden: exceeded quota: compute", "reason": "Forbidden", "code": 403}),
            },
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    let q = Arc::new(q);
    let err = reconcile(q.clone(), h.ctx.clone()).await.unwrap_err();
    let first = super::error_policy(q.clone(), &err, h.ctx.clone());
    let second = super::error_policy(q.clone(), &err, h.ctx.clone());
    assert_eq!(first, Action::requeue(super::retry_delay(0)));
    assert_eq!(second, Action::requeue(super::retry_delay(1)));
    let (_, bodies) = h.done().await;
    let st = &statuses(&bodies)[0];
    let stalled = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Stalled")
        .unwrap();
    assert_eq!(stalled["reason"], "JobForbidden");
    assert!(
        stalled["message"]
            .as_str()
            .unwrap()
            .contains("exceeded quota"),
        "{stalled}"
    );
}

const PODS: &str = "/api/v1/namespaces/default/pods";
const CORE_EVENTS: &str = "/api/v1/namespaces/default/events";

/// A Job whose pod exists but has not started, created `age_s` seconds ago.
fn starting_job(name: &str, age_s: i64) -> k8s_openapi::api::batch::v1::Job {
    let mut j = job_with(name, 1, None);
    j.status.as_mut().unwrap().ready = Some(0);
    j.metadata.creation_timestamp = Some(crate::time::from_chrono(
        chrono::Utc::now() - chrono::Duration::seconds(age_s),
    ));
    j
}

fn pull_backoff_pod() -> Value {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [{
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "btc-candles-a1b2c3-r1-x7k2p", "labels": {"job-name": "btc-candles-a1b2c3-r1"}},
        "status": {"phase": "Pending", "containerStatuses": [{
            "name": "worker", "image": "streamforge/nope:1", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"streamforge/nope:1\""}}}]}}]})
}

fn condition(st: &Value, type_: &str) -> Value {
    st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn a_pod_that_cannot_pull_its_image_shows_why_then_fails_the_queue() {
    let q = Queue::test().finalized().in_phase(Phase::Pending, 1, true);
    let h = harness(
        &q,
        vec![
            call(
                Method::GET,
                JOBS,
                job_list(vec![starting_job("btc-candles-a1b2c3-r1", 30)]),
            ),
            call(Method::GET, PODS, pull_backoff_pod()),
            call(Method::PATCH, STATUS, Value::Null),
        ],
    );
    let action = reconcile(Arc::new(q.clone()), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(super::POD_START_CHECK));
    let (_, bodies) = h.done().await;
    let st = &statuses(&bodies)[0];
    assert_eq!(st["phase"], "Pending");
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .contains("streamforge/nope:1"),
        "{st}"
    );
    let ready = condition(st, "Ready");
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("ImagePullBackOff"))
    );

    // Past the pod start timeout (600 s by default): Failed, with that reason.
    let h = harness(
        &q,
        vec![
            call(
                Method::GET,
                JOBS,
                job_list(vec![starting_job("btc-candles-a1b2c3-r1", 700)]),
            ),
            call(Method::GET, PODS, pull_backoff_pod()),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    assert_eq!(
        reconcile(Arc::new(q), h.ctx.clone()).await.unwrap(),
        Action::await_change()
    );
    let (publisher, bodies) = h.done().await;
    assert_eq!(
        publisher
            .sent()
            .iter()
            .map(|c| c.command)
            .collect::<Vec<_>>(),
        [Command::Stop]
    );
    let st = &statuses(&bodies)[0];
    assert_eq!(st["phase"], "Failed");
    assert_eq!(condition(st, "Failed")["reason"], "ImagePullBackOff");
    assert_eq!(condition(st, "Stalled")["status"], "True");
}

#[tokio::test]
async fn a_pod_refused_by_admission_shows_the_refusal() {
    let q = Queue::test().finalized().in_phase(Phase::Pending, 1, true);
    let mut job = job_with("btc-candles-a1b2c3-r1", 0, None);
    job.metadata.creation_timestamp = Some(crate::time::now());
    let events = json!({"apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": [{
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "default"},
        "involvedObject": {"kind": "Job", "name": "btc-candles-a1b2c3-r1"},
        "reason": "FailedCreate",
        "message": "Error creating: pods \"btc-candles-a1b2c3-r1-abcde\" is forbidden: violates PodSecurity \"restricted:latest\"",
        "lastTimestamp": "2026-11-30T10:00:00Z"}]});
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![job])),
            call(
                Method::GET,
                PODS,
                json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": []}),
            ),
            call(Method::GET, CORE_EVENTS, events),
            call(Method::PATCH, STATUS, Value::Null),
        ],
    );
    reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    let (_, bodies) = h.done().await;
    let st = &statuses(&bodies)[0];
    assert_eq!(condition(st, "Ready")["reason"], "PodCreateRefused");
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .contains("violates PodSecurity"),
        "{st}"
    );
}

#[tokio::test]
async fn a_reconcile_of_a_stale_copy_does_not_deliver_start_again() {
    // The event of the Job just created can reach the controller before the Queue's own status
    // write does; the second reconcile then sees a Queue without `startSentRun`.
    let q = Queue::test().finalized();
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![])),
            call(
                Method::POST,
                JOBS,
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "btc-candles-a1b2c3-r1"}}),
            ),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
            call(Method::POST, EVENTS, event_reply()),
            // The second reconcile, of the same stale copy.
            call(
                Method::GET,
                JOBS,
                job_list(vec![job_with("btc-candles-a1b2c3-r1", 1, None)]),
            ),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    let q = Arc::new(q);
    reconcile(q.clone(), h.ctx.clone()).await.unwrap();
    reconcile(q, h.ctx.clone()).await.unwrap();
    let (publisher, bodies) = h.done().await;
    assert_eq!(
        publisher.sent().len(),
        1,
        "exactly one start: {:?}",
        publisher.sent()
    );
    let st = statuses(&bodies);
    assert_eq!(st[1]["startSentRun"], 1);
    assert_eq!(
        st[1]["startedAt"], st[0]["startedAt"],
        "the first delivery's time is kept"
    );
}

const QUEUES: &str = "/apis/streamforge.io/v1alpha1/namespaces/default/queues";

fn queue_list(queues: Vec<Queue>) -> Value {
    json!({"apiVersion": "streamforge.io/v1alpha1", "kind": "QueueList", "metadata": {}, "items": queues})
}

fn named(name: &str, phase: Option<Phase>) -> Queue {
    let mut q = Queue::test();
    q.metadata.name = Some(name.into());
    q.metadata.uid = Some(format!("{name}-uid"));
    if let Some(p) = phase {
        q = q.in_phase(p, 1, true);
        if let Some(st) = q.status.as_mut() {
            st.message = Some(format!("{name} says {}", p.as_str()));
        }
    }
    q
}

#[tokio::test]
async fn a_queue_waits_without_jobs_or_start_until_those_it_follows_succeed() {
    let mut q = Queue::test().finalized();
    q.spec.after = vec!["load".into(), "graph".into()];
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![])),
            call(
                Method::GET,
                QUEUES,
                queue_list(vec![
                    named("load", Some(Phase::Succeeded)),
                    named("graph", Some(Phase::Running)),
                ]),
            ),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    let action = reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(super::WAIT_CHECK));
    let (publisher, bodies) = h.done().await;
    assert!(publisher.sent().is_empty(), "no start while waiting");
    let st = statuses(&bodies);
    assert_eq!(st[0]["phase"], "Waiting");
    assert_eq!(st[0]["message"], "waiting for graph (Running)");
    assert_eq!(condition(&st[0], "Ready")["reason"], "WaitingForQueues");
    assert_eq!(condition(&st[0], "Started")["status"], "False");
}

#[tokio::test]
async fn a_queue_starts_once_every_queue_it_follows_succeeded() {
    let mut q = Queue::test().finalized();
    q.spec.after = vec!["load".into()];
    q = q.in_phase(Phase::Waiting, 1, false);
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![])),
            call(
                Method::GET,
                QUEUES,
                queue_list(vec![named("load", Some(Phase::Succeeded))]),
            ),
            call(
                Method::POST,
                JOBS,
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "btc-candles-a1b2c3-r1"}}),
            ),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    let (publisher, bodies) = h.done().await;
    assert_eq!(publisher.sent().len(), 1);
    assert_eq!(publisher.sent()[0].command, Command::Start);
    assert_eq!(statuses(&bodies)[0]["phase"], "Pending");
}

#[tokio::test]
async fn a_queue_fails_with_the_reason_when_one_it_follows_fails_or_they_loop() {
    let mut q = Queue::test().finalized();
    q.spec.after = vec!["graph".into()];
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![])),
            call(
                Method::GET,
                QUEUES,
                queue_list(vec![named("graph", Some(Phase::Failed))]),
            ),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    let action = reconcile(Arc::new(q.clone()), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::await_change());
    let (publisher, bodies) = h.done().await;
    assert!(publisher.sent().is_empty());
    let st = statuses(&bodies);
    assert_eq!(st[0]["phase"], "Failed");
    assert_eq!(condition(&st[0], "Failed")["reason"], "DependencyFailed");
    assert_eq!(
        st[0]["message"],
        "graph, which this Queue waits for, Failed: graph says Failed"
    );

    // graph waits for this Queue: a loop that can never resolve.
    let mut graph = named("graph", None);
    graph.spec.after = vec!["btc-candles".into()];
    let h = harness(
        &q,
        vec![
            call(Method::GET, JOBS, job_list(vec![])),
            call(Method::GET, QUEUES, queue_list(vec![graph, q.clone()])),
            call(Method::PATCH, STATUS, Value::Null),
            call(Method::POST, EVENTS, event_reply()),
        ],
    );
    reconcile(Arc::new(q), h.ctx.clone()).await.unwrap();
    let (_, bodies) = h.done().await;
    let st = statuses(&bodies);
    assert_eq!(st[0]["phase"], "Failed");
    assert_eq!(condition(&st[0], "Failed")["reason"], "DependencyCycle");
    assert_eq!(
        st[0]["message"],
        "spec.after makes a cycle: btc-candles → graph → btc-candles"
    );
}
