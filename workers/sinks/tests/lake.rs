//! The lake connector end to end: a data topic (librdkafka's mock cluster, or the real broker)
//! into Parquet files in a local directory and in a real S3 server (MinIO), read back with
//! pyarrow, a reader independent of the connector. A replay with nothing committed and other
//! batch boundaries must leave every record exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/put_hook.rs"]
mod put_hook;
#[path = "common/topics.rs"]
mod topics;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::path::Path;
use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::FutureRecord;
use serde_json::{Value, json};
use std::sync::Arc;
use streamforge_kit::KafkaSettings;
use streamforge_kit::testing::{TEST_PYTHON, TEST_S3, required_env, unique};
use streamforge_sinks::core::run::{RunConfig, RunReport, Runner, Signals, SinkMetrics};
use streamforge_sinks::core::{Batch, Storage};
use streamforge_sinks::lake::{LakeLocation, LakeSink};
use tokio::sync::watch;

use put_hook::{BeforePut, PutHook};
use topics::mock_topic;

const START: i64 = 1_722_553_200_000; // 2024-08-01 23:00 UTC

/// 300 BTCUSDT candles (60 on Aug 1, 240 on Aug 2), 20 ETHUSDT candles, the first 50 BTCUSDT
/// candles delivered twice, and two malformed messages.
async fn produce(settings: &KafkaSettings, topic: &str) {
    let producer = settings.producer("loader").unwrap();
    let send = |key: String, payload: String| {
        let producer = producer.clone();
        let topic = topic.to_owned();
        async move {
            producer
                .send(
                    FutureRecord::to(&topic).key(&key).payload(&payload),
                    Duration::from_secs(10),
                )
                .await
                .unwrap();
        }
    };
    for (sym, i) in (0..300)
        .map(|i| ("BTCUSDT", i))
        .chain((0..20).map(|i| ("ETHUSDT", i)))
        .chain((0..50).map(|i| ("BTCUSDT", i)))
    {
        let t = START + i * 60_000;
        let doc = json!({"symbol": sym, "interval": "1m", "open_time": t, "close_time": t + 59_999,
            "open": "1.0", "close": format!("{i}.5"), "volume": "2.25", "trades": i});
        send(format!("{sym}|1m|{t}"), doc.to_string()).await;
        if i == 100 && sym == "BTCUSDT" {
            send("BTCUSDT|1m|bad".into(), "{not json".into()).await;
        }
    }
    producer
        .send(
            FutureRecord::<str, str>::to(topic).payload("[1,2]"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
}

async fn run_sink(
    settings: &KafkaSettings,
    topic: &str,
    group: &str,
    storage: &mut LakeSink,
    batch_records: usize,
) -> RunReport {
    storage.prepare().await.unwrap();
    let consumer: StreamConsumer = settings.consumer("lake", group).unwrap();
    let dlq = settings.producer("lake-dlq").unwrap();
    let mut cfg = RunConfig::new(topic);
    cfg.batch_records = batch_records;
    cfg.batch_wait = Duration::from_millis(300);
    let metrics = SinkMetrics::new(&prometheus::Registry::new()).unwrap();
    let (_tx, rx) = watch::channel(Signals {
        producer_finished: true,
        stop: false,
    });
    let mut runner = Runner {
        consumer: &consumer,
        storage,
        dlq: &dlq,
        cfg,
        metrics,
    };
    tokio::time::timeout(Duration::from_secs(90), runner.run(rx))
        .await
        .expect("the sink ends by itself")
        .unwrap()
}

/// Every data file in the lake (object paths), bookkeeping excluded.
async fn data_files(storage: &LakeSink) -> BTreeSet<String> {
    let metas: Vec<_> = storage.store().list(None).try_collect().await.unwrap();
    metas
        .into_iter()
        .map(|m| m.location.to_string())
        .filter(|p| p.ends_with(".parquet") && p.contains(&storage.topic))
        .collect()
}

/// What pyarrow reads from the lake.
fn read_back(args: &[&str], env: &[(&str, &str)]) -> Option<Value> {
    let python = required_env("lake read-back", TEST_PYTHON, "pyarrow")?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e/lake/read_lake.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .args(["--key", &format!("BTCUSDT|1m|{}", START + 120 * 60_000)])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "read_lake.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn check_read_back(v: &Value) {
    assert_eq!(v["rows"], 320, "{v}");
    assert_eq!(v["distinct_keys"], 320, "no record twice: {v}");
    let dirs = &v["per_dir"];
    // Candles are kept a month a directory.
    assert_eq!(
        dirs["symbol=BTCUSDT/type=api_candles_1m/month=2024-08"],
        300
    );
    assert_eq!(dirs["symbol=ETHUSDT/type=api_candles_1m/month=2024-08"], 20);
    assert_eq!(dirs.as_object().unwrap().len(), 2, "{dirs}");
    let schema = &v["schema"];
    assert_eq!(schema["open_time"], "timestamp[ms, tz=UTC]");
    assert_eq!(
        schema["close"], "decimal128(38, 8)",
        "prices are exact decimals"
    );
    assert_eq!(schema["volume"], "decimal128(38, 8)");
    assert_eq!(
        schema["interval"], "string",
        "text that is not a number stays text"
    );
    assert_eq!(schema["trades"], "int64");
    let row = &v["row"];
    // Python's Decimal, written out: the exact value at the column's scale.
    assert_eq!(row["close"], "120.50000000");
    assert_eq!(row["symbol"], "BTCUSDT");
    assert_eq!(row["volume"], "2.25000000");
}

async fn scenario(settings: KafkaSettings, topic: &str, location: LakeLocation) -> LakeSink {
    produce(&settings, topic).await;
    let mut storage =
        LakeSink::new(location, "market", topic, "api_candles_1m", "BTCUSDT").unwrap();
    // Every batch stored whole, so each run's files are named for its own batches (holding
    // back has its own tests, tests/lake_held.rs).
    storage.hold_records = 0;

    let first = run_sink(&settings, topic, &unique("lake-a"), &mut storage, 64).await;
    assert_eq!(first.dead_letters, 2);
    assert!(first.written >= 320, "{first:?}");
    let files_a = data_files(&storage).await;
    assert!(files_a.len() >= 3, "{files_a:?}");

    // Every commit lost, and other batch boundaries: the replay undoes the first run's files
    // and writes each record once again.
    let second = run_sink(&settings, topic, &unique("lake-b"), &mut storage, 100).await;
    assert!(second.written >= 320, "{second:?}");
    let files_b = data_files(&storage).await;
    assert!(
        files_a.is_disjoint(&files_b),
        "the first run's files were replaced, not kept beside the new ones"
    );

    // A restart after everything was committed touches nothing.
    let group = unique("lake-c");
    run_sink(&settings, topic, &group, &mut storage, 100).await;
    let before = data_files(&storage).await;
    let (req0, _) = storage.counters();
    let third = run_sink(&settings, topic, &group, &mut storage, 100).await;
    assert_eq!(third.written, 0);
    assert_eq!(storage.counters().0, req0, "no request to the lake");
    assert_eq!(data_files(&storage).await, before);
    storage
}

#[tokio::test]
async fn lake_in_a_local_directory_from_the_mock_cluster() {
    let (_cluster, settings) = mock_topic("wf-lake", 3);
    let dir = std::env::temp_dir().join(unique("streamforge-lake"));
    let location = LakeLocation::Local { dir: dir.clone() };
    scenario(settings, "wf-lake", location).await;
    if let Some(v) = read_back(&["dir", dir.join("market").to_str().unwrap()], &[]) {
        check_read_back(&v);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn real_s3_lake_from_the_real_broker() {
    let Some(settings) = streamforge_kit::testing::real_kafka("real_s3_lake") else {
        return;
    };
    let Some(endpoint) = required_env("real_s3_lake", TEST_S3, "a MinIO server") else {
        return;
    };
    let access = std::env::var("STREAMFORGE_TEST_S3_ACCESS_KEY").unwrap_or_default();
    let secret = std::env::var("STREAMFORGE_TEST_S3_SECRET_KEY").unwrap_or_default();
    let bucket = unique("lake").to_lowercase().replace('_', "-");
    let bucket: String = bucket.chars().take(63).collect();
    let topic = unique("wf-lake");
    let location = LakeLocation::S3 {
        endpoint: endpoint.clone(),
        bucket: bucket.clone(),
        region: "us-east-1".into(),
        access_key: access.clone(),
        secret_key: secret.clone(),
    };
    scenario(settings, &topic, location).await;
    let v = read_back(
        &["s3", &endpoint, &bucket, "market"],
        &[
            ("AWS_ACCESS_KEY_ID", access.as_str()),
            ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
        ],
    );
    if let Some(v) = v {
        check_read_back(&v);
    }
}

/// Every Parquet file under `dir` and its row count.
fn local_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, i64)> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let mut out = vec![];
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                let reader = SerializedFileReader::new(std::fs::File::open(&p).unwrap()).unwrap();
                out.push((p, reader.metadata().file_metadata().num_rows()));
            }
        }
    }
    out
}

/// Two symbols, three 1m candles each, in partition 0 from offset 0.
fn two_symbols() -> Arc<Batch> {
    common::batch_of(["BTCUSDT", "ETHUSDT"].iter().flat_map(|sym| {
        (0..3i64).map(move |i| {
            let t = 1_722_470_400_000 + i * 60_000;
            let payload = format!(r#"{{"symbol":"{sym}","open_time":{t},"close":"1.{i}"}}"#);
            (format!("{sym}|1m|{t}"), payload)
        })
    }))
}

/// A store whose intent uploads are held and then fail, and which notes every other upload.
/// An intent is held until another upload arrives (files stored before their intents: the test
/// fails at once) or for `HOLD`, hundreds of times what encoding the batch takes, so that every
/// file of the batch is encoded and ready while the intents are outstanding.
#[derive(Debug, Default)]
struct FailingIntents {
    other_puts: std::sync::Mutex<Vec<String>>,
    other_put_arrived: tokio::sync::Notify,
}

const HOLD: Duration = Duration::from_secs(2);

#[async_trait::async_trait]
impl BeforePut for FailingIntents {
    async fn before_put(&self, location: &Path) -> object_store::Result<()> {
        if location.as_ref().contains("_streamforge/intents/") {
            let _ = tokio::time::timeout(HOLD, self.other_put_arrived.notified()).await;
            return Err(object_store::Error::Generic {
                store: "test",
                source: "intents unavailable".into(),
            });
        }
        self.other_puts.lock().unwrap().push(location.to_string());
        self.other_put_arrived.notify_one();
        Ok(())
    }
}

#[tokio::test]
async fn no_data_file_is_stored_before_the_intents_that_name_it() {
    let dir = std::env::temp_dir().join(unique("streamforge-lake-intents"));
    let sink = LakeSink::new(
        LakeLocation::Local { dir: dir.clone() },
        "market",
        "wf-intents",
        "api_candles_1m",
        "BTCUSDT",
    )
    .unwrap();
    let store = Arc::new(PutHook {
        inner: sink.store(),
        hook: FailingIntents::default(),
    });
    let mut sink = sink.with_store(store.clone());
    sink.hold_records = 0;
    let err = sink.write(two_symbols()).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(
        *store.hook.other_puts.lock().unwrap(),
        Vec::<String>::new(),
        "files were encoded meanwhile, but none stored"
    );
    assert_eq!(local_files(&dir), vec![]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_batch_retried_after_a_failed_write_stores_every_record() {
    let dir = std::env::temp_dir().join(unique("streamforge-lake-retry"));
    // A file where the symbol's directory must go: the first write fails part way.
    std::fs::create_dir_all(dir.join("market")).unwrap();
    let blocker = dir.join("market").join("symbol=ETHUSDT");
    std::fs::write(&blocker, b"in the way").unwrap();
    let mut sink = LakeSink::new(
        LakeLocation::Local { dir: dir.clone() },
        "market",
        "wf-retry",
        "api_candles_1m",
        "BTCUSDT",
    )
    .unwrap();
    sink.hold_records = 0;
    let batch = two_symbols();
    let err = sink.write(batch.clone()).await.unwrap_err();
    assert!(err.is_transient(), "a failed write is retried: {err}");

    std::fs::remove_file(&blocker).unwrap();
    let stats = sink.write(batch).await.unwrap();
    assert_eq!(stats.records, 6, "the retry stores the whole batch again");
    assert_eq!(
        sink.duplicates, 0,
        "nothing of the retried batch counts as a repeat"
    );
    let files = local_files(&dir);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|(_, rows)| *rows == 3), "{files:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
