//! The loader worker: wait for `start`, validate, load into the data topic while reporting, and
//! end on completion, on `stop`, or on an error that says what went wrong.
//!
//! It follows the kit's lifecycle (`streamforge_kit::lifecycle`): a passing failure is reported
//! as `retrying` and exits 1 for the Job to retry; a permanent one (bad input, banned) as `error`
//! with exit 2; the closing event is sent until acknowledged.

use std::time::Duration;

use serde_json::json;
use streamforge_api::env;
use streamforge_api::exit::EXIT_OK;
use streamforge_api::{Command, EventStatus};
use streamforge_kit::control::ControlListener;
use streamforge_kit::lifecycle::{self, Ending, Start, WorkerRun};
use streamforge_kit::shutdown::{EndedBy, terminated, until_stopped};
use streamforge_kit::telemetry::Reporter;
use streamforge_kit::{KafkaSettings, WorkerEnv};

pub use streamforge_kit::lifecycle::Failure;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::binance::limits::{DEFAULT_BUDGET_FRACTION, WEIGHT_LIMIT_1M};
use crate::binance::market::{self, MarketError};
use crate::binance::rest::{RestClient, RestError};
use crate::datatype::DataKind;
use crate::historical::{self, Completeness, LoadError, Progress};
use crate::live::{self, Live};
use crate::sink::{self, KafkaSink, RecordSink};
use crate::snapshots::{self, Schedule, Snapshots};

#[derive(Clone, Debug)]
pub struct LoaderConfig {
    pub binance_base_url: String,
    pub binance_ws_url: String,
    pub weight_budget: u32,
    pub telemetry_every_records: u64,
    pub telemetry_every: Duration,
    /// Wait for a `start` on queue-control before loading (the operator sends one).
    pub wait_for_start: bool,
    pub start_timeout: Duration,
    pub topic_partitions: i32,
    pub topic_replication: i32,
    pub topic_retention_ms: Option<i64>,
    /// Order books: a full snapshot record at least this often.
    pub book_snapshot_every: Duration,
    /// `api_orderbook`: `SNAPSHOT_INTERVAL_SECONDS` and `DEPTH_LIMIT` as the operator set them,
    /// checked when the type needs them ([`snapshots::Settings::parse`]).
    pub snapshot_interval_secs: Option<String>,
    pub depth_limit: Option<String>,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            binance_base_url: "https://api.binance.com".into(),
            binance_ws_url: "wss://stream.binance.com:9443".into(),
            weight_budget: (f64::from(WEIGHT_LIMIT_1M) * DEFAULT_BUDGET_FRACTION) as u32,
            telemetry_every_records: 10_000,
            telemetry_every: Duration::from_secs(5),
            wait_for_start: true,
            start_timeout: Duration::from_secs(600),
            topic_partitions: 3,
            topic_replication: 1,
            topic_retention_ms: None,
            book_snapshot_every: Duration::from_secs(60),
            snapshot_interval_secs: None,
            depth_limit: None,
        }
    }
}

impl LoaderConfig {
    /// Defaults overridden by `BINANCE_BASE_URL`, `BINANCE_WS_URL`, `WEIGHT_BUDGET`,
    /// `TELEMETRY_EVERY_RECORDS`, `TELEMETRY_EVERY_SECS`, `WAIT_FOR_START`, `START_TIMEOUT_SECS`,
    /// `TOPIC_PARTITIONS`, `TOPIC_REPLICATION`, `TOPIC_RETENTION_MS`, `BOOK_SNAPSHOT_EVERY_SECS`,
    /// and for `api_orderbook` `SNAPSHOT_INTERVAL_SECONDS` and `DEPTH_LIMIT`.
    pub fn from_env() -> Result<Self, Failure> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        fn num<T: std::str::FromStr>(k: &str, v: Option<String>, d: T) -> Result<T, Failure> {
            match v {
                None => Ok(d),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| Failure::Permanent(format!("{k}={v:?} is not a number"))),
            }
        }
        let d = Self::default();
        Ok(Self {
            binance_base_url: get("BINANCE_BASE_URL").unwrap_or(d.binance_base_url),
            binance_ws_url: get("BINANCE_WS_URL").unwrap_or(d.binance_ws_url),
            weight_budget: num("WEIGHT_BUDGET", get("WEIGHT_BUDGET"), d.weight_budget)?,
            telemetry_every_records: num(
                "TELEMETRY_EVERY_RECORDS",
                get("TELEMETRY_EVERY_RECORDS"),
                d.telemetry_every_records,
            )?,
            telemetry_every: Duration::from_secs(num(
                "TELEMETRY_EVERY_SECS",
                get("TELEMETRY_EVERY_SECS"),
                5u64,
            )?),
            wait_for_start: get("WAIT_FOR_START").is_none_or(|v| v != "false"),
            start_timeout: Duration::from_secs(num(
                "START_TIMEOUT_SECS",
                get("START_TIMEOUT_SECS"),
                600u64,
            )?),
            topic_partitions: num(
                "TOPIC_PARTITIONS",
                get("TOPIC_PARTITIONS"),
                d.topic_partitions,
            )?,
            topic_replication: num(
                "TOPIC_REPLICATION",
                get("TOPIC_REPLICATION"),
                d.topic_replication,
            )?,
            book_snapshot_every: Duration::from_secs(num(
                "BOOK_SNAPSHOT_EVERY_SECS",
                get("BOOK_SNAPSHOT_EVERY_SECS"),
                60u64,
            )?),
            topic_retention_ms: get("TOPIC_RETENTION_MS")
                .map(|v| num("TOPIC_RETENTION_MS", Some(v), 0i64))
                .transpose()?,
            snapshot_interval_secs: get(env::SNAPSHOT_INTERVAL_SECONDS),
            depth_limit: get(env::DEPTH_LIMIT),
        })
    }
}

impl From<LoadError> for Failure {
    fn from(e: LoadError) -> Self {
        match &e {
            LoadError::Market(MarketError::Rest(RestError::Banned { .. }))
            | LoadError::Market(MarketError::Rest(RestError::Api { .. }))
            | LoadError::Market(MarketError::UnknownSymbol(_))
            | LoadError::Market(MarketError::NotTrading { .. }) => {
                Failure::Permanent(e.to_string())
            }
            _ => Failure::Transient(e.to_string()),
        }
    }
}

/// How a run ended.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Finished(Completeness),
    Stopped,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Validate what can be checked before touching the exchange.
pub fn validate(env: &WorkerEnv) -> Result<DataKind, Failure> {
    let kind = DataKind::parse(&env.data_type).map_err(|e| Failure::Permanent(e.to_string()))?;
    if kind == DataKind::ApiOrderbook && env.time_range.is_none() {
        return Err(Failure::Permanent(format!(
            "{} needs TIME_RANGE: the snapshots are taken over it",
            env.data_type
        )));
    }
    if kind.is_historical() {
        let Some(range) = env.time_range else {
            return Err(Failure::Permanent(format!(
                "{} needs TIME_RANGE",
                env.data_type
            )));
        };
        if range.start.timestamp_millis() > now_ms() {
            return Err(Failure::Permanent(format!(
                "timeRange {range} starts in the future"
            )));
        }
    }
    Ok(kind)
}

/// `api_orderbook`: its settings and the snapshot times left in its range at `now`. Bad
/// settings and a range that is over are permanent: nothing would change on a retry.
pub fn plan_snapshots(
    env: &WorkerEnv,
    cfg: &LoaderConfig,
    now: i64,
) -> Result<(snapshots::Settings, Schedule), Failure> {
    let settings = snapshots::Settings::parse(
        cfg.snapshot_interval_secs.as_deref(),
        cfg.depth_limit.as_deref(),
    )
    .map_err(|e| Failure::Permanent(e.to_string()))?;
    let Some(range) = env.time_range else {
        return Err(Failure::Permanent(format!(
            "{} needs TIME_RANGE",
            env.data_type
        )));
    };
    let schedule = Schedule::plan(
        range.start.timestamp_millis(),
        range.end.timestamp_millis(),
        settings.interval_ms,
        now,
    )
    .map_err(|e| Failure::Permanent(format!("{} over timeRange {range}: {e}", env.data_type)))?;
    if settings.weight_per_minute() > u64::from(cfg.weight_budget) {
        warn!(
            weight_per_minute = settings.weight_per_minute(),
            budget = cfg.weight_budget,
            "these snapshots need more request weight than the budget allows; the loader will wait for the next window and report the grid points it misses"
        );
    }
    Ok((settings, schedule))
}

/// Run the loader for `env` until it finishes, is stopped, or fails. Every ending is reported on
/// queue-events before this returns (the closing event sent until acknowledged).
pub async fn run(
    env: WorkerEnv,
    kafka: KafkaSettings,
    cfg: LoaderConfig,
) -> Result<Outcome, Failure> {
    let mut run = WorkerRun::open(env, kafka)?;
    let stopped_before_start = if cfg.wait_for_start {
        run.wait_for_start(cfg.start_timeout)
            .await
            .map(|s| s == Start::Stopped)
    } else {
        Ok(false)
    };
    let result = match stopped_before_start {
        Ok(false) => load(&run.env, &run.kafka, &cfg, &run.reporter, &mut run.control).await,
        Ok(true) => Ok(Outcome::Stopped),
        Err(f) => Err(f),
    };
    let ending = match &result {
        Ok(Outcome::Finished(c)) => {
            let message = if c.is_complete() {
                format!("loaded {} records, complete", c.produced)
            } else {
                format!(
                    "loaded {} records; {} missing at the exchange",
                    c.produced, c.missing
                )
            };
            Ok(Ending::Finished {
                records: Some(c.produced),
                message,
                extra: Some(
                    json!({ "completeness": c, "complete": c.is_complete(), "position": c.last }),
                ),
            })
        }
        Ok(Outcome::Stopped) => Ok(Ending::Stopped {
            records: None,
            message: "stopped by command".into(),
        }),
        Err(f) => Err(f.clone()),
    };
    match lifecycle::conclude(&run.reporter, &ending).await {
        EXIT_OK => result,
        _ if result.is_err() => result,
        _ => Err(Failure::Transient(
            "the closing event was not acknowledged".into(),
        )),
    }
}

async fn load(
    env: &WorkerEnv,
    kafka: &KafkaSettings,
    cfg: &LoaderConfig,
    reporter: &Reporter,
    control: &mut ControlListener,
) -> Result<Outcome, Failure> {
    let kind = validate(env)?;
    // The snapshot times are those left when the run starts.
    let planned = if kind == DataKind::ApiOrderbook {
        Some(plan_snapshots(env, cfg, now_ms())?)
    } else {
        None
    };
    let rest = RestClient::new(&cfg.binance_base_url, cfg.weight_budget)
        .map_err(|e| Failure::Transient(e.to_string()))?;
    market::check_symbol(&rest, &env.symbol)
        .await
        .map_err(|e| Failure::from(LoadError::from(e)))?;
    reporter
        .report(
            EventStatus::Started,
            format!("loading {} {}", env.symbol, kind),
            Some(0),
            None,
        )
        .await;

    sink::ensure_topic(
        kafka,
        &env.kafka_topic,
        cfg.topic_partitions,
        cfg.topic_replication,
        cfg.topic_retention_ms,
    )
    .await
    .map_err(|e| Failure::Transient(e.to_string()))?;
    // Live streams start now; only historical loads continue after what the topic holds.
    let resumed = if kind.is_historical() {
        let topic = env.kafka_topic.clone();
        let kafka = kafka.clone();
        tokio::task::spawn_blocking(move || {
            sink::resume_point(&kafka, &topic, Duration::from_secs(30))
        })
        .await
        .map_err(|e| Failure::Transient(e.to_string()))?
        .map_err(|e| Failure::Transient(e.to_string()))?
    } else {
        sink::Resume::default()
    };
    let resume = resumed.after;
    if let Some(p) = resume {
        info!(
            position = p,
            already_stored_past_it = resumed.present.len(),
            "resuming after the position every partition of the topic reached"
        );
    }
    let producer = kafka
        .producer(&format!("{}-data", env.telemetry_id))
        .map_err(|e| Failure::Transient(e.to_string()))?;
    let mut kafka_sink = KafkaSink::new(producer, env.kafka_topic.clone());
    // What a previous run stored past the resume point is not sent again.
    let mut sink = sink::SkipPresent {
        inner: &mut kafka_sink,
        present: resumed.present,
        skipped: 0,
    };

    let (tx, rx) = watch::channel(Progress::default());
    let ticker = tokio::spawn(crate::progress::report(
        reporter.clone(),
        rx,
        cfg.telemetry_every,
        cfg.telemetry_every_records,
    ));
    let (start, end) = match env.time_range {
        Some(r) => (r.start.timestamp_millis(), r.end.timestamp_millis()),
        None => (now_ms(), i64::MAX),
    };
    let outcome = if kind.is_historical() {
        let job = async {
            match kind {
                DataKind::ApiCandles(interval) => {
                    historical::candles(
                        &rest,
                        &mut sink,
                        &env.symbol,
                        interval,
                        start,
                        end,
                        now_ms(),
                        resume,
                        &tx,
                    )
                    .await
                }
                _ => {
                    historical::trades(
                        &rest,
                        &mut sink,
                        &env.symbol,
                        start,
                        end,
                        now_ms(),
                        resume,
                        &tx,
                    )
                    .await
                }
            }
        };
        // Historical writes are keyed and resumable: stopping mid-page loses nothing, and what
        // was sent is flushed below before the pod goes.
        let ended = tokio::select! {
            r = job => r.map(Outcome::Finished).map_err(Failure::from),
            cmd = control.wait_for(Command::Stop) => {
                if cmd.is_some() { Ok(Outcome::Stopped) } else { Err(Failure::Transient("queue-control consumer ended".into())) }
            }
            () = terminated() => {
                info!("SIGTERM: flushing what was sent; the Job's next pod resumes after it");
                Err(Failure::Transient(TERMINATED.into()))
            }
        };
        if matches!(ended, Ok(Outcome::Stopped))
            || ended.as_ref().is_err_and(|f| f.to_string() == TERMINATED)
        {
            match tokio::time::timeout(FLUSH_GRACE, sink.flush()).await {
                Ok(Ok(())) => info!("every record sent was acknowledged"),
                Ok(Err(e)) => warn!(error = %e, "flushing on stop"),
                Err(_) => warn!(
                    "records still unacknowledged after {FLUSH_GRACE:?}; the next run resumes before them"
                ),
            }
        }
        ended
    } else {
        // Live streams and snapshot series end gracefully on stop: they flush and report what
        // they wrote.
        let (stop_tx, stop_rx) = watch::channel(false);
        let live = Live {
            rest: &rest,
            sink: &mut sink,
            ws_url: cfg.binance_ws_url.clone(),
            symbol: env.symbol.clone(),
            end_ms: end,
            progress: &tx,
            stop: stop_rx,
            rotate_after: crate::binance::ws::ROTATE_AFTER,
        };
        let job = async {
            match (kind, planned) {
                (DataKind::ApiOrderbook, Some((settings, schedule))) => {
                    snapshots::run(Snapshots {
                        rest: live.rest,
                        sink: live.sink,
                        symbol: live.symbol,
                        settings,
                        schedule,
                        progress: live.progress,
                        stop: live.stop,
                    })
                    .await
                }
                (DataKind::WsCandles(interval), _) => live::candles(live, interval).await,
                (DataKind::WsTrades, _) => live::trades(live).await,
                _ => live::orderbook(live, cfg.book_snapshot_every)
                    .await
                    .map(|(r, _)| r),
            }
        };
        let stop = async { control.wait_for(Command::Stop).await.is_some() };
        let (result, ended_by) = until_stopped(job, stop, &stop_tx).await;
        match ended_by {
            EndedBy::ControlLost => warn!("queue-control consumer ended; the stream stopped"),
            EndedBy::Signal => info!("SIGTERM: the stream ended and flushed"),
            EndedBy::Stop | EndedBy::Itself => {}
        }
        match result {
            Ok(_) if ended_by == EndedBy::Signal => Err(Failure::Transient(TERMINATED.into())),
            Ok(_) if ended_by != EndedBy::Itself => Ok(Outcome::Stopped),
            Ok(r) => Ok(Outcome::Finished(r)),
            Err(e) => Err(Failure::from(e)),
        }
    };
    ticker.abort();
    let stats = rest.stats();
    info!(
        requests = stats.requests,
        weight = stats.weight,
        throttled_429 = stats.throttled_429,
        waited_ms = stats.waited_ms,
        "REST usage"
    );
    outcome
}

/// Why a load ended on SIGTERM without a `stop`: the pod is going (deleted, evicted, a drained
/// node), not the Queue, so the run is not over: a passing failure, and the Job's next pod
/// resumes after what this one flushed. (On suspend the operator sends `stop` first.)
pub const TERMINATED: &str = "terminated by SIGTERM before the end; what was sent is flushed and the next pod resumes after it";

/// Longest a stopped historical load waits for its sends to be acknowledged: within the
/// pod's termination grace period (30 s by default), with room to report.
pub const FLUSH_GRACE: Duration = Duration::from_secs(20);
