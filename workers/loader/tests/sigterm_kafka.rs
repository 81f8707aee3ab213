//! A historical loader whose pod is deleted mid-load (SIGTERM: deleted, evicted, a drained node):
//! it sends what it had in flight, says `retrying` (the run is not over) and exits 1 for its Job
//! to start the next pod; that one continues from where every partition arrived, and in the end
//! the topic holds every candle of the range once: none skipped, none twice.
//! The loader binary against the real broker (librdkafka's mock cluster keeps only the last
//! few megabytes of a partition, less than a month of candles) and the exchange simulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureRecord;
use serde_json::json;
use streamforge_api::{EventStatus, QueueEvent, TimeRange};
use streamforge_kit::{KafkaSettings, WorkerEnv};
use streamforge_loader::worker::{self, LoaderConfig, Outcome};

const QID: &str = "wf-btcusdt-api_candles_1m-20240801-5160ad";
const TID: &str = "loader-api-candles__5160ad";
const RANGE: &str = "2024-08-01:2024-09-01";
/// 1-minute candles in August 2024.
const CANDLES: usize = 31 * 24 * 60;

async fn start(settings: &KafkaSettings, control: &str, run: u32) {
    let p = settings.producer("operator").unwrap();
    let cmd = json!({"command": "start", "queue_id": QID, "target": "loader-api-candles", "symbol": "BTCUSDT",
        "type": "api_candles_1m", "telemetry_id": TID, "timestamp": 1.0, "run": run,
        "command_id": format!("{QID}/{run}/start/{TID}")});
    p.send(
        FutureRecord::to(control).key(QID).payload(&cmd.to_string()),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
}

async fn keys(settings: &KafkaSettings, topic: &str) -> BTreeSet<Vec<u8>> {
    let c: StreamConsumer = settings
        .consumer("reader", &streamforge_kit::testing::unique("keys"))
        .unwrap();
    c.subscribe(&[topic]).unwrap();
    let mut out = BTreeSet::new();
    while let Some(m) = streamforge_kit::testing::next_message(&c, Duration::from_secs(5)).await {
        out.insert(m.key().unwrap_or_default().to_vec());
    }
    out
}

#[tokio::test]
async fn sigterm_mid_load_loses_nothing_and_the_next_run_completes_the_range() {
    let Some(settings) = streamforge_kit::testing::real_kafka("sigterm_mid_load") else {
        return;
    };
    let unique = streamforge_kit::testing::unique;
    let (control, events_topic, topic) = (
        unique("sigterm-control"),
        unique("sigterm-events"),
        unique("sigterm-data"),
    );
    for t in [&control, &events_topic] {
        streamforge_kit::topics::ensure_topic(&settings, t, 1, 1, None)
            .await
            .unwrap();
    }
    streamforge_kit::topics::ensure_topic(&settings, &topic, 3, 1, None)
        .await
        .unwrap();
    let (addr, _state, _task) = binance_sim::serve(
        "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        binance_sim::Config::default(),
    )
    .await
    .unwrap();

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_loader"))
        .env("QUEUE_ID", QID)
        .env("TELEMETRY_PRODUCER_ID", TID)
        .env("SYMBOL", "BTCUSDT")
        .env("TYPE", "api_candles_1m")
        .env("TIME_RANGE", RANGE)
        .env("KAFKA_TOPIC", &topic)
        .env("RUN", "1")
        .env("KAFKA_BOOTSTRAP_SERVERS", &settings.bootstrap_servers)
        .env("QUEUE_CONTROL_TOPIC", &control)
        .env("QUEUE_EVENTS_TOPIC", &events_topic)
        .env("BINANCE_BASE_URL", format!("http://{addr}"))
        .env("TELEMETRY_EVERY_SECS", "1")
        .env("METRICS_ADDR", "127.0.0.1:0")
        .spawn()
        .unwrap();
    start(&settings, &control, 1).await;

    // Wait until it is loading, then delete its "pod".
    let events: StreamConsumer = settings
        .consumer("events", &streamforge_kit::testing::unique("events"))
        .unwrap();
    events.subscribe(&[events_topic.as_str()]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "the loader never reported loading"
        );
        let m = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .unwrap()
            .unwrap();
        let e = QueueEvent::from_json(m.payload().unwrap()).unwrap();
        if e.status == Some(EventStatus::Loading) && e.records_written.is_some_and(|r| r > 0) {
            break;
        }
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "a passing failure: the Job's next pod goes on"
    );
    let mut last = None;
    while let Some(m) =
        streamforge_kit::testing::next_message(&events, Duration::from_secs(5)).await
    {
        last = QueueEvent::from_json(m.payload().unwrap()).ok();
    }
    let last = last.expect("a closing event");
    assert_eq!(last.status, Some(EventStatus::Retrying), "{last:?}");
    assert!(
        last.message
            .as_deref()
            .is_some_and(|m| m.contains("SIGTERM")),
        "{last:?}"
    );
    let after_stop = keys(&settings, &topic).await.len();
    assert!(
        after_stop < CANDLES,
        "the load ended before SIGTERM ({after_stop} candles); widen the range"
    );

    // The next pod continues where every partition arrived and completes the range.
    start(&settings, &control, 2).await;
    let env = WorkerEnv {
        queue_id: QID.into(),
        telemetry_id: TID.into(),
        symbol: "BTCUSDT".into(),
        data_type: "api_candles_1m".into(),
        time_range: Some(TimeRange::parse(RANGE).unwrap()),
        kafka_topic: topic.clone(),
        collection_name: None,
        run: 2,
        producer_id: None,
    };
    let mut settings2 = settings.clone();
    settings2.control_topic = control.clone();
    settings2.events_topic = events_topic.clone();
    let cfg = LoaderConfig {
        binance_base_url: format!("http://{addr}"),
        start_timeout: Duration::from_secs(30),
        ..LoaderConfig::default()
    };
    let Outcome::Finished(report) = worker::run(env, settings2, cfg).await.unwrap() else {
        panic!("the second run was stopped");
    };
    assert!(report.is_complete(), "{report:?}");
    assert!(report.resumed_after.is_some(), "{report:?}");
    let have: BTreeSet<i64> = keys(&settings, &topic)
        .await
        .iter()
        .filter_map(|k| String::from_utf8_lossy(k).rsplit('|').next()?.parse().ok())
        .collect();
    let t0 = TimeRange::parse(RANGE).unwrap().start.timestamp_millis();
    let missing: Vec<i64> = (0..CANDLES as i64)
        .map(|i| t0 + i * 60_000)
        .filter(|t| !have.contains(t))
        .collect();
    let stored = common::stored(&settings, &topic, 3);
    assert_eq!(
        stored, CANDLES as i64,
        "nothing stored twice (the lake appends)"
    );
    assert!(
        missing.is_empty(),
        "{} candles missing, from {:?} to {:?} (resumed after {:?})",
        missing.len(),
        missing.first(),
        missing.last(),
        report.resumed_after
    );
}
