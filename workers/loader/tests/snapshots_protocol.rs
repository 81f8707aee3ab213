//! `api_orderbook` against the exchange simulator, which implements Binance's documented
//! `GET /api/v3/depth` (weight by limit, 429 with Retry-After, 418, error bodies, a book whose
//! `lastUpdateId` advances with time): snapshots on a grid of real seconds, what they cost, what
//! the report says when some are lost; and the whole worker with librdkafka's mock cluster or a
//! real broker. Binance itself cannot be reached from our machines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use binance_sim::{Config, Faults};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::FutureRecord;
use serde_json::json;
use streamforge_api::{EventStatus, QueueEvent, TimeRange};
use streamforge_kit::{KafkaSettings, WorkerEnv};
use streamforge_loader::binance::rest::RestClient;
use streamforge_loader::historical::{LoadError, Progress};
use streamforge_loader::records::BookRecord;
use streamforge_loader::sink::MemorySink;
use streamforge_loader::snapshots::{self, Schedule, Settings, Snapshots};
use streamforge_loader::worker::{self, Failure, LoaderConfig, Outcome};
use tokio::sync::watch;

const QID: &str = "wf-btcusdt-api_orderbook-20240801-a1b2c3";
const TID: &str = "loader-api-orderbook__a1b2c3";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The next whole second at least `ahead_ms` from now, so a grid starts on a round time.
fn second_after(ahead_ms: i64) -> i64 {
    (now_ms() + ahead_ms + 999) / 1000 * 1000
}

fn range(start_ms: i64, end_ms: i64) -> TimeRange {
    let at = |ms: i64| UNIX_EPOCH + Duration::from_millis(ms as u64);
    TimeRange {
        start: at(start_ms).into(),
        end: at(end_ms).into(),
        whole_days: false,
    }
}

struct Run {
    report: Result<streamforge_loader::historical::Completeness, LoadError>,
    records: Vec<(String, BookRecord)>,
    rest: RestClient,
}

/// Snapshots of BTCUSDT every `interval` s over `[start, end)` with `limit` levels, into memory.
async fn take(url: &str, start: i64, end: i64, interval: &str, limit: &str) -> Run {
    take_with_budget(url, start, end, interval, limit, 5400).await
}

async fn take_with_budget(
    url: &str,
    start: i64,
    end: i64,
    interval: &str,
    limit: &str,
    budget: u32,
) -> Run {
    let rest = RestClient::new(url, budget).unwrap();
    let settings = Settings::parse(Some(interval), Some(limit)).unwrap();
    let schedule = Schedule::plan(start, end, settings.interval_ms, now_ms()).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let (_stop_tx, stop) = watch::channel(false);
    let report = snapshots::run(Snapshots {
        rest: &rest,
        sink: &mut sink,
        symbol: "BTCUSDT".into(),
        settings,
        schedule,
        progress: &tx,
        stop,
    })
    .await;
    let records = sink
        .records
        .iter()
        .map(|(k, p)| (k.clone(), serde_json::from_slice(p).unwrap()))
        .collect();
    Run {
        report,
        records,
        rest,
    }
}

/// (key, last_update_id, time, levels a side) of each snapshot record.
fn snapshots_of(records: &[(String, BookRecord)]) -> Vec<(String, i64, i64, usize)> {
    records
        .iter()
        .map(|(k, r)| match r {
            BookRecord::Snapshot {
                symbol,
                last_update_id,
                bids,
                asks,
                time,
            } => {
                assert_eq!(symbol, "BTCUSDT");
                assert_eq!(bids.len(), asks.len());
                (k.clone(), *last_update_id, time.unwrap(), bids.len())
            }
            other => panic!("not a snapshot: {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn protocol_snapshots_are_taken_on_the_grid_with_advancing_update_ids() {
    let url = common::simulator(Config::default()).await;
    let start = second_after(500);
    let run = take(&url, start, start + 4_000, "1", "5").await;
    let report = run.report.unwrap();
    assert_eq!(
        (report.expected, report.produced, report.missing),
        (4, 4, 0),
        "{report:?}"
    );
    assert!(report.is_complete());
    assert_eq!(
        (report.first, report.last),
        (Some(start), Some(start + 3_000))
    );
    let snaps = snapshots_of(&run.records);
    assert_eq!(snaps.len(), 4);
    let mut last_id = -1;
    for (n, (key, id, time, levels)) in snaps.iter().enumerate() {
        let point = start + n as i64 * 1_000;
        assert!(
            (point..point + 1_000).contains(time),
            "snapshot {n} taken at {time}, its grid point is {point}"
        );
        assert_eq!(key, &format!("BTCUSDT|snapshot|{id}"));
        assert!(*id > last_id, "update ids advance: {id} after {last_id}");
        assert_eq!(*levels, 5, "DEPTH_LIMIT levels a side");
        last_id = *id;
    }
    let stats = run.rest.stats();
    assert_eq!((stats.requests, stats.weight), (4, 4 * 5));
}

#[tokio::test]
async fn protocol_snapshots_are_charged_the_weight_of_their_limit() {
    let url = common::simulator(Config::default()).await;
    for (limit, weight) in [("100", 5), ("500", 25), ("1000", 50), ("5000", 250)] {
        let start = now_ms() + 200;
        let run = take(&url, start, start + 1_000, "1", limit).await;
        assert_eq!(run.report.unwrap().produced, 1);
        let stats = run.rest.stats();
        assert_eq!(
            (stats.requests, stats.weight),
            (1, weight),
            "DEPTH_LIMIT={limit}"
        );
        assert_eq!(
            u64::from(Settings::parse(None, Some(limit)).unwrap().weight()),
            weight
        );
    }
}

/// A whole second at least `ahead_ms` from now from which `len_ms` stays inside one
/// one-minute weight window (waiting for the next window when it would not).
async fn start_inside_one_window(ahead_ms: i64, len_ms: i64) -> i64 {
    let start = second_after(ahead_ms);
    if (start + len_ms) / 60_000 == now_ms() / 60_000 {
        return start;
    }
    let next_window = (now_ms() / 60_000 + 1) * 60_000;
    tokio::time::sleep(Duration::from_millis((next_window - now_ms()).max(0) as u64)).await;
    second_after(ahead_ms)
}

fn throttled_second_request() -> Config {
    Config {
        faults: Faults {
            throttle_request: Some(2),
            ..Faults::default()
        },
        ..Config::default()
    }
}

#[tokio::test]
async fn protocol_a_429_is_waited_out_and_the_report_counts_the_point_it_cost() {
    // The second snapshot draws a 429 with `Retry-After: 1`: asked at 1 s, answered after 2 s,
    // it is the 2 s snapshot, and the 1 s one is missing. (The simulator's injected 429 reports
    // the exchange's limit as used; a budget above it keeps the window open, so this is the
    // Retry-After wait alone.)
    let url = common::simulator(throttled_second_request()).await;
    let start = second_after(500);
    let run = take_with_budget(&url, start, start + 4_000, "1", "5", 10_000).await;
    let report = run.report.unwrap();
    assert_eq!(
        (report.expected, report.produced, report.missing),
        (4, 3, 1),
        "{report:?}"
    );
    assert_eq!(report.gaps, vec![(start + 1_000, start + 2_000)]);
    assert!(!report.is_complete());
    assert_eq!(run.rest.stats().throttled_429, 1);
    let snaps = snapshots_of(&run.records);
    let times: Vec<i64> = snaps.iter().map(|s| (s.2 - start) / 1_000).collect();
    assert_eq!(times, vec![0, 2, 3], "one snapshot a slot, none for 1 s");
    assert!(snaps.windows(2).all(|w| w[0].1 < w[1].1));
}

#[tokio::test]
async fn protocol_a_429_that_spends_the_window_costs_the_rest_of_the_range_and_ends_with_it() {
    // With the default budget the 429's used-weight header closes the loader's window: nothing
    // more is asked before the next minute, so every point left in the range is missing, and
    // the run ends with the range instead of waiting for that minute.
    let url = common::simulator(throttled_second_request()).await;
    let start = start_inside_one_window(500, 5_000).await;
    let run = take(&url, start, start + 4_000, "1", "5").await;
    let report = run.report.unwrap();
    assert_eq!(
        (report.expected, report.produced, report.missing),
        (4, 1, 3),
        "{report:?}"
    );
    assert_eq!(report.gaps, vec![(start + 1_000, start + 4_000)]);
    assert_eq!(run.rest.stats().throttled_429, 1);
    let late = now_ms() - (start + 4_000);
    assert!(late < 1_000, "ended {late} ms after the range");
}

#[tokio::test]
async fn protocol_a_ban_loses_the_grid_points_until_it_ends_and_says_so() {
    // Banned for two minutes: every point of a 3 s range is lost, at once.
    let url = common::simulator(Config {
        faults: Faults {
            banned: true,
            ..Faults::default()
        },
        ..Config::default()
    })
    .await;
    let start = second_after(200);
    let begun = std::time::Instant::now();
    let run = take(&url, start, start + 3_000, "1", "100").await;
    let report = run.report.unwrap();
    assert_eq!(
        (report.expected, report.produced, report.missing),
        (3, 0, 3)
    );
    assert_eq!(report.gaps, vec![(start, start + 3_000)]);
    assert!(run.records.is_empty());
    assert_eq!(run.rest.stats().requests, 1, "nothing asked during the ban");
    assert!(begun.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn protocol_a_refused_request_ends_the_run() {
    let url = common::simulator(Config::default()).await;
    let rest = RestClient::new(&url, 5400).unwrap();
    let settings = Settings::parse(Some("1"), None).unwrap();
    let start = now_ms() + 100;
    let schedule = Schedule::plan(start, start + 3_000, 1_000, now_ms()).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let (_stop_tx, stop) = watch::channel(false);
    let err = snapshots::run(Snapshots {
        rest: &rest,
        sink: &mut sink,
        symbol: "NOPEUSDT".into(),
        settings,
        schedule,
        progress: &tx,
        stop,
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("-1121"), "{err}");
    assert!(matches!(Failure::from(err), Failure::Permanent(_)));
}

#[tokio::test]
async fn protocol_stop_ends_the_series_and_flushes() {
    let url = common::simulator(Config::default()).await;
    let rest = RestClient::new(&url, 5400).unwrap();
    let settings = Settings::parse(Some("1"), Some("5")).unwrap();
    let start = second_after(200);
    let schedule = Schedule::plan(start, start + 60_000, 1_000, now_ms()).unwrap();
    let mut sink = MemorySink::default();
    let (tx, _rx) = watch::channel(Progress::default());
    let (stop_tx, stop) = watch::channel(false);
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        stop_tx.send(true).unwrap();
        stop_tx
    });
    let report = snapshots::run(Snapshots {
        rest: &rest,
        sink: &mut sink,
        symbol: "BTCUSDT".into(),
        settings,
        schedule,
        progress: &tx,
        stop,
    })
    .await
    .unwrap();
    let _ = stopper.await.unwrap();
    assert!((2..=4).contains(&report.produced), "{report:?}");
    assert_eq!(report.expected, report.produced, "{report:?}");
    assert_eq!(sink.records.len() as u64, report.produced);
}

// The whole worker.

fn orderbook_env(range: TimeRange) -> WorkerEnv {
    WorkerEnv {
        queue_id: QID.into(),
        telemetry_id: TID.into(),
        symbol: "BTCUSDT".into(),
        data_type: "api_orderbook".into(),
        time_range: Some(range),
        kafka_topic: format!("{QID}-data"),
        collection_name: None,
        run: 1,
        producer_id: None,
    }
}

async fn mock() -> (
    MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    KafkaSettings,
    LoaderConfig,
) {
    let (cluster, settings) = common::mock_cluster(QID);
    let cfg = LoaderConfig {
        binance_base_url: common::simulator(Config::default()).await,
        wait_for_start: false,
        snapshot_interval_secs: Some("1".into()),
        depth_limit: Some("5".into()),
        ..LoaderConfig::default()
    };
    (cluster, settings, cfg)
}

/// The worker's events on `topic` up to its closing one.
async fn events_to_the_end(settings: &KafkaSettings, topic: &str, group: &str) -> Vec<QueueEvent> {
    let c: StreamConsumer = settings.consumer("reader", group).unwrap();
    c.subscribe(&[topic]).unwrap();
    let mut out: Vec<QueueEvent> = vec![];
    while !out.last().is_some_and(QueueEvent::is_final) {
        let m = tokio::time::timeout(Duration::from_secs(20), c.recv())
            .await
            .expect("a closing event within 20 s")
            .unwrap();
        out.push(QueueEvent::from_json(m.payload().unwrap_or_default()).unwrap());
    }
    out
}

/// The worker's closing event on queue-events.
async fn closing_event(settings: &KafkaSettings, group: &str) -> QueueEvent {
    let mut events = events_to_the_end(settings, "queue-events", group).await;
    events.pop().unwrap()
}

#[tokio::test]
async fn protocol_worker_refuses_a_range_that_is_over() {
    let (_cluster, settings, cfg) = mock().await;
    let env = orderbook_env(TimeRange::parse("2024-08-01:2024-08-02").unwrap());
    let err = worker::run(env, settings.clone(), cfg).await.unwrap_err();
    assert_eq!(err.exit_code(), 2, "permanent: {err}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("api_orderbook over timeRange 2024-08-01:2024-08-02:"),
        "{msg}"
    );
    assert!(
        msg.ends_with("a snapshot of the past cannot be taken"),
        "{msg}"
    );
    let ev = closing_event(&settings, "over").await;
    assert_eq!(ev.status, Some(EventStatus::Error));
    assert_eq!(ev.message.as_deref(), Some(msg.as_str()));
}

#[tokio::test]
async fn protocol_worker_refuses_a_bad_depth_limit_and_interval() {
    let (_cluster, settings, cfg) = mock().await;
    let start = second_after(60_000);
    let env = orderbook_env(range(start, start + 60_000));
    let err = worker::run(
        env.clone(),
        settings.clone(),
        LoaderConfig {
            depth_limit: Some("6000".into()),
            ..cfg.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert_eq!(
        err.to_string(),
        "DEPTH_LIMIT=\"6000\" is not a depth Binance accepts: a whole number of levels from 1 to 5000"
    );
    let ev = closing_event(&settings, "limit").await;
    assert_eq!(ev.status, Some(EventStatus::Error));
    assert_eq!(ev.message.as_deref(), Some(err.to_string().as_str()));

    let err = worker::run(
        env,
        settings.clone(),
        LoaderConfig {
            snapshot_interval_secs: Some("0".into()),
            ..cfg
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .starts_with("SNAPSHOT_INTERVAL_SECONDS=\"0\" is not a snapshot interval"),
        "{err}"
    );
}

async fn send_start(settings: &KafkaSettings) {
    let producer = settings.producer("operator").unwrap();
    let cmd = json!({"command": "start", "queue_id": QID, "target": "loader-api-orderbook", "symbol": "BTCUSDT",
        "type": "api_orderbook", "telemetry_id": TID, "timestamp": 1.0, "run": 1, "command_id": format!("{QID}/1/start/{TID}")});
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

#[tokio::test]
async fn protocol_worker_takes_snapshots_until_stop_and_reports_it() {
    let (_cluster, settings, cfg) = mock().await;
    let start = second_after(500);
    let env = orderbook_env(range(start, start + 600_000));
    let stopper = {
        let settings = settings.clone();
        tokio::spawn(async move {
            let flowing = common::drain(&settings, &format!("{QID}-data"), "flowing", 2).await;
            assert_eq!(flowing.len(), 2, "snapshots were written before the stop");
            let producer = settings.producer("operator").unwrap();
            let cmd = json!({"command": "stop", "queue_id": QID, "target": "loader-api-orderbook", "symbol": "BTCUSDT",
                "type": "api_orderbook", "telemetry_id": TID, "timestamp": 2.0, "run": 1, "command_id": format!("{QID}/1/stop/{TID}")});
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
    send_start(&settings).await;
    let cfg = LoaderConfig {
        wait_for_start: true,
        start_timeout: Duration::from_secs(30),
        ..cfg
    };
    let outcome = tokio::time::timeout(
        Duration::from_secs(60),
        worker::run(env, settings.clone(), cfg),
    )
    .await
    .expect("the stop ended the series")
    .unwrap();
    stopper.await.unwrap();
    assert_eq!(outcome, Outcome::Stopped);
    let ev = closing_event(&settings, "stopped").await;
    assert_eq!(ev.status, Some(EventStatus::Stopped));
}

#[tokio::test]
async fn real_broker_worker_writes_snapshot_records_and_a_true_report() {
    let Some(settings) = streamforge_kit::testing::real_kafka(
        "real_broker_worker_writes_snapshot_records_and_a_true_report",
    ) else {
        return;
    };
    let unique = streamforge_kit::testing::unique;
    let mut settings = settings;
    settings.control_topic = unique("orderbook-control");
    settings.events_topic = unique("orderbook-events");
    for t in [&settings.control_topic, &settings.events_topic] {
        streamforge_kit::topics::ensure_topic(&settings, t, 1, 1, None)
            .await
            .unwrap();
    }
    let queue_id = unique("wf-btcusdt-api_orderbook-20240801");
    // Far enough ahead for the data topic to be created first.
    let start = second_after(4_000);
    let mut env = orderbook_env(range(start, start + 3_000));
    env.queue_id = queue_id.clone();
    env.kafka_topic = format!("{queue_id}-data");
    let cfg = LoaderConfig {
        binance_base_url: common::simulator(Config::default()).await,
        wait_for_start: false,
        snapshot_interval_secs: Some("1".into()),
        depth_limit: Some("10".into()),
        ..LoaderConfig::default()
    };
    let Outcome::Finished(report) = worker::run(env.clone(), settings.clone(), cfg)
        .await
        .unwrap()
    else {
        panic!("not finished")
    };
    assert_eq!(
        (report.expected, report.produced, report.missing),
        (3, 3, 0),
        "{report:?}"
    );

    let mut records: Vec<(String, BookRecord)> =
        common::drain(&settings, &env.kafka_topic, &unique("r"), 3)
            .await
            .into_iter()
            .map(|(k, p)| {
                (
                    String::from_utf8(k).unwrap(),
                    serde_json::from_slice(&p).unwrap(),
                )
            })
            .collect();
    // Three partitions: put them back in time order.
    records.sort_by_key(|(_, r)| match r {
        BookRecord::Snapshot { time, .. } => *time,
        BookRecord::Diff { .. } => None,
    });
    let snaps = snapshots_of(&records);
    assert_eq!(snaps.len(), 3);
    for (n, (key, id, time, levels)) in snaps.iter().enumerate() {
        let point = start + n as i64 * 1_000;
        assert!((point..point + 1_000).contains(time), "{n}: {time}");
        assert_eq!(key, &format!("BTCUSDT|snapshot|{id}"));
        assert_eq!(*levels, 10);
    }
    assert!(snaps.windows(2).all(|w| w[0].1 < w[1].1), "{snaps:?}");

    let events = events_to_the_end(&settings, &settings.events_topic, &unique("e")).await;
    assert_eq!(events.first().unwrap().status, Some(EventStatus::Started));
    let last = events.last().unwrap();
    assert_eq!(last.status, Some(EventStatus::Finished));
    assert_eq!(last.records_written, Some(3));
    assert_eq!(last.extra["complete"], json!(true));
    assert_eq!(last.extra["completeness"]["expected"], json!(3));
    assert_eq!(last.extra["completeness"]["missing"], json!(0));
}
