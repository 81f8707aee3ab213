//! The generic loader's run, on the kit's lifecycle (`streamforge_kit::lifecycle`) as the
//! Binance loader's: wait for `start`, check the source, load (a file) or follow (a feed) into
//! the data topic while reporting, and end on completion, on `stop`, on SIGTERM or on an
//! error that says what went wrong: permanent (bad source, refused URL, unreadable file; exit
//! 2) or passing (Kafka, an outage; exit 1, the Job retries). The closing event is sent until
//! acknowledged.
//!
//! On `stop` what was sent is flushed (within [`FLUSH_GRACE`]) and the run ends `stopped`. On
//! SIGTERM without a `stop` the pod is going, not the Queue: a passing failure, and the Job's
//! next pod starts over: an upload first reads the keys its topic holds and sends only the
//! rest ([`crate::resume`]).

use std::time::Duration;

use serde_json::json;
use streamforge_api::exit::EXIT_OK;
use streamforge_api::{Command, EventStatus, GenericSource};
use streamforge_kit::control::ControlListener;
use streamforge_kit::lifecycle::{self, Ending, Start, WorkerRun};
use streamforge_kit::shutdown::{EndedBy, terminated, until_stopped};
use streamforge_kit::telemetry::Reporter;
use streamforge_kit::{KafkaSettings, WorkerEnv};
use streamforge_loader::historical::Progress;
use streamforge_loader::sink::{self, KafkaSink, RecordSink};
use tokio::sync::watch;
use tracing::{info, warn};

pub use streamforge_kit::lifecycle::Failure;
pub use streamforge_loader::worker::FLUSH_GRACE;

use crate::config::{self, ConfigError, GenericConfig, Plan, UploadPlan};
use crate::dlq::{self, KafkaDeadLetters};
use crate::feed::{Feed, FeedError, FeedReport};
use crate::fetch::{self, FetchError};
use crate::resume;
use crate::upload::{self, UploadError, UploadReport};

/// Longest the read-back of what the data topic holds may take.
pub const RESUME_READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a run ended on SIGTERM without a `stop`.
pub const TERMINATED: &str = "terminated by SIGTERM before the end; what was sent is flushed and the Job's next pod starts again";

/// How a run ended well.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// manual_upload loaded its file.
    Uploaded(UploadReport),
    /// json_feed reached TIME_RANGE's end.
    Fed(FeedReport),
    /// A `stop` came; the records written so far, when known.
    Stopped(Option<u64>),
}

impl From<FetchError> for Failure {
    fn from(e: FetchError) -> Self {
        if e.is_transient() {
            Failure::transient(e)
        } else {
            Failure::permanent(e)
        }
    }
}

impl From<UploadError> for Failure {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Decode(d) => Failure::permanent(d),
            UploadError::Sink(s) => Failure::transient(s),
        }
    }
}

impl From<FeedError> for Failure {
    fn from(e: FeedError) -> Self {
        match e {
            FeedError::Refused { .. } => Failure::permanent(e),
            FeedError::Sink(s) => Failure::transient(s),
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Run the generic loader for `env` and `source` until it finishes, is stopped, or fails.
/// Every ending is reported on queue-events before this returns, a source that could not be
/// read from the environment included.
pub async fn run(
    env: WorkerEnv,
    kafka: KafkaSettings,
    cfg: GenericConfig,
    source: Result<GenericSource, ConfigError>,
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
        Ok(false) => {
            work(
                &run.env,
                &run.kafka,
                &cfg,
                &source,
                &run.reporter,
                &mut run.control,
            )
            .await
        }
        Ok(true) => Ok(Outcome::Stopped(None)),
        Err(f) => Err(f),
    };
    let ending = match &result {
        Ok(Outcome::Uploaded(r)) => Ok(upload_ending(
            source.as_ref().map_or("", |s| s.url.as_str()),
            r,
        )),
        Ok(Outcome::Fed(r)) => Ok(Ending::Finished {
            records: Some(r.messages),
            message: format!(
                "feed ended at the end of the time range: {} messages, {} dead letters, {} reconnects",
                r.messages, r.dead_letters, r.reconnects
            ),
            extra: Some(json!({ "feed": r })),
        }),
        Ok(Outcome::Stopped(records)) => Ok(Ending::Stopped {
            records: *records,
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

fn upload_ending(url: &str, r: &UploadReport) -> Ending {
    let c = &r.completeness;
    let mut message = format!("loaded {} records from {url}", c.produced);
    if r.is_complete() {
        message.push_str(", complete");
    } else {
        message.push_str(&format!(
            "; {} of {} expected missing in the file",
            c.missing, c.expected
        ));
    }
    if r.dead_letters > 0 {
        message.push_str(&format!("; {} bad rows dead-lettered", r.dead_letters));
    }
    if r.out_of_range > 0 {
        message.push_str(&format!(
            "; {} rows outside the time range skipped",
            r.out_of_range
        ));
    }
    Ending::Finished {
        records: Some(c.produced),
        message,
        extra: Some(json!({
            "completeness": c,
            "complete": r.is_complete(),
            "position": c.last,
            "rows": r.rows,
            "dead_letters": r.dead_letters,
            "out_of_range": r.out_of_range,
            "series": r.series,
            "already_stored": r.already_stored,
        })),
    }
}

/// The next `stop` (or `drain`) of this run; false when the listener ended. Repeated starts
/// are ignored.
async fn stop_command(control: &mut ControlListener) -> bool {
    loop {
        match control.next().await {
            Some(cmd) if cmd.command == Command::Start => continue,
            Some(_) => return true,
            None => return false,
        }
    }
}

async fn work(
    env: &WorkerEnv,
    kafka: &KafkaSettings,
    cfg: &GenericConfig,
    source: &Result<GenericSource, ConfigError>,
    reporter: &Reporter,
    control: &mut ControlListener,
) -> Result<Outcome, Failure> {
    let source = source.as_ref().map_err(Failure::permanent)?;
    let plan = config::plan(&env.data_type, source, &env.symbol).map_err(Failure::permanent)?;
    reporter
        .report(
            EventStatus::Started,
            format!("{} from {}", env.data_type, source.url),
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
    .map_err(Failure::transient)?;
    let dlq_topic = dlq::ensure_topic(kafka, &env.kafka_topic)
        .await
        .map_err(Failure::transient)?;
    let producer = kafka
        .producer(&format!("{}-data", env.telemetry_id))
        .map_err(Failure::transient)?;
    let mut sink = KafkaSink::new(producer, env.kafka_topic.clone());
    let dlq_producer = kafka
        .producer(&format!("{}-dlq", env.telemetry_id))
        .map_err(Failure::transient)?;
    let mut letters = KafkaDeadLetters::new(dlq_producer, dlq_topic, env.telemetry_id.clone());

    let (tx, rx) = watch::channel(Progress::default());
    let ticker = tokio::spawn(streamforge_loader::progress::report(
        reporter.clone(),
        rx,
        cfg.telemetry_every,
        cfg.telemetry_every_records,
    ));
    let range = env
        .time_range
        .map(|r| (r.start.timestamp_millis(), r.end.timestamp_millis()));
    let outcome = match &plan {
        Plan::Upload(up) => {
            upload(
                up,
                cfg,
                kafka,
                &env.kafka_topic,
                range,
                &mut sink,
                &mut letters,
                &tx,
                control,
            )
            .await
        }
        Plan::Feed(feed_plan) => {
            let (stop_tx, stop_rx) = watch::channel(false);
            let job = Feed {
                plan: feed_plan,
                sink: &mut sink,
                letters: &mut letters,
                progress: &tx,
                stop: stop_rx,
                range,
                reporter: Some(reporter),
                keepalive: cfg.feed_keepalive,
            }
            .follow();
            let (result, ended_by) = until_stopped(job, stop_command(control), &stop_tx).await;
            match ended_by {
                EndedBy::ControlLost => warn!("queue-control consumer ended; the feed stopped"),
                EndedBy::Signal => info!("SIGTERM: the feed ended and flushed"),
                EndedBy::Stop | EndedBy::Itself => {}
            }
            match result {
                Ok(_) if ended_by == EndedBy::Signal => Err(Failure::Transient(TERMINATED.into())),
                Ok(r) if ended_by != EndedBy::Itself => {
                    info!(
                        messages = r.messages,
                        dead_letters = r.dead_letters,
                        "feed stopped"
                    );
                    Ok(Outcome::Stopped(Some(r.messages)))
                }
                Ok(r) => Ok(Outcome::Fed(r)),
                Err(e) => Err(Failure::from(e)),
            }
        }
    };
    ticker.abort();
    outcome
}

/// Fetch, decode and load the file; a `stop` or SIGTERM ends it, after a flush.
#[allow(clippy::too_many_arguments)]
async fn upload(
    plan: &UploadPlan,
    cfg: &GenericConfig,
    kafka: &KafkaSettings,
    topic: &str,
    range: Option<(i64, i64)>,
    sink: &mut KafkaSink,
    letters: &mut KafkaDeadLetters,
    progress: &watch::Sender<Progress>,
    control: &mut ControlListener,
) -> Result<Outcome, Failure> {
    let job = async {
        let bytes = fetch::fetch(
            &plan.location,
            &plan.url,
            cfg.s3.as_ref(),
            cfg.max_upload_bytes,
        )
        .await?;
        info!(url = %plan.url, bytes = bytes.len(), format = ?plan.format, "file fetched");
        // What a failed earlier pod of this upload stored is not sent again.
        let stored = {
            let (kafka, topic) = (kafka.clone(), topic.to_owned());
            tokio::task::spawn_blocking(move || {
                resume::stored_keys(&kafka, &topic, RESUME_READ_TIMEOUT)
            })
            .await
            .map_err(Failure::transient)?
            .map_err(Failure::transient)?
        };
        if !stored.is_empty() {
            info!(
                keys = stored.len(),
                "the data topic holds records already; they are not sent again"
            );
        }
        let decoded = upload::decode(plan.format, bytes, plan.mapping.clone());
        let to = upload::Target {
            sink,
            letters,
            stored,
            progress,
        };
        upload::load(&plan.url, decoded, range, now_ms(), to)
            .await
            .map_err(Failure::from)
    };
    let ended = tokio::select! {
        r = job => r.map(Outcome::Uploaded),
        cmd = stop_command(control) => {
            if cmd { Ok(Outcome::Stopped(None)) } else { Err(Failure::Transient("queue-control consumer ended".into())) }
        }
        () = terminated() => {
            info!("SIGTERM: flushing what was sent");
            Err(Failure::Transient(TERMINATED.into()))
        }
    };
    if !matches!(ended, Ok(Outcome::Uploaded(_))) {
        match tokio::time::timeout(FLUSH_GRACE, sink.flush()).await {
            Ok(Ok(())) => info!("every record sent was acknowledged"),
            Ok(Err(e)) => warn!(error = %e, "flushing on stop"),
            Err(_) => warn!("records still unacknowledged after {FLUSH_GRACE:?}"),
        }
    }
    ended
}
