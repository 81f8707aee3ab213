//! The `graph-builder` binary end to end against the real Kafka broker: it waits for its run's
//! `start` on queue-control, builds the graph from a lake directory, reports `started`,
//! `loading` and `finished` (records = nodes, with nodes, edges, graph name and path) on
//! queue-events and exits 0; a run without `GRAPH_NAME` exits 2 before it starts, and one
//! whose range holds no candles reports a final `error` saying where it looked and exits 2.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureRecord;
use serde_json::json;
use streamforge_api::{EventStatus, QueueEvent};
use streamforge_graph::read_graph;
use streamforge_graph_builder::synthetic::market;
use streamforge_kit::KafkaSettings;
use streamforge_kit::testing::{real_kafka, unique};

const QID: &str = "wf-btcusdt-graph_build-20240801-a1b2c3";
const TID: &str = "graph-builder__a1b2c3";

struct Run {
    control: String,
    events: String,
    lake: std::path::PathBuf,
}

async fn send_start(settings: &KafkaSettings, topic: &str) {
    send(settings, topic, "start").await;
}

async fn send(settings: &KafkaSettings, topic: &str, command: &str) {
    let producer = settings.producer("operator").unwrap();
    let cmd = json!({"command": command, "queue_id": QID, "target": "graph-builder", "symbol": "BTCUSDT",
        "type": "graph_build", "telemetry_id": TID, "timestamp": 1.0, "run": 1,
        "command_id": format!("{QID}/1/{command}/{TID}")});
    producer
        .send(
            FutureRecord::to(topic).key(QID).payload(&cmd.to_string()),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
}

fn worker(
    settings: &KafkaSettings,
    run: &Run,
    range: &str,
    graph_name: Option<&str>,
) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_graph-builder"));
    cmd.env_clear()
        .env("QUEUE_ID", QID)
        .env("TELEMETRY_PRODUCER_ID", TID)
        .env("SYMBOL", "BTCUSDT")
        .env("SYMBOLS", "ETHUSDT")
        .env("TYPE", "graph_build")
        .env("TIME_RANGE", range)
        .env("KAFKA_TOPIC", format!("{QID}-data"))
        .env("KAFKA_BOOTSTRAP_SERVERS", &settings.bootstrap_servers)
        .env("QUEUE_CONTROL_TOPIC", &run.control)
        .env("QUEUE_EVENTS_TOPIC", &run.events)
        .env("SOURCE_TYPE", "api_candles_1m")
        .env("LAKE_DIR", &run.lake)
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env("START_TIMEOUT_SECS", "60");
    if let Some(g) = graph_name {
        cmd.env("GRAPH_NAME", g);
    }
    cmd.output().unwrap()
}

async fn events(settings: &KafkaSettings, topic: &str) -> Vec<QueueEvent> {
    let c: StreamConsumer = settings.consumer("reader", &unique("reader")).unwrap();
    c.subscribe(&[topic]).unwrap();
    let mut out = vec![];
    loop {
        match streamforge_kit::testing::next_message(&c, Duration::from_secs(10)).await {
            Some(m) => {
                let e = QueueEvent::from_json(m.payload().unwrap_or_default()).unwrap();
                let done = e.is_final();
                out.push(e);
                if done {
                    return out;
                }
            }
            None => return out,
        }
    }
}

async fn setup() -> Run {
    let run = Run {
        control: unique("gb-control"),
        events: unique("gb-events"),
        lake: temp_dir("gb-worker"),
    };
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(&run.lake).unwrap());
    let data = market(&["BTCUSDT", "ETHUSDT"], T0, MIN, 1440, 21);
    write_lake(&store, "", "api_candles_1m", &data, 0).await;
    run
}

#[tokio::test]
async fn real_broker_start_to_finished_with_counts() {
    let Some(settings) = real_kafka("real_broker_start_to_finished_with_counts") else {
        return;
    };
    let run = setup().await;
    send_start(&settings, &run.control).await;
    let out = tokio::task::spawn_blocking({
        let settings = settings.clone();
        let run = Run {
            control: run.control.clone(),
            events: run.events.clone(),
            lake: run.lake.clone(),
        };
        move || {
            worker(
                &settings,
                &run,
                "2024-08-01:2024-08-02",
                Some("btc_eth_day"),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let evs = events(&settings, &run.events).await;
    let statuses: Vec<EventStatus> = evs.iter().filter_map(|e| e.status.clone()).collect();
    assert_eq!(
        statuses.first(),
        Some(&EventStatus::Started),
        "{statuses:?}"
    );
    assert!(statuses.contains(&EventStatus::Loading), "{statuses:?}");
    let last = evs.last().unwrap();
    assert_eq!(last.status, Some(EventStatus::Finished));
    assert_eq!(last.run, Some(1));
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(&run.lake).unwrap());
    let g = read_graph(&store, "btc_eth_day").await.unwrap();
    assert_eq!(last.records_written, Some(g.nodes.len() as u64));
    assert_eq!(last.extra["nodes"], json!(g.nodes.len()));
    assert_eq!(last.extra["edges"], json!(g.edges.len()));
    assert_eq!(last.extra["graph_name"], "btc_eth_day");
    let path = last.extra["graph_path"].as_str().unwrap();
    assert!(
        path.ends_with("/graphs/btc_eth_day/") && path.contains(run.lake.to_str().unwrap()),
        "{path}"
    );
    let loading = evs
        .iter()
        .find(|e| e.status == Some(EventStatus::Loading))
        .unwrap();
    assert!(loading.progress.is_some_and(|p| (0.0..=1.0).contains(&p)));
    std::fs::remove_dir_all(&run.lake).unwrap();
}

#[tokio::test]
async fn real_broker_no_candles_is_a_final_error_and_a_missing_graph_name_exits_2() {
    let Some(settings) = real_kafka("real_broker_no_candles_is_a_final_error") else {
        return;
    };
    let run = setup().await;
    let out = worker(&settings, &run, "2024-08-01:2024-08-02", None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("GRAPH_NAME is not set")
            || String::from_utf8_lossy(&out.stderr).contains("GRAPH_NAME is not set")
    );

    send_start(&settings, &run.control).await;
    let out = tokio::task::spawn_blocking({
        let settings = settings.clone();
        let run = Run {
            control: run.control.clone(),
            events: run.events.clone(),
            lake: run.lake.clone(),
        };
        move || worker(&settings, &run, "2023-01-01:2023-01-02", Some("nothing"))
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evs = events(&settings, &run.events).await;
    let last = evs.last().unwrap();
    assert_eq!(last.status, Some(EventStatus::Error));
    assert_eq!(last.finished, Some(true));
    let msg = last.message.as_deref().unwrap();
    assert!(
        msg.contains("no api_candles_1m candles in 2023-01-01:2023-01-02"),
        "{msg}"
    );
    assert!(
        msg.contains("symbol=BTCUSDT/type=api_candles_1m/month=2023-01"),
        "{msg}"
    );
    std::fs::remove_dir_all(&run.lake).unwrap();
}

#[tokio::test]
async fn real_broker_a_stop_ends_the_run_as_stopped() {
    let Some(settings) = real_kafka("real_broker_a_stop_ends_the_run_as_stopped") else {
        return;
    };
    let run = setup().await;
    // A stop waiting behind the start: the worker sees it while it reads the lake.
    send_start(&settings, &run.control).await;
    send(&settings, &run.control, "stop").await;
    let out = tokio::task::spawn_blocking({
        let settings = settings.clone();
        let run = Run {
            control: run.control.clone(),
            events: run.events.clone(),
            lake: run.lake.clone(),
        };
        move || {
            worker(
                &settings,
                &run,
                "2024-08-01:2024-08-02",
                Some("stopped_graph"),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evs = events(&settings, &run.events).await;
    let last = evs.last().unwrap();
    assert_eq!(last.status, Some(EventStatus::Stopped), "{evs:?}");
    assert!(
        !run.lake.join("graphs/stopped_graph/manifest.json").exists(),
        "no graph after a stop"
    );
    // A run stopped before it read anything may have made no lake directory at all.
    if run.lake.exists() {
        std::fs::remove_dir_all(&run.lake).unwrap();
    }
}
