//! The `loader` binary as an `api_orderbook` Job runs it: settings from the environment the
//! operator sets (`SNAPSHOT_INTERVAL_SECONDS`, `DEPTH_LIMIT`), a bad one refused with exit code 2
//! and an `error` event, and SIGTERM (the pod deleted) ending the series with what was taken
//! flushed, `retrying` and exit code 1, so the Job's next pod takes the snapshot times left.
//! Against the exchange simulator and librdkafka's mock cluster, which a child process reaches
//! over TCP like a broker.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::mocking::MockCluster;
use streamforge_api::{EventStatus, QueueEvent, TimeRange};
use streamforge_kit::KafkaSettings;
use streamforge_loader::records::BookRecord;

const QID: &str = "wf-btcusdt-api_orderbook-20240801-d4e5f6";
const TID: &str = "loader-api-orderbook__d4e5f6";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `TIME_RANGE` from `from_ms` for `len_ms`, as RFC 3339 instants.
fn time_range(from_ms: i64, len_ms: i64) -> String {
    let at = |ms: i64| UNIX_EPOCH + Duration::from_millis(ms as u64);
    TimeRange {
        start: at(from_ms).into(),
        end: at(from_ms + len_ms).into(),
        whole_days: false,
    }
    .to_string()
}

async fn setup() -> (
    MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    KafkaSettings,
    String,
) {
    let (cluster, settings) = common::mock_cluster(QID);
    let sim = common::simulator(binance_sim::Config::default()).await;
    (cluster, settings, sim)
}

fn loader(settings: &KafkaSettings, sim: &str, range: &str, extra: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loader"));
    cmd.env("QUEUE_ID", QID)
        .env("TELEMETRY_PRODUCER_ID", TID)
        .env("SYMBOL", "BTCUSDT")
        .env("TYPE", "api_orderbook")
        .env("TIME_RANGE", range)
        .env("KAFKA_TOPIC", format!("{QID}-data"))
        .env("RUN", "1")
        .env("KAFKA_BOOTSTRAP_SERVERS", &settings.bootstrap_servers)
        .env("BINANCE_BASE_URL", sim)
        .env("WAIT_FOR_START", "false")
        .env("TELEMETRY_EVERY_SECS", "1")
        .env("METRICS_ADDR", "127.0.0.1:0");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

async fn exit_code(child: Child) -> Option<i32> {
    let mut child = child;
    tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap()
        .code()
}

/// The events on queue-events up to the closing one (`retrying` closes a pod's run too).
async fn events(settings: &KafkaSettings, group: &str) -> Vec<QueueEvent> {
    let c: StreamConsumer = settings.consumer("reader", group).unwrap();
    c.subscribe(&["queue-events"]).unwrap();
    let mut out: Vec<QueueEvent> = vec![];
    let closing = |e: &QueueEvent| e.is_final() || e.status == Some(EventStatus::Retrying);
    while !out.last().is_some_and(closing) {
        let m = tokio::time::timeout(Duration::from_secs(30), c.recv())
            .await
            .expect("a closing event within 30 s")
            .unwrap();
        out.push(QueueEvent::from_json(m.payload().unwrap_or_default()).unwrap());
    }
    out
}

#[tokio::test]
async fn protocol_binary_refuses_a_bad_depth_limit_from_its_environment() {
    let (_cluster, settings, sim) = setup().await;
    let range = time_range(now_ms() + 60_000, 60_000);
    let child = loader(&settings, &sim, &range, &[("DEPTH_LIMIT", "lots")]);
    assert_eq!(exit_code(child).await, Some(2), "a permanent failure");
    let last = events(&settings, "bad-limit").await.pop().unwrap();
    assert_eq!(last.status, Some(EventStatus::Error));
    assert_eq!(
        last.message.as_deref(),
        Some(
            "DEPTH_LIMIT=\"lots\" is not a depth Binance accepts: a whole number of levels from 1 to 5000"
        )
    );
}

#[tokio::test]
async fn protocol_binary_on_sigterm_flushes_what_it_took_and_exits_for_the_next_pod() {
    let (_cluster, settings, sim) = setup().await;
    let range = time_range((now_ms() + 1_999) / 1_000 * 1_000, 600_000);
    let child = loader(
        &settings,
        &sim,
        &range,
        &[("SNAPSHOT_INTERVAL_SECONDS", "1"), ("DEPTH_LIMIT", "7")],
    );

    // Two snapshots in the topic, with the depth asked for: the settings came through.
    let data: StreamConsumer = settings.consumer("reader", "data").unwrap();
    data.subscribe(&[format!("{QID}-data").as_str()]).unwrap();
    for _ in 0..2 {
        let m = tokio::time::timeout(Duration::from_secs(30), data.recv())
            .await
            .expect("a snapshot within 30 s")
            .unwrap();
        let rec: BookRecord = serde_json::from_slice(m.payload().unwrap()).unwrap();
        let BookRecord::Snapshot { bids, time, .. } = rec else {
            panic!("not a snapshot: {rec:?}")
        };
        assert_eq!(bids.len(), 7, "DEPTH_LIMIT=7");
        assert!(time.is_some());
    }

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(
        exit_code(child).await,
        Some(1),
        "the Job's next pod goes on"
    );
    let events = events(&settings, "sigterm").await;
    assert_eq!(events.first().unwrap().status, Some(EventStatus::Started));
    let last = events.last().unwrap();
    assert_eq!(last.status, Some(EventStatus::Retrying), "{last:?}");
    assert!(
        last.message
            .as_deref()
            .is_some_and(|m| m.contains("SIGTERM")),
        "{last:?}"
    );
}
