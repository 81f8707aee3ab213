//! The worker against the real broker and the real S3 server (MinIO): a run starts, reports
//! `started`, `training` events with the contract's extras and `finished` with the test and
//! baseline accuracies, and leaves checkpoint.pt, last.pt, state.json and metrics.json in the
//! bucket; a run stopped mid-training ends `stopped` with last.pt saved, and the Queue's next
//! run resumes from the saved epoch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use streamforge_api::{Command, ControlCommand, QueueEvent};
use streamforge_gnn_trainer::config::{DeviceChoice, TrainConfig};
use streamforge_gnn_trainer::outputs::ModelStore;
use streamforge_gnn_trainer::state::SavedState;
use streamforge_gnn_trainer::synthetic::Synthetic;
use streamforge_gnn_trainer::worker;
use streamforge_kit::testing::{TEST_S3, real_kafka, required_env, unique};
use streamforge_kit::{KafkaSettings, WorkerEnv};
use streamforge_sinks::lake::store::{LakeLocation, open};

const BUCKET: &str = "streamforge-gnn-test";

fn command(command: Command, queue_id: &str, telemetry_id: &str, run: u32) -> ControlCommand {
    ControlCommand {
        command,
        queue_id: queue_id.into(),
        target: "gnn-trainer".into(),
        symbol: "BTCUSDT".into(),
        data_type: "gnn_trainer".into(),
        time_range: None,
        kafka_topic: None,
        collection_name: None,
        telemetry_id: telemetry_id.into(),
        image: None,
        timestamp: 1.0,
        run,
        command_id: format!("{queue_id}/{run}/{}", command.as_str()),
        extra: BTreeMap::new(),
    }
}

async fn send(producer: &FutureProducer, topic: &str, cmd: &ControlCommand) {
    producer
        .send(
            FutureRecord::to(topic)
                .key(&cmd.queue_id)
                .payload(&cmd.to_json()),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
}

fn env(queue_id: &str, telemetry_id: &str, run: u32) -> WorkerEnv {
    WorkerEnv::from_lookup(|k| {
        Some(
            match k {
                "QUEUE_ID" => queue_id.to_owned(),
                "TELEMETRY_PRODUCER_ID" => telemetry_id.to_owned(),
                "SYMBOL" => "BTCUSDT".into(),
                "TYPE" => "gnn_trainer".into(),
                "KAFKA_TOPIC" => format!("{queue_id}-data"),
                "RUN" => run.to_string(),
                _ => return None,
            }
            .to_owned(),
        )
    })
    .unwrap()
}

/// Events of `queue_id` and `run` until a final one.
async fn events_until_final(
    consumer: &StreamConsumer,
    queue_id: &str,
    run: u32,
) -> Vec<QueueEvent> {
    let mut out = Vec::new();
    loop {
        // Errors (the topic not created yet) are passing: read on.
        let Ok(m) = tokio::time::timeout(Duration::from_secs(120), consumer.recv())
            .await
            .expect("an event within 2 minutes")
        else {
            continue;
        };
        let Ok(e) = QueueEvent::from_json(m.payload().unwrap_or_default()) else {
            continue;
        };
        if e.queue_id != queue_id || e.run != Some(run) {
            continue;
        }
        let last = e.is_final();
        out.push(e);
        if last {
            return out;
        }
    }
}

fn status(e: &QueueEvent) -> &str {
    e.status.as_ref().map_or("", |s| s.as_str())
}

#[tokio::test]
async fn real_broker_and_s3_train_stop_and_resume() {
    let test = "real_broker_and_s3_train_stop_and_resume";
    let Some(kafka) = real_kafka(test) else {
        return;
    };
    let Some(endpoint) = required_env(test, TEST_S3, "MinIO") else {
        return;
    };
    let mut kafka: KafkaSettings = kafka;
    kafka.control_topic = unique("gnn-control");
    kafka.events_topic = unique("gnn-events");
    let lake = LakeLocation::S3 {
        endpoint,
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        access_key: std::env::var("STREAMFORGE_TEST_S3_ACCESS_KEY").unwrap_or_default(),
        secret_key: std::env::var("STREAMFORGE_TEST_S3_SECRET_KEY").unwrap_or_default(),
    };
    let opened = open(&lake).unwrap();
    opened.ensure_bucket().await.unwrap();
    let graph_name = unique("gnn-graph").replace('_', "-");
    let graph = Synthetic {
        symbols: 3,
        windows: 200,
        noise: 2,
        cross_asset: true,
        seed: 9,
    }
    .graph(&graph_name);
    streamforge_graph::write_graph(&opened.store, &graph_name, &graph)
        .await
        .unwrap();

    let producer = kafka.producer("gnn-test").unwrap();
    let events: StreamConsumer = kafka
        .consumer("gnn-test-events", &unique("gnn-events"))
        .unwrap();
    events.subscribe(&[kafka.events_topic.as_str()]).unwrap();
    let queue_id = unique("wf-gnn");
    let tid = "gnn-trainer__a1b2c3";
    let mut config = TrainConfig::new(&graph_name);
    config.device = DeviceChoice::Cpu;
    config.hidden = 8;

    // Run 1: effectively endless, stopped after its first training event.
    config.epochs = 100_000;
    let worker1 = tokio::spawn(worker::run(
        env(&queue_id, tid, 1),
        kafka.clone(),
        config.clone(),
        lake.clone(),
        Duration::from_secs(60),
    ));
    send(
        &producer,
        &kafka.control_topic,
        &command(Command::Start, &queue_id, tid, 1),
    )
    .await;
    // Wait for the first training event, then stop.
    let mut seen = Vec::new();
    loop {
        let Ok(m) = tokio::time::timeout(Duration::from_secs(120), events.recv())
            .await
            .expect("training starts")
        else {
            continue;
        };
        if let Ok(e) = QueueEvent::from_json(m.payload().unwrap_or_default()) {
            let training = status(&e) == "training";
            seen.push(e);
            if training {
                break;
            }
        }
    }
    assert_eq!(status(&seen[0]), "started");
    let first = seen.last().unwrap();
    for key in [
        "epoch",
        "epochs",
        "loss",
        "train_accuracy",
        "val_accuracy",
        "best_val_accuracy",
        "model_path",
    ] {
        assert!(first.extra.contains_key(key), "{key} in {:?}", first.extra);
    }
    assert_eq!(first.extra["epoch"], 1);
    let model_path = first.extra["model_path"].as_str().unwrap().to_owned();
    assert_eq!(
        model_path,
        format!("s3://{BUCKET}/models/{graph_name}/{queue_id}/checkpoint.pt")
    );
    send(
        &producer,
        &kafka.control_topic,
        &command(Command::Stop, &queue_id, tid, 1),
    )
    .await;
    let rest = events_until_final(&events, &queue_id, 1).await;
    let stopped = rest.last().unwrap();
    assert_eq!(status(stopped), "stopped", "{stopped:?}");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(30), worker1)
            .await
            .unwrap()
            .unwrap(),
        0
    );
    let training: Vec<&QueueEvent> = rest.iter().filter(|e| status(e) == "training").collect();
    // Throttled: at most two a second (the first epoch's was already seen).
    for w in training.windows(2) {
        let gap = w[1].timestamp.unwrap() - w[0].timestamp.unwrap();
        assert!(gap >= 0.45, "training events {gap} s apart");
    }
    let models = ModelStore::new(
        opened.store.clone(),
        format!("s3://{BUCKET}"),
        &graph_name,
        &queue_id,
    );
    let state = SavedState::parse(&models.get("state.json").await.unwrap().unwrap()).unwrap();
    assert!(state.epoch >= 1);
    assert!(models.get("last.pt").await.unwrap().is_some());

    // Run 2 of the same Queue: resumes from the saved epoch and finishes.
    config.epochs = state.epoch + 15;
    let worker2 = tokio::spawn(worker::run(
        env(&queue_id, tid, 2),
        kafka.clone(),
        config.clone(),
        lake.clone(),
        Duration::from_secs(60),
    ));
    send(
        &producer,
        &kafka.control_topic,
        &command(Command::Start, &queue_id, tid, 2),
    )
    .await;
    let run2 = events_until_final(&events, &queue_id, 2).await;
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(30), worker2)
            .await
            .unwrap()
            .unwrap(),
        0
    );
    let finished = run2.last().unwrap();
    assert_eq!(status(finished), "finished", "{finished:?}");
    for key in [
        "test_accuracy",
        "val_accuracy",
        "best_epoch",
        "baseline_majority_accuracy",
        "baseline_logistic_accuracy",
        "beats_baselines",
        "model_path",
        "metrics_path",
        "model_type",
        "device",
    ] {
        assert!(
            finished.extra.contains_key(key),
            "{key} in {:?}",
            finished.extra
        );
    }
    assert_eq!(finished.extra["device"], "cpu");
    assert_eq!(finished.extra["model_type"], "GraphSAGE");
    assert_eq!(finished.records_written, Some(3 * 199));
    let message = finished.message.as_deref().unwrap();
    assert!(message.contains("both baselines"), "{message}");
    let first_epoch = run2
        .iter()
        .find(|e| status(e) == "training")
        .map(|e| e.extra["epoch"].as_u64().unwrap())
        .unwrap();
    assert_eq!(
        first_epoch as usize,
        state.epoch + 1,
        "run 2 goes on after the saved epoch"
    );
    let metrics: serde_json::Value =
        serde_json::from_slice(&models.get("metrics.json").await.unwrap().unwrap()).unwrap();
    assert_eq!(metrics["resumed_from"], state.epoch);
    assert_eq!(
        metrics["history"].as_array().unwrap().len(),
        state.epoch + 15
    );
    assert_eq!(
        finished.extra["metrics_path"],
        format!("s3://{BUCKET}/models/{graph_name}/{queue_id}/metrics.json")
    );
}
