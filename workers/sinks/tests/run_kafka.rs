//! The connector core end to end: a data topic (librdkafka's mock cluster, and the real broker
//! when `STREAMFORGE_TEST_KAFKA` is set) into the ArangoDB protocol server, with duplicates,
//! malformed messages and a storage outage on the way.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/topics.rs"]
mod topics;

use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Headers;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use serde_json::json;
use streamforge_arango::testserver;
use streamforge_kit::KafkaSettings;
use streamforge_sinks::arango::{ArangoClient, ArangoSink, WriteMode};
use streamforge_sinks::core::Storage;
use streamforge_sinks::core::run::{RunConfig, RunError, RunReport, Runner, Signals, SinkMetrics};
use tokio::sync::watch;

use topics::{mock_topic, real_topic};

/// The connector core over `cfg.topic` into `storage` with the loader already finished, until
/// the end of input: its report, its metrics and its consumer (for the commits).
async fn run_to_the_end(
    settings: &KafkaSettings,
    storage: &mut ArangoSink,
    cfg: &RunConfig,
) -> (Result<RunReport, RunError>, SinkMetrics, StreamConsumer) {
    // The connector's consumer, which reports partition ends.
    let consumer: StreamConsumer = settings
        .consumer_reporting_ends(
            "sink",
            &streamforge_kit::testing::unique("arango-connector"),
        )
        .unwrap();
    let dlq = settings.producer("sink-dlq").unwrap();
    let metrics = SinkMetrics::new(&prometheus::Registry::new()).unwrap();
    let (_tx, rx) = watch::channel(Signals {
        producer_finished: true,
        stop: false,
    });
    let mut runner = Runner {
        consumer: &consumer,
        storage,
        dlq: &dlq,
        cfg: cfg.clone(),
        metrics: metrics.clone(),
    };
    let report = tokio::time::timeout(Duration::from_secs(60), runner.run(rx))
        .await
        .expect("the sink ends by itself");
    drop(runner);
    (report, metrics, consumer)
}

/// The headers of the first `n` messages of dead-letter topic `dlq`, by name.
async fn dead_letters(
    settings: &KafkaSettings,
    dlq: &str,
    n: usize,
) -> Vec<std::collections::HashMap<String, String>> {
    let reader: StreamConsumer = settings
        .consumer("dlq-reader", &streamforge_kit::testing::unique("dlq"))
        .unwrap();
    reader.subscribe(&[dlq]).unwrap();
    let mut out = vec![];
    while out.len() < n {
        let m = tokio::time::timeout(Duration::from_secs(30), reader.recv())
            .await
            .unwrap()
            .unwrap();
        let headers = m.headers().unwrap();
        out.push(
            headers
                .iter()
                .filter_map(|h| {
                    Some((
                        h.key.to_owned(),
                        String::from_utf8_lossy(h.value?).into_owned(),
                    ))
                })
                .collect(),
        );
    }
    out
}

async fn scenario(settings: KafkaSettings, topic: &str) {
    let producer = settings.producer("loader").unwrap();
    // 300 candles, the first 50 delivered twice (at-least-once), and two bad messages.
    let mut sent = 0;
    for i in (0..300).chain(0..50) {
        let key = format!("BTCUSDT|1m|{}", 1_722_470_400_000i64 + i * 60_000);
        let payload = json!({"symbol": "BTCUSDT", "open_time": 1_722_470_400_000i64 + i * 60_000, "close": format!("{i}.0")}).to_string();
        producer
            .send(
                FutureRecord::to(topic).key(&key).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        sent += 1;
        if i == 100 && sent == 101 {
            producer
                .send(
                    FutureRecord::to(topic)
                        .key("BTCUSDT|1m|bad")
                        .payload("{not json")
                        .headers(OwnedHeaders::new().insert(Header {
                            key: "trace-id",
                            value: Some("t-42"),
                        })),
                    Duration::from_secs(10),
                )
                .await
                .unwrap();
            producer
                .send(
                    FutureRecord::<str, str>::to(topic).payload("[1,2]"),
                    Duration::from_secs(10),
                )
                .await
                .unwrap();
        }
    }

    let (addr, state) =
        testserver::serve("127.0.0.1:0".parse().unwrap(), "streamforge", "root", "pw")
            .await
            .unwrap();
    let mut storage = ArangoSink {
        client: ArangoClient::new(&format!("http://{addr}"), "streamforge", "root", "pw").unwrap(),
        collection: "btcusdt_api_candles_1m_2024_08_01".into(),
        mode: WriteMode::DocumentReplace,
        index_fields: vec![],
    };
    storage.prepare().await.unwrap();
    // The store goes away for the first two batch writes.
    state.lock().unwrap().unavailable_for = 2;

    let mut cfg = RunConfig::new(topic);
    cfg.batch_records = 64;
    cfg.batch_wait = Duration::from_millis(200);
    cfg.retry_start = Duration::from_millis(50);
    let (report, metrics, consumer) = run_to_the_end(&settings, &mut storage, &cfg).await;
    let report = report.unwrap();

    assert_eq!(report.dead_letters, 2);
    assert!(report.storage_retries >= 2, "{report:?}");
    assert_eq!(
        report.first_key.as_deref(),
        Some("BTCUSDT|1m|1722470400000")
    );
    let docs = state.lock().unwrap().collections["btcusdt_api_candles_1m_2024_08_01"]
        .docs
        .len();
    assert_eq!(
        docs, 300,
        "every record stored once, none lost to the outage"
    );
    assert_eq!(metrics.dead_letters.with_label_values(&["json"]).get(), 1);
    assert_eq!(metrics.dead_letters.with_label_values(&["key"]).get(), 1);

    // Everything consumed is committed.
    let committed = consumer.committed(Duration::from_secs(10)).unwrap();
    let total: i64 = committed
        .elements_for_topic(topic)
        .iter()
        .filter_map(|e| e.offset().to_raw())
        .filter(|o| *o >= 0)
        .sum();
    assert_eq!(total, 352);

    // The dead letters keep their own headers and carry why in Kafka Connect's headers (and
    // ours), so existing dead-letter tooling reads them.
    for headers in dead_letters(&settings, &cfg.dlq_topic, 2).await {
        let get = |k: &str| headers.get(k).cloned();
        assert_eq!(get("__connect.errors.topic").as_deref(), Some(topic));
        assert_eq!(get("__connect.errors.task.id").as_deref(), Some("0"));
        assert_eq!(
            get("__connect.errors.connector.name").as_deref(),
            Some(cfg.connector_name.as_str())
        );
        assert!(
            get("__connect.errors.offset").is_some() && get("__connect.errors.partition").is_some()
        );
        let message = get("__connect.errors.exception.message").unwrap();
        assert_eq!(get("x-dlq-reason").as_deref(), Some(message.as_str()));
        if message.starts_with("payload is not JSON") {
            assert_eq!(
                get("trace-id").as_deref(),
                Some("t-42"),
                "the message's own header"
            );
            assert_eq!(
                get("__connect.errors.stage").as_deref(),
                Some("VALUE_CONVERTER")
            );
        } else {
            assert_eq!(message, "message has no key");
            assert_eq!(
                get("__connect.errors.stage").as_deref(),
                Some("KEY_CONVERTER")
            );
        }
    }
}

#[tokio::test]
async fn protocol_sink_stores_everything_once_through_an_outage() {
    let (_cluster, settings) = mock_topic("wf-data", 3);
    scenario(settings, "wf-data").await;
}

#[tokio::test]
async fn real_broker_sink_stores_everything_once_through_an_outage() {
    let Some(settings) = streamforge_kit::testing::real_kafka("real_broker_sink") else {
        return;
    };
    let topic = streamforge_kit::testing::unique("wf-data");
    scenario(settings, &topic).await;
}

#[tokio::test]
async fn the_dead_letter_topic_is_made_with_the_data_topics_partitions() {
    let Some((settings, topic)) =
        real_topic("the_dead_letter_topic_is_made", "wf-dlq-made", 3).await
    else {
        return;
    };
    let dlq = format!("{topic}-dlq");
    assert!(!streamforge_kit::topics::topic_exists(&settings, &dlq).unwrap());
    streamforge_sinks::core::run::dead_letter::ensure_topic(&settings, &topic, &dlq)
        .await
        .unwrap();
    let probe: StreamConsumer = settings.consumer("dlq-probe", "dlq-probe").unwrap();
    let md = probe
        .fetch_metadata(Some(&dlq), Duration::from_secs(10))
        .unwrap();
    let t = md.topics().iter().find(|t| t.name() == dlq).unwrap();
    assert_eq!(
        t.partitions().len(),
        3,
        "as many partitions as the data topic"
    );
    // Again: an existing topic is left as it is.
    streamforge_sinks::core::run::dead_letter::ensure_topic(&settings, &topic, &dlq)
        .await
        .unwrap();
}

/// Records the store refuses one by one (a key too long for an ArangoDB `_key`, a document
/// ArangoDB refuses in its batch answer) go to the dead-letter topic with the reason; the rest
/// of their batch is stored and the run goes on.
#[tokio::test]
async fn records_the_store_refuses_go_to_the_dead_letters_and_the_rest_is_stored() {
    let (_cluster, settings) = mock_topic("wf-refused", 1);
    let producer = settings.producer("loader").unwrap();
    let long_key = format!("BTCUSDT|1m|{}", "9".repeat(300));
    for i in 0..20 {
        let (key, payload) = match i {
            5 => (
                long_key.clone(),
                json!({"symbol": "BTCUSDT", "n": i}).to_string(),
            ),
            12 => (
                format!("BTCUSDT|1m|{i}"),
                json!({"symbol": "BTCUSDT", "n": i, "refuse": true}).to_string(),
            ),
            _ => (
                format!("BTCUSDT|1m|{i}"),
                json!({"symbol": "BTCUSDT", "n": i}).to_string(),
            ),
        };
        producer
            .send(
                FutureRecord::to("wf-refused").key(&key).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    let (addr, state) =
        testserver::serve("127.0.0.1:0".parse().unwrap(), "streamforge", "root", "pw")
            .await
            .unwrap();
    state.lock().unwrap().refuse_documents_with = Some(("refuse".into(), json!(true)));
    let mut storage = ArangoSink {
        client: ArangoClient::new(&format!("http://{addr}"), "streamforge", "root", "pw").unwrap(),
        collection: "refused".into(),
        mode: WriteMode::DocumentReplace,
        index_fields: vec![],
    };
    storage.prepare().await.unwrap();
    let mut cfg = RunConfig::new("wf-refused");
    cfg.batch_records = 8;
    cfg.batch_wait = Duration::from_millis(200);
    let (report, metrics, _) = run_to_the_end(&settings, &mut storage, &cfg).await;
    let report = report.expect("two refused records do not fail the run");
    assert_eq!(report.written, 18);
    assert_eq!(report.dead_letters, 2);
    assert_eq!(metrics.dead_letters.with_label_values(&["store"]).get(), 2);
    {
        let docs = &state.lock().unwrap().collections["refused"].docs;
        assert_eq!(docs.len(), 18);
        assert!(docs.values().all(|d| d["n"] != 5 && d["n"] != 12));
    }

    let mut reasons = vec![];
    for headers in dead_letters(&settings, "wf-refused-dlq", 2).await {
        let get = |k: &str| headers.get(k).cloned();
        assert_eq!(get("__connect.errors.stage").as_deref(), Some("TASK_PUT"));
        reasons.push(get("__connect.errors.exception.message").unwrap());
    }
    reasons.sort();
    assert!(
        reasons[0].contains("ArangoDB refused the document: errorNum 1210"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("cannot be an ArangoDB _key"),
        "{reasons:?}"
    );
}
