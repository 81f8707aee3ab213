//! What every connector binary does around its storage: read the worker environment, serve
//! `/metrics`, report started and the closing event on queue-events (through the kit's
//! lifecycle), run the core loop, and map failures to exit codes (0 done or stopped, 1 a passing
//! failure reported as `retrying`, 2 refused or misconfigured: retrying cannot help).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use streamforge_api::EventStatus;
use streamforge_kit::kafka::ErrorLog;
use streamforge_kit::lifecycle::{self, Ending, Failure};
use streamforge_kit::telemetry::Reporter;
use streamforge_kit::{KafkaSettings, WorkerEnv, metrics_server, topics};

use crate::core::run::{RunConfig, RunError, Runner, SinkMetrics};
use crate::core::{Storage, StorageError, signals};

/// How often a sink that waits for its data topic looks for it.
pub const TOPIC_LOOK_EVERY: Duration = Duration::from_secs(1);
/// How often a sink reports `loading` with the records it stored (when the count moved).
pub const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Send `loading` with the records stored so far every `every` while the count moves, as the
/// seeds' telemetry has it, with the records held back (`held`, the lake's open directories)
/// while there are any, and say so while the store is away and writes are being retried;
/// never returns (the caller drops it when the run ends). A report that cannot be delivered is
/// logged and the next one tries again.
pub async fn report_progress(
    reporter: &Reporter,
    stored: &prometheus::IntCounter,
    retries: &prometheus::IntCounter,
    held: &prometheus::IntGauge,
    target: &str,
    every: Duration,
) -> std::convert::Infallible {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = (0, 0, 0);
    loop {
        tick.tick().await;
        let now = (stored.get(), retries.get(), held.get());
        if now == last {
            continue;
        }
        let (n, r, h) = now;
        let mut message = format!("{n} records stored in {target}");
        if h > 0 {
            message.push_str(&format!(
                ", {h} held back until their directory is complete"
            ));
        }
        if r > last.1 {
            message.push_str(&format!(
                "; {target} is unavailable, retrying ({r} retries so far)"
            ));
        }
        let mut e = reporter.event(EventStatus::Loading, message);
        e.records_written = Some(n);
        match reporter.send(e).await {
            Ok(()) => last = now,
            Err(err) => tracing::warn!(error = %err, "progress not delivered"),
        }
    }
}

/// An environment variable, or `default` when unset or blank.
pub fn var(k: &str, default: &str) -> String {
    std::env::var(k)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// A number from the environment, or `default`; anything else is a configuration error, which
/// retrying cannot mend.
pub fn number<T: std::str::FromStr>(k: &str, default: T) -> Result<T, Failure> {
    match std::env::var(k).ok().filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| Failure::Permanent(format!("{k}={v:?} is not a number"))),
    }
}

/// Batch settings a connector starts from; `BATCH_RECORDS` and `BATCH_WAIT_MS` override them.
#[derive(Clone, Copy, Debug)]
pub struct Defaults {
    pub batch_records: usize,
    pub batch_wait_ms: u64,
}

/// A storage failure as the lifecycle sees it.
pub fn storage_failure(e: &StorageError) -> Failure {
    if e.is_transient() {
        Failure::transient(e)
    } else {
        Failure::permanent(e)
    }
}

fn run_failure(e: &RunError) -> Failure {
    match e {
        RunError::Storage(s) => storage_failure(s),
        RunError::Kafka { .. } => Failure::transient(e),
    }
}

/// Run one connector to its end and return its exit code. `target` names where records go, for
/// the started event.
pub async fn run(
    env: WorkerEnv,
    kafka: KafkaSettings,
    storage: &mut dyn Storage,
    target: String,
    defaults: Defaults,
) -> ExitCode {
    let reporter = match kafka.producer(&env.telemetry_id) {
        Ok(p) => Reporter::new(p, kafka.events_topic.clone(), env.clone()),
        Err(e) => return lifecycle::exit_before_run(&Failure::permanent(e)),
    };
    let result = store(&env, &kafka, storage, &target, defaults, &reporter).await;
    ExitCode::from(lifecycle::conclude(&reporter, &result).await)
}

async fn store(
    env: &WorkerEnv,
    kafka: &KafkaSettings,
    storage: &mut dyn Storage,
    target: &str,
    defaults: Defaults,
    reporter: &Reporter,
) -> Result<Ending, Failure> {
    let mut cfg = RunConfig::new(&env.kafka_topic);
    cfg.connector_name = env.telemetry_id.clone();
    cfg.retry_give_up = Duration::from_secs(number("STORAGE_RETRY_LIMIT_SECS", 900)?);
    cfg.batch_records = number("BATCH_RECORDS", defaults.batch_records)?;
    cfg.batch_wait = Duration::from_millis(number("BATCH_WAIT_MS", defaults.batch_wait_ms)?);
    // librdkafka's `max.poll.interval.ms`; its default (300 s) when unset or 0. The core polls
    // through storage outages, so only a stuck process hits it.
    let max_poll_interval = match number("MAX_POLL_INTERVAL_MS", 0u64)? {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    };
    if cfg.batch_records == 0 {
        return Err(Failure::Permanent(
            "BATCH_RECORDS must be at least 1".into(),
        ));
    }
    let addr = metrics_server::address().map_err(Failure::permanent)?;
    let registry = metrics_server::registry();
    let metrics = SinkMetrics::new(&registry).map_err(Failure::permanent)?;
    metrics_server::install(&registry).map_err(Failure::permanent)?;
    metrics_server::serve(registry, addr);

    storage.prepare().await.map_err(|e| storage_failure(&e))?;
    reporter
        .report(
            EventStatus::Started,
            format!("storing {} into {target}", env.kafka_topic),
            Some(0),
            None,
        )
        .await;

    let signals = signals::watch(kafka, env).map_err(Failure::transient)?;
    // The operator makes the data topic before it creates the Jobs; one made by hand or by an
    // older operator may come later. A sink that starts first waits for it, however long, until
    // its run ends (the dead-letter topic copies its partitions, so it must exist first).
    let mut log = ErrorLog::default();
    let waited = Instant::now();
    loop {
        let exists = topics::topic_exists(kafka, &env.kafka_topic);
        if matches!(exists, Ok(true)) {
            break;
        }
        let s = *signals.borrow();
        if s.stop || s.producer_finished {
            return Ok(Ending::Stopped {
                records: Some(0),
                message: format!("{} never appeared; nothing to store", env.kafka_topic),
            });
        }
        if log.note(Instant::now()).is_some() {
            tracing::info!(
                topic = %env.kafka_topic,
                waited_s = waited.elapsed().as_secs(),
                error = exists.err().map(|e| e.to_string()),
                "waiting for the data topic to exist"
            );
        }
        tokio::time::sleep(TOPIC_LOOK_EVERY).await;
    }
    crate::core::run::dead_letter::ensure_topic(kafka, &env.kafka_topic, &cfg.dlq_topic)
        .await
        .map_err(Failure::Permanent)?;
    let consumer = kafka
        .consumer_reporting_ends_within(&env.telemetry_id, &env.telemetry_id, max_poll_interval)
        .map_err(Failure::permanent)?;
    let dlq = kafka
        .producer(&format!("{}-dlq", env.telemetry_id))
        .map_err(Failure::permanent)?;
    let (stored, retries, held) = (
        metrics.records_written.clone(),
        metrics.storage_retries.clone(),
        metrics.held.clone(),
    );
    let mut runner = Runner {
        consumer: &consumer,
        storage,
        dlq: &dlq,
        cfg,
        metrics,
    };
    let report = tokio::select! {
        r = runner.run(signals) => r.map_err(|e| run_failure(&e))?,
        never = report_progress(reporter, &stored, &retries, &held, target, PROGRESS_EVERY) => match never {},
    };
    let message = format!(
        "stored {} records in {} batches; {} dead letters",
        report.written, report.batches, report.dead_letters
    );
    Ok(if report.stopped {
        Ending::Stopped {
            records: Some(report.written),
            message,
        }
    } else {
        Ending::Finished {
            records: Some(report.written),
            message,
            extra: serde_json::to_value(&report).ok(),
        }
    })
}
