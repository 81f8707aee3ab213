//! Directories held back across batches, end to end on a broker (librdkafka's mock cluster,
//! and the real broker under `STREAMFORGE_TEST_KAFKA`) into a local lake: a month's candles
//! become one file however the batches cut them, and a run that dies at any request of any
//! write, its successor resuming from the commit (offset pinned at the oldest held record,
//! positions of what is stored in the commit's metadata), leaves every record in the lake
//! exactly once. Records held while no batch comes are stored after `hold_for`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/put_hook.rs"]
mod put_hook;
#[path = "common/topics.rs"]
mod topics;

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use object_store::path::Path;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use streamforge_kit::KafkaSettings;
use streamforge_kit::testing::unique;
use streamforge_sinks::core::Storage;
use streamforge_sinks::core::run::{RunConfig, RunError, RunReport, Runner, Signals, SinkMetrics};
use streamforge_sinks::lake::{LakeLocation, LakeSink};
use tokio::sync::watch;

use put_hook::{BeforePut, PutHook};
use topics::{mock_topic, real_topic};

const SYMBOLS: [&str; 3] = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
const JAN_31_22H: i64 = 1_706_738_400_000; // 2024-01-31 22:00 UTC
const MINUTES: i64 = 240; // 2 to 3 hours of January, the rest in February

/// `minutes` 1m candles of each symbol, interleaved; each symbol 30 minutes behind the one
/// before, so they reach February at different offsets (and a held February pins a partition's
/// commit below January records stored later). Their keys.
async fn produce(settings: &KafkaSettings, topic: &str, minutes: i64) -> Vec<String> {
    let producer = settings.producer("loader").unwrap();
    let mut keys = vec![];
    for m in 0..minutes {
        for (s, sym) in SYMBOLS.iter().enumerate() {
            let t = JAN_31_22H + (m - 30 * s as i64) * 60_000;
            let key = format!("{sym}|1m|{t}");
            let payload = format!(
                r#"{{"symbol":"{sym}","interval":"1m","open_time":{t},"close":"{m}.5","volume":"1.25"}}"#
            );
            producer
                .send(
                    FutureRecord::to(topic).key(&key).payload(&payload),
                    Duration::from_secs(10),
                )
                .await
                .unwrap();
            keys.push(key);
        }
    }
    keys
}

/// Fails every upload from the `fail_at`-th (counting from 1) with a permanent error, as a
/// process killed there would stop storing; 0 never fails.
#[derive(Debug)]
struct DiesAt {
    fail_at: usize,
    puts: AtomicUsize,
}

#[async_trait::async_trait]
impl BeforePut for DiesAt {
    async fn before_put(&self, location: &Path) -> object_store::Result<()> {
        let n = self.puts.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_at > 0 && n >= self.fail_at {
            return Err(object_store::Error::PermissionDenied {
                path: location.to_string(),
                source: "the process died here".into(),
            });
        }
        Ok(())
    }
}

/// A lake sink over `dir` whose store dies at the `fail_at`-th upload (0: never).
fn sink(dir: &FsPath, topic: &str, fail_at: usize) -> (LakeSink, Arc<PutHook<DiesAt>>) {
    let sink = LakeSink::new(
        LakeLocation::Local {
            dir: dir.to_path_buf(),
        },
        "market",
        topic,
        "api_candles_1m",
        "BTCUSDT",
    )
    .unwrap();
    let store = Arc::new(PutHook {
        inner: sink.store(),
        hook: DiesAt {
            fail_at,
            puts: AtomicUsize::new(0),
        },
    });
    let mut sink = sink.with_store(store.clone());
    // Small enough that complete months (120 to 180 candles each) are stored before the end
    // (two of them pass a quarter of this), large enough to hold what is open (at most 450).
    sink.hold_records = 600;
    (sink, store)
}

/// One run of the lake connector's loop in group `group`, batches of 50.
async fn run(
    settings: &KafkaSettings,
    topic: &str,
    group: &str,
    storage: &mut LakeSink,
    signals: watch::Receiver<Signals>,
) -> Result<RunReport, RunError> {
    let metrics = SinkMetrics::new(&prometheus::Registry::new()).unwrap();
    run_with(settings, topic, group, storage, signals, metrics).await
}

/// [`run`] with `metrics` the test reads.
async fn run_with(
    settings: &KafkaSettings,
    topic: &str,
    group: &str,
    storage: &mut LakeSink,
    signals: watch::Receiver<Signals>,
    metrics: SinkMetrics,
) -> Result<RunReport, RunError> {
    storage.prepare().await.unwrap();
    let consumer: StreamConsumer = settings.consumer("lake", group).unwrap();
    let dlq = settings.producer("lake-dlq").unwrap();
    let mut cfg = RunConfig::new(topic);
    cfg.batch_records = 50;
    cfg.batch_wait = Duration::from_millis(200);
    let mut runner = Runner {
        consumer: &consumer,
        storage,
        dlq: &dlq,
        cfg,
        metrics,
    };
    tokio::time::timeout(Duration::from_secs(90), runner.run(signals))
        .await
        .expect("the sink ends by itself")
}

fn finished() -> watch::Receiver<Signals> {
    let (tx, rx) = watch::channel(Signals {
        producer_finished: true,
        stop: false,
    });
    std::mem::forget(tx);
    rx
}

/// Every key in the lake's data files under `dir`, with how many times it is there; and the
/// number of files per directory.
fn lake_keys(dir: &FsPath) -> (BTreeMap<String, usize>, BTreeMap<PathBuf, usize>) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let mut keys = BTreeMap::new();
    let mut dirs = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                *dirs.entry(p.parent().unwrap().to_path_buf()).or_insert(0) += 1;
                let reader = SerializedFileReader::new(std::fs::File::open(&p).unwrap()).unwrap();
                for row in reader.get_row_iter(None).unwrap() {
                    let row = row.unwrap();
                    let (name, value) = row.get_column_iter().next().unwrap();
                    assert_eq!(name, "_key");
                    let key = value.to_string().trim_matches('"').to_owned();
                    *keys.entry(key).or_insert(0) += 1;
                }
            }
        }
    }
    (keys, dirs)
}

fn assert_exactly_once(dir: &FsPath, expected: &[String], context: &str) {
    let (keys, _) = lake_keys(dir);
    let twice: Vec<_> = keys.iter().filter(|(_, n)| **n > 1).take(3).collect();
    assert!(twice.is_empty(), "{context}: stored twice: {twice:?}");
    let missing: Vec<_> = expected
        .iter()
        .filter(|k| !keys.contains_key(*k))
        .take(3)
        .collect();
    assert!(missing.is_empty(), "{context}: missing: {missing:?}");
    assert_eq!(keys.len(), expected.len(), "{context}");
}

/// Committed offset and end of each partition of `topic` for `group`.
fn committed(settings: &KafkaSettings, topic: &str, group: &str) -> Vec<(i64, i64)> {
    let consumer: StreamConsumer = settings.consumer("check", group).unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition(topic, p);
    }
    let got = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    got.elements()
        .iter()
        .map(|e| {
            let end = consumer
                .fetch_watermarks(topic, e.partition(), Duration::from_secs(10))
                .unwrap()
                .1;
            let offset = match e.offset() {
                Offset::Offset(o) => o,
                _ => -1,
            };
            (offset, end)
        })
        .collect()
}

/// A clean run stores each symbol's month in one file; then (with `sweep`), for every upload
/// at which a run can die, a run dying there and its successor leave every record exactly once.
async fn dies_anywhere_and_resumes_exactly_once(settings: KafkaSettings, topic: &str, sweep: bool) {
    let keys = produce(&settings, topic, MINUTES).await;

    let dir = std::env::temp_dir().join(unique("streamforge-lake-held"));
    let (mut clean, store) = sink(&dir, topic, 0);
    let report = run(
        &settings,
        topic,
        &unique("held-clean"),
        &mut clean,
        finished(),
    )
    .await
    .unwrap();
    assert_eq!(report.written, keys.len() as u64);
    assert_exactly_once(&dir, &keys, "clean run");
    let (_, dirs) = lake_keys(&dir);
    assert_eq!(dirs.len(), 6, "three symbols, two months: {dirs:?}");
    assert!(
        dirs.values().all(|&n| n == 1),
        "one file per symbol and month, over {} batches: {dirs:?}",
        report.batches
    );
    let uploads = store.hook.puts.load(Ordering::SeqCst);
    std::fs::remove_dir_all(&dir).unwrap();
    if !sweep {
        return;
    }

    let mut skipped_as_stored = 0;
    for fail_at in 1..=uploads {
        let dir = std::env::temp_dir().join(unique("streamforge-lake-held"));
        let group = unique("held-dies");
        let (mut first, _) = sink(&dir, topic, fail_at);
        let err = run(&settings, topic, &group, &mut first, finished()).await;
        assert!(
            err.is_err(),
            "upload {fail_at} of {uploads} failed: {err:?}"
        );
        let (mut second, _) = sink(&dir, topic, 0);
        let report = run(&settings, topic, &group, &mut second, finished())
            .await
            .unwrap();
        skipped_as_stored += second.duplicates;
        assert_exactly_once(
            &dir,
            &keys,
            &format!("died at upload {fail_at} of {uploads}"),
        );
        assert!(report.written <= keys.len() as u64);
        for (offset, end) in committed(&settings, topic, &group) {
            assert_eq!(offset, end, "everything committed after upload {fail_at}");
        }
        // A restart after everything was committed stores nothing.
        let (mut third, store) = sink(&dir, topic, 0);
        let report = run(&settings, topic, &group, &mut third, finished())
            .await
            .unwrap();
        assert_eq!(report.written, 0, "after upload {fail_at}");
        assert_eq!(
            store.hook.puts.load(Ordering::SeqCst),
            0,
            "after upload {fail_at}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
    assert!(
        skipped_as_stored > 0,
        "some successor resumed below records already in files and skipped them"
    );
}

/// The clean run alone: on the mock cluster a group whose member died rejoins only after the
/// session timeout, a minute per point of the sweep.
#[tokio::test]
async fn held_directories_make_one_file_per_symbol_and_month_on_the_mock_cluster() {
    let (_cluster, settings) = mock_topic("wf-held", 3);
    dies_anywhere_and_resumes_exactly_once(settings, "wf-held", false).await;
}

#[tokio::test]
async fn real_broker_held_directories_survive_a_run_dying_at_any_upload() {
    let Some((settings, topic)) = real_topic("real_broker_held_directories", "wf-held", 3).await
    else {
        return;
    };
    dies_anywhere_and_resumes_exactly_once(settings, &topic, true).await;
}

/// A live topic that goes quiet with its month still open: what is held is stored once
/// `hold_for` has passed, with no new batch and no end of input, and committed.
#[tokio::test]
async fn held_records_are_stored_after_hold_for_while_the_topic_is_quiet() {
    let topic = "wf-held-quiet";
    let (_cluster, settings) = mock_topic(topic, 3);
    let keys = produce(&settings, topic, 10).await;
    let dir = std::env::temp_dir().join(unique("streamforge-lake-quiet"));
    let (mut storage, _) = sink(&dir, topic, 0);
    storage.hold_for = Duration::from_millis(500);
    let (tx, rx) = watch::channel(Signals::default());
    let group = unique("held-quiet");
    let metrics = SinkMetrics::new(&prometheus::Registry::new()).unwrap();
    let held = metrics.held.clone();
    let mut most_held = 0;
    let running = run_with(&settings, topic, &group, &mut storage, rx, metrics);
    let (report, ()) = tokio::join!(running, async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while lake_keys(&dir).0.len() < keys.len() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the held records were not stored while the topic was quiet"
            );
            most_held = most_held.max(held.get());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Stored before any stop; the commit follows the store.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while committed(&settings, topic, &group)
            .iter()
            .any(|(offset, end)| offset != end)
        {
            assert!(tokio::time::Instant::now() < deadline, "not committed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tx.send(Signals {
            producer_finished: false,
            stop: true,
        })
        .unwrap();
    });
    let report = report.unwrap();
    assert_eq!(report.written, keys.len() as u64);
    assert_exactly_once(&dir, &keys, "quiet topic");
    // The gauge showed them while they were held, and nothing once they were stored.
    assert!(
        (1..=keys.len() as i64).contains(&most_held),
        "{most_held} held"
    );
    assert_eq!(held.get(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
