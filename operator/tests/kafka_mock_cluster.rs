//! Kafka paths against librdkafka's in-process mock cluster (a Kafka protocol endpoint): the
//! publisher delivers commands keyed by queue id, and the telemetry folder consumes events,
//! writes coalesced summaries and commits only what it wrote. A real broker runs them in the
//! end-to-end suite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::FutureRecord;
use streamforge_api::{Command, ControlCommand, EventStatus, QueueEvent};
use streamforge_kit::KafkaSettings;
use streamforge_operator::fold::{RunKey, TelemetryStatus};
use streamforge_operator::metrics::Metrics;
use streamforge_operator::publisher::{KafkaPublisher, Publisher};
use streamforge_operator::telemetry::{self, QueueLookup, StatusWriter, Telemetry, WriteError};
use streamforge_operator::topics::{DataTopics, KafkaDataTopics};

const QID: &str = "wf-btcusdt-api_candles_5m-20240801-a1b2c3";

fn start_command() -> ControlCommand {
    ControlCommand::from_json(
        format!(r#"{{"command":"start","queue_id":"{QID}","target":"loader-producer","symbol":"BTCUSDT","type":"api_candles_5m","telemetry_id":"loader-producer__a1b2c3","timestamp":1.5,"run":1,"command_id":"x"}}"#).as_bytes(),
    )
    .unwrap()
}

#[tokio::test]
async fn publisher_delivers_commands_keyed_by_queue_id() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("queue-control", 3, 1).unwrap();
    let settings = KafkaSettings::plaintext(cluster.bootstrap_servers());
    let publisher = KafkaPublisher::new(
        settings.producer("test").unwrap(),
        "queue-control",
        Duration::from_secs(5),
    );
    publisher.publish(start_command()).await.unwrap();

    let consumer = settings.consumer("test", "reader").unwrap();
    consumer.subscribe(&["queue-control"]).unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.key(), Some(QID.as_bytes()));
    let cmd = ControlCommand::from_json(msg.payload().unwrap()).unwrap();
    assert_eq!((cmd.command, cmd.queue_id.as_str()), (Command::Start, QID));
}

#[tokio::test]
async fn publisher_reports_an_unreachable_broker() {
    let settings = KafkaSettings::plaintext("127.0.0.1:9");
    let publisher = KafkaPublisher::new(
        settings.producer("test").unwrap(),
        "queue-control",
        Duration::from_millis(500),
    );
    let err = publisher.publish(start_command()).await.unwrap_err();
    assert!(
        err.to_string().contains("publishing start for wf-btcusdt"),
        "{err}"
    );
}

struct OneQueue;
impl QueueLookup for OneQueue {
    fn run_key(&self, queue_id: &str) -> Option<RunKey> {
        (queue_id == QID).then(|| RunKey {
            namespace: "default".into(),
            name: "btc".into(),
            run: 1,
            uid: "a1b2c3d4-1111-4222-8333-444455556666".into(),
            main_telemetry_id: "loader-producer__a1b2c3".into(),
        })
    }
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<TelemetryStatus>>>);
impl StatusWriter for Recorder {
    fn write<'a>(&'a self, t: &'a TelemetryStatus) -> BoxFuture<'a, Result<(), WriteError>> {
        self.0.lock().unwrap().push(t.clone());
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn telemetry_is_folded_coalesced_and_committed() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("queue-events", 1, 1).unwrap();
    let settings = KafkaSettings::plaintext(cluster.bootstrap_servers());
    fold_scenario(settings, "queue-events", "streamforge-operator").await;
}

#[tokio::test]
async fn real_broker_telemetry_is_folded_coalesced_and_committed() {
    let Some(settings) = streamforge_kit::testing::real_kafka("real_broker_telemetry") else {
        return;
    };
    let topic = streamforge_kit::testing::unique("queue-events");
    // One partition, so the committed offset is one number to check.
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        settings.client_config().create().unwrap();
    admin
        .create_topics(
            &[rdkafka::admin::NewTopic::new(
                &topic,
                1,
                rdkafka::admin::TopicReplication::Fixed(1),
            )],
            &rdkafka::admin::AdminOptions::new(),
        )
        .await
        .unwrap();
    fold_scenario(
        settings,
        &topic,
        &streamforge_kit::testing::unique("operator"),
    )
    .await;
}

#[tokio::test]
async fn real_broker_publisher_delivers_commands() {
    let Some(settings) = streamforge_kit::testing::real_kafka("real_broker_publisher") else {
        return;
    };
    let topic = streamforge_kit::testing::unique("queue-control");
    let publisher = KafkaPublisher::new(
        settings.producer("test").unwrap(),
        topic.clone(),
        Duration::from_secs(10),
    );
    publisher.publish(start_command()).await.unwrap();
    let consumer = settings
        .consumer("test", &streamforge_kit::testing::unique("reader"))
        .unwrap();
    consumer.subscribe(&[topic.as_str()]).unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.key(), Some(QID.as_bytes()));
}

/// The operator makes a Queue's data topic with its configured partitions (2 here, so it is not
/// the broker's auto-creation, which makes 3) and the broker's default replication (-1); two
/// reconciles at once, or a topic that exists, are fine.
#[tokio::test]
async fn real_broker_data_topics_are_made_with_the_configured_partitions() {
    let Some(settings) = streamforge_kit::testing::real_kafka("real_broker_data_topics") else {
        return;
    };
    let topic = streamforge_kit::testing::unique("wf-operator-data");
    let topics = KafkaDataTopics::new(settings.clone(), 2, -1);
    let (a, b) = tokio::join!(topics.ensure(&topic), topics.ensure(&topic));
    a.unwrap();
    b.unwrap();
    topics.ensure(&topic).await.unwrap();
    let probe: StreamConsumer = settings.consumer("probe", "probe").unwrap();
    let md = probe
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .unwrap();
    let t = md.topics().iter().find(|t| t.name() == topic).unwrap();
    assert!(t.error().is_none(), "{:?}", t.error());
    assert_eq!(t.partitions().len(), 2);
}

async fn fold_scenario(settings: KafkaSettings, events_topic: &str, group: &str) {
    let producer = settings.producer("worker").unwrap();
    let mut payloads: Vec<Vec<u8>> = (1..=500u64)
        .map(|i| {
            let mut e = QueueEvent::new(QID, "loader-producer__a1b2c3", EventStatus::Loading);
            e.records_written = Some(i * 10);
            e.timestamp = Some(1000.0 + i as f64);
            e.to_json()
        })
        .collect();
    payloads.push(b"{not json".to_vec());
    payloads.push(br#"{"queue_id":"someone-else","status":"loading","producer":"x"}"#.to_vec());
    let mut fin = QueueEvent::new(QID, "loader-producer__a1b2c3", EventStatus::Finished);
    fin.finished = Some(true);
    fin.records_written = Some(5000);
    fin.timestamp = Some(2000.0);
    payloads.push(fin.to_json());
    for p in &payloads {
        producer
            .send(
                FutureRecord::to(events_topic).key(QID).payload(p),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
    }

    let metrics = Metrics::new().unwrap();
    let writes = Recorder::default();
    let tel = Arc::new(Telemetry::new(
        Duration::from_millis(300),
        Box::new(OneQueue),
        Box::new(writes.clone()),
        metrics.clone(),
    ));
    let consumer: Arc<StreamConsumer> = Arc::new(settings.consumer("operator", group).unwrap());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let topic = events_topic.to_owned();
    let c = tokio::spawn({
        let (tel, consumer, stop) = (tel.clone(), consumer.clone(), stopped());
        async move { telemetry::consume(tel, consumer, &topic, stop).await }
    });
    let w = tokio::spawn(telemetry::write_loop(
        tel.clone(),
        consumer.clone(),
        stopped(),
    ));

    // Wait, without stopping anything, until the write loop has written the final state and
    // committed every offset on its own: on shutdown it writes and commits whatever is left,
    // which would hide a loop that never did either while running.
    let end = payloads.len() as i64;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let final_written = writes
            .0
            .lock()
            .unwrap()
            .last()
            .is_some_and(|w| w.records_written == 5000);
        let committed = final_written && {
            let consumer = consumer.clone();
            let topic = events_topic.to_owned();
            tokio::task::spawn_blocking(move || {
                consumer
                    .committed(Duration::from_secs(5))
                    .ok()
                    .and_then(|c| c.elements_for_topic(&topic).first().map(|e| e.offset()))
            })
            .await
            .unwrap()
                == Some(rdkafka::Offset::Offset(end))
        };
        if committed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the final write and the commit of offset {end} within 30 s while running; writes: {}, folded: {}",
            writes.0.lock().unwrap().len(),
            metrics.events.with_label_values(&["folded"]).get()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_tx.send(true).unwrap();
    c.await.unwrap();
    w.await.unwrap();

    assert_eq!(metrics.events.with_label_values(&["folded"]).get(), 501);
    assert_eq!(metrics.events.with_label_values(&["malformed"]).get(), 1);
    assert_eq!(
        metrics.events.with_label_values(&["unknown_queue"]).get(),
        1
    );
    let writes = writes.0.lock().unwrap().clone();
    assert!(
        !writes.is_empty() && writes.len() <= 10,
        "503 events must coalesce into a few writes, got {}",
        writes.len()
    );
    let last = writes.last().unwrap();
    assert_eq!(last.records_written, 5000);
    assert_eq!(last.producers[0].status, "finished");
    assert_eq!(last.progress.as_deref(), Some("100%"));

    // Everything was written, so everything was committed.
    let committed = consumer.committed(Duration::from_secs(5)).unwrap();
    let offset = committed.elements_for_topic(events_topic)[0].offset();
    assert_eq!(offset, rdkafka::Offset::Offset(payloads.len() as i64));
}
