//! What the generic loader's broker tests share: a run's environment, commands, reading topics
//! back with their headers, a file server over HTTP and objects in the test MinIO.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Headers;
use rdkafka::producer::FutureRecord;
use serde_json::json;
use streamforge_api::{QueueEvent, TimeRange};
use streamforge_kit::testing::{TEST_S3, next_message, required_env, unique};
use streamforge_kit::{KafkaSettings, WorkerEnv};
use streamforge_loader_generic::config::GenericConfig;
use streamforge_sinks::lake::LakeLocation;
use warp::Filter;

pub const T0: i64 = 1_722_470_400_000; // 2024-08-01T00:00:00Z
pub const MINUTE: i64 = 60_000;

/// A fresh Queue of `data_type` on its own topic.
pub fn env(data_type: &str, range: Option<&str>) -> WorkerEnv {
    let queue_id = unique(&format!("wf-btcusdt-{data_type}"));
    WorkerEnv {
        telemetry_id: unique("loader-generic"),
        symbol: "BTCUSDT".into(),
        data_type: data_type.into(),
        time_range: range.map(|r| TimeRange::parse(r).unwrap()),
        kafka_topic: format!("{queue_id}-data"),
        collection_name: None,
        run: 1,
        producer_id: None,
        queue_id,
    }
}

pub fn cfg(s3: Option<LakeLocation>) -> GenericConfig {
    GenericConfig {
        start_timeout: Duration::from_secs(30),
        topic_partitions: 2,
        s3,
        ..GenericConfig::default()
    }
}

/// Send `command` (start or stop) for `env`'s run on queue-control.
pub async fn command(settings: &KafkaSettings, env: &WorkerEnv, command: &str) {
    let producer = settings.producer("operator").unwrap();
    let cmd = json!({"command": command, "queue_id": env.queue_id, "target": "loader-generic",
        "symbol": env.symbol, "type": env.data_type, "telemetry_id": env.telemetry_id,
        "timestamp": 1.0, "run": env.run,
        "command_id": format!("{}/{}/{command}/{}", env.queue_id, env.run, env.telemetry_id)});
    producer
        .send(
            FutureRecord::to("queue-control")
                .key(env.queue_id.as_str())
                .payload(&cmd.to_string()),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
}

/// A message read back.
#[derive(Debug)]
pub struct Read {
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

/// Up to `want` messages of `topic` from its start (fewer when none comes for `quiet`).
pub async fn read(
    settings: &KafkaSettings,
    topic: &str,
    want: usize,
    quiet: Duration,
) -> Vec<Read> {
    let c: StreamConsumer = settings.consumer("reader", &unique("reader")).unwrap();
    c.subscribe(&[topic]).unwrap();
    let mut out = vec![];
    while out.len() < want {
        match next_message(&c, quiet).await {
            Some(m) => {
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| {
                                (
                                    h.key.to_owned(),
                                    String::from_utf8_lossy(h.value.unwrap_or_default())
                                        .into_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Read {
                    key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                    payload: m.payload().unwrap_or_default().to_vec(),
                    headers,
                });
            }
            None => break,
        }
    }
    out
}

/// `env`'s events on queue-events, up to its closing one.
pub async fn events(settings: &KafkaSettings, env: &WorkerEnv) -> Vec<QueueEvent> {
    let c: StreamConsumer = settings.consumer("reader", &unique("events")).unwrap();
    c.subscribe(&["queue-events"]).unwrap();
    let mut out: Vec<QueueEvent> = vec![];
    while let Some(m) = next_message(&c, Duration::from_secs(20)).await {
        let Ok(e) = QueueEvent::from_json(m.payload().unwrap_or_default()) else {
            continue;
        };
        if e.queue_id != env.queue_id {
            continue;
        }
        let last = e.status.as_ref().is_some_and(|s| s.is_final());
        out.push(e);
        if last {
            break;
        }
    }
    out
}

/// Serve `files` (path → body) over HTTP; other paths answer 404.
pub async fn serve(files: HashMap<String, Vec<u8>>) -> SocketAddr {
    let files = Arc::new(files);
    let route =
        warp::path::full().map(move |p: warp::path::FullPath| match files.get(p.as_str()) {
            Some(body) => warp::http::Response::builder()
                .status(200)
                .body(body.clone())
                .unwrap(),
            None => warp::http::Response::builder()
                .status(404)
                .body(Vec::new())
                .unwrap(),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = warp::serve(route).incoming(listener);
    tokio::spawn(async move { server.run().await });
    addr
}

/// The test MinIO with a fresh bucket holding `objects` (key → body), as the worker's S3
/// settings; `None` (the test skips) without one.
pub async fn minio(test: &str, objects: &[(&str, &[u8])]) -> Option<(LakeLocation, String)> {
    let endpoint = required_env(test, TEST_S3, "a MinIO server")?;
    let bucket: String = unique("uploads")
        .to_lowercase()
        .replace('_', "-")
        .chars()
        .take(63)
        .collect();
    let location = LakeLocation::S3 {
        endpoint,
        bucket: bucket.clone(),
        region: "us-east-1".into(),
        access_key: std::env::var("STREAMFORGE_TEST_S3_ACCESS_KEY").unwrap_or_default(),
        secret_key: std::env::var("STREAMFORGE_TEST_S3_SECRET_KEY").unwrap_or_default(),
    };
    let opened = streamforge_sinks::lake::store::open(&location).unwrap();
    opened.ensure_bucket().await.unwrap();
    for (key, body) in objects {
        opened
            .store
            .put(
                &object_store::path::Path::from(*key),
                object_store::PutPayload::from(body.to_vec()),
            )
            .await
            .unwrap();
    }
    Some((location, bucket))
}

/// A CSV of 1m candles at `T0 + i` minutes for each `i` of `minutes`, with the header
/// `ts,o,h,l,c,v`.
pub fn candle_csv(minutes: &[i64]) -> String {
    let mut s = "ts,o,h,l,c,v\n".to_owned();
    for i in minutes {
        s.push_str(&format!(
            "{},{i}.5,{i}.9,{i}.1,{i}.7,10.25\n",
            T0 + i * MINUTE
        ));
    }
    s
}

/// The mapping of [`candle_csv`]'s columns.
pub fn candle_columns() -> serde_json::Value {
    json!({"open_time": "ts", "open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"})
}

/// The same candles as JSON lines.
pub fn candle_jsonl(minutes: &[i64]) -> String {
    minutes
        .iter()
        .map(|i| {
            json!({"ts": T0 + i * MINUTE, "o": format!("{i}.5"), "h": format!("{i}.9"),
                "l": format!("{i}.1"), "c": format!("{i}.7"), "v": 10.25})
            .to_string()
                + "\n"
        })
        .collect()
}

/// The same candles as Parquet: `ts` a millisecond timestamp, prices text, volume a double.
pub fn candle_parquet(minutes: &[i64]) -> Vec<u8> {
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    let schema = Arc::new(
        parquet::schema::parser::parse_message_type(
            "message candles {
                required int64 ts (TIMESTAMP(MILLIS,true));
                required binary o (UTF8);
                required binary h (UTF8);
                required binary l (UTF8);
                required binary c (UTF8);
                required double v;
            }",
        )
        .unwrap(),
    );
    let mut buf = Vec::new();
    let mut w = SerializedFileWriter::new(
        &mut buf,
        schema,
        Arc::new(WriterProperties::builder().build()),
    )
    .unwrap();
    let mut rg = w.next_row_group().unwrap();
    let text = |suffix: &str| -> Vec<ByteArray> {
        minutes
            .iter()
            .map(|i| ByteArray::from(format!("{i}.{suffix}").as_str()))
            .collect()
    };
    let mut col = 0;
    while let Some(mut c) = rg.next_column().unwrap() {
        match col {
            0 => {
                let ts: Vec<i64> = minutes.iter().map(|i| T0 + i * MINUTE).collect();
                c.typed::<Int64Type>().write_batch(&ts, None, None).unwrap();
            }
            1..=4 => {
                let values = text(["5", "9", "1", "7"][col - 1]);
                c.typed::<ByteArrayType>()
                    .write_batch(&values, None, None)
                    .unwrap();
            }
            _ => {
                let v = vec![10.25; minutes.len()];
                c.typed::<DoubleType>().write_batch(&v, None, None).unwrap();
            }
        }
        c.close().unwrap();
        col += 1;
    }
    rg.close().unwrap();
    w.close().unwrap();
    buf
}
