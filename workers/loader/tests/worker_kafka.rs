//! The whole loader worker against librdkafka's mock cluster (Kafka protocol) and the exchange
//! simulator: it waits for its `start`, loads into the data topic, reports on queue-events, and
//! resumes where the topic ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::FutureRecord;
use serde_json::json;
use streamforge_api::{EventStatus, QueueEvent, TimeRange};
use streamforge_kit::{KafkaSettings, WorkerEnv};
use streamforge_loader::worker::{self, Failure, LoaderConfig, Outcome};

const QID: &str = "wf-btcusdt-api_candles_5m-20240801-a1b2c3";
const TID: &str = "loader-producer__a1b2c3";

fn env(symbol: &str) -> WorkerEnv {
    WorkerEnv {
        queue_id: QID.into(),
        telemetry_id: TID.into(),
        symbol: symbol.into(),
        data_type: "api_candles_5m".into(),
        time_range: Some(TimeRange::parse("2024-08-01:2024-08-02").unwrap()),
        kafka_topic: format!("{QID}-data"),
        collection_name: None,
        run: 1,
        producer_id: None,
    }
}

async fn send_start(settings: &KafkaSettings) {
    let producer = settings.producer("operator").unwrap();
    let cmd = json!({"command": "start", "queue_id": QID, "target": "loader-producer", "symbol": "BTCUSDT",
        "type": "api_candles_5m", "telemetry_id": TID, "timestamp": 1.0, "run": 1, "command_id": format!("{QID}/1/start/{TID}")});
    for _ in 0..2 {
        // Sent twice: the worker acts once per command id.
        producer
            .send(
                FutureRecord::to("queue-control")
                    .key(QID)
                    .payload(&cmd.to_string()),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
    }
}

async fn setup() -> (
    MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    KafkaSettings,
    LoaderConfig,
) {
    let (cluster, settings) = common::mock_cluster(QID);
    let cfg = LoaderConfig {
        binance_base_url: common::simulator(binance_sim::Config::default()).await,
        start_timeout: Duration::from_secs(30),
        ..LoaderConfig::default()
    };
    (cluster, settings, cfg)
}

#[tokio::test]
async fn protocol_worker_loads_reports_and_resumes() {
    let (_cluster, settings, cfg) = setup().await;
    send_start(&settings).await;
    let outcome = worker::run(env("BTCUSDT"), settings.clone(), cfg.clone())
        .await
        .unwrap();
    let Outcome::Finished(report) = outcome else {
        panic!("not finished")
    };
    assert_eq!(
        (report.produced, report.expected, report.missing),
        (288, 288, 0)
    );

    let records = common::drain(&settings, &format!("{QID}-data"), "r1", 288).await;
    assert_eq!(records.len(), 288);
    let mut keys: Vec<String> = records
        .iter()
        .map(|(k, _)| String::from_utf8(k.clone()).unwrap())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 288, "no duplicates");

    let events: Vec<QueueEvent> = common::drain(&settings, "queue-events", "e1", 3)
        .await
        .iter()
        .map(|(_, p)| QueueEvent::from_json(p).unwrap())
        .collect();
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e.status.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(statuses.first(), Some(&"started"));
    let last = events.last().unwrap();
    assert_eq!(last.status, Some(EventStatus::Finished));
    assert_eq!(last.finished, Some(true));
    assert_eq!(last.records_written, Some(288));
    assert_eq!(last.extra["complete"], json!(true));
    assert_eq!(last.extra["completeness"]["expected"], json!(288));

    // A restarted loader continues after the position every partition reached: it sends the
    // few records past it again (keys make that harmless) and completes the range.
    let again = worker::run(
        env("BTCUSDT"),
        settings.clone(),
        LoaderConfig {
            wait_for_start: false,
            ..cfg
        },
    )
    .await
    .unwrap();
    let Outcome::Finished(r2) = again else {
        panic!("not finished")
    };
    let last = 1_722_470_400_000 + 287 * 300_000;
    let at = r2.resumed_after.expect("resumed from the topic");
    assert!(at <= last && at > last - 30 * 300_000, "{at}");
    assert_eq!(r2.produced, ((last - at) / 300_000) as u64, "{r2:?}");
    assert!(r2.is_complete(), "{r2:?}");
    // What was already stored past that point was not sent again: the topic holds 288.
    let stored = common::stored(&settings, &format!("{QID}-data"), 3);
    assert_eq!(stored, 288, "nothing stored twice");
}

#[tokio::test]
async fn protocol_worker_refuses_an_unknown_symbol_and_says_why() {
    let (_cluster, settings, cfg) = setup().await;
    let err = worker::run(
        env("NOPEUSDT"),
        settings.clone(),
        LoaderConfig {
            wait_for_start: false,
            ..cfg
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Failure::Permanent(_)));
    assert_eq!(err.exit_code(), 2);
    let events = common::drain(&settings, "queue-events", "e2", 1).await;
    let ev = QueueEvent::from_json(&events[0].1).unwrap();
    assert_eq!(ev.status, Some(EventStatus::Error));
    assert_eq!(
        ev.message.as_deref(),
        Some("symbol NOPEUSDT is not listed on the exchange")
    );
    // Nothing was produced.
    assert!(
        common::drain(&settings, &format!("{QID}-data"), "r2", 1)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn real_broker_worker_creates_its_topic_loads_and_resumes() {
    let Some(settings) = streamforge_kit::testing::real_kafka(
        "real_broker_worker_creates_its_topic_loads_and_resumes",
    ) else {
        return;
    };
    let sim = common::simulator(binance_sim::Config::default()).await;
    let queue_id = streamforge_kit::testing::unique("wf-btcusdt-api_trades-20240801");
    let mut e = env("BTCUSDT");
    e.queue_id = queue_id.clone();
    e.data_type = "api_trades".into();
    e.time_range = Some(TimeRange::parse("2024-08-01T00:00:00Z/2024-08-01T00:20:00Z").unwrap());
    e.kafka_topic = format!("{queue_id}-data");
    let cfg = LoaderConfig {
        binance_base_url: sim,
        wait_for_start: false,
        ..LoaderConfig::default()
    };
    let Outcome::Finished(report) = worker::run(e.clone(), settings.clone(), cfg.clone())
        .await
        .unwrap()
    else {
        panic!("not finished")
    };
    assert_eq!(report.produced, 20 * 60 * 4, "one trade every 250 ms");
    assert!(report.is_complete(), "{report:?}");
    let records = common::drain(
        &settings,
        &e.kafka_topic,
        &streamforge_kit::testing::unique("r"),
        4800,
    )
    .await;
    assert_eq!(records.len(), 4800);

    // Restarted: it resumes after the trade id every partition reached and sends only the few
    // past it again.
    let Outcome::Finished(again) = worker::run(e.clone(), settings.clone(), cfg).await.unwrap()
    else {
        panic!("not finished")
    };
    assert!(again.resumed_after.is_some());
    assert!(again.produced < 100, "{again:?}");
    assert!(again.is_complete(), "{again:?}");
}

#[tokio::test]
async fn protocol_worker_streams_until_stop_and_reports_it() {
    let (_cluster, settings, cfg) = setup().await;
    let sim = common::simulator(binance_sim::Config {
        trade_step_ms: 20,
        ..binance_sim::Config::default()
    })
    .await;
    let mut e = env("BTCUSDT");
    e.data_type = "ws_trades".into();
    e.time_range = None;
    let cfg = LoaderConfig {
        binance_ws_url: sim.replacen("http://", "ws://", 1),
        binance_base_url: sim,
        ..cfg
    };
    send_start(&settings).await;
    let stopper = {
        let settings = settings.clone();
        tokio::spawn(async move {
            // Stop once the stream is flowing into the topic.
            let flowing = common::drain(&settings, &format!("{QID}-data"), "r3", 10).await;
            assert!(flowing.len() >= 10, "trades were written before the stop");
            let producer = settings.producer("operator").unwrap();
            let cmd = json!({"command": "stop", "queue_id": QID, "target": "loader-producer", "symbol": "BTCUSDT",
                "type": "ws_trades", "telemetry_id": TID, "timestamp": 2.0, "run": 1, "command_id": format!("{QID}/1/stop/{TID}")});
            producer
                .send(
                    FutureRecord::to("queue-control")
                        .key(QID)
                        .payload(&cmd.to_string()),
                    Duration::from_secs(5),
                )
                .await
                .unwrap();
        })
    };
    let outcome = worker::run(e, settings.clone(), cfg).await.unwrap();
    stopper.await.unwrap();
    assert_eq!(outcome, Outcome::Stopped);
    let events: Vec<QueueEvent> = common::drain(&settings, "queue-events", "e3", 2)
        .await
        .iter()
        .map(|(_, p)| QueueEvent::from_json(p).unwrap())
        .collect();
    assert_eq!(events.last().unwrap().status, Some(EventStatus::Stopped));
}
