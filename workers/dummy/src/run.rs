//! The dummy worker's life: wait for `start`, report progress, end as its behaviour says.

use std::time::Duration;

use rdkafka::producer::FutureRecord;
use streamforge_api::{Command, EventStatus};
use streamforge_kit::control::ControlListener;
use streamforge_kit::telemetry::Reporter;
use streamforge_kit::{KafkaSettings, WorkerEnv};
use tracing::{info, warn};

use crate::behaviour::{Behaviour, records_for};

/// How the process should end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Finished or stopped: exit code 0.
    Done,
    /// A failure worth retrying (or a simulated crash): exit code 1.
    Retry,
    /// Retrying cannot help (bad type, simulated fatal error): exit code 2.
    Fatal,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Done => 0,
            Exit::Retry => 1,
            Exit::Fatal => 2,
        }
    }
}

/// Telemetry a broken worker might send; the operator must skip all of it.
const MALFORMED: [&str; 3] = [
    "this is not JSON",
    r#"{"queue_id": 42, "status": ["started"]}"#,
    r#"{"status": "loading", "records_written": "many"}"#,
];

pub async fn run(
    env: WorkerEnv,
    kafka: KafkaSettings,
    records: Option<u64>,
    start_timeout: Duration,
) -> anyhow::Result<Exit> {
    let producer = kafka.producer(&env.telemetry_id)?;
    let reporter = Reporter::new(producer.clone(), kafka.events_topic.clone(), env.clone());
    let behaviour = match Behaviour::parse(&env.data_type) {
        Ok(b) => b,
        Err(e) => {
            reporter
                .report(EventStatus::Error, e.to_string(), None, None)
                .await;
            return Ok(Exit::Fatal);
        }
    };
    let total = records.unwrap_or_else(|| records_for(env.time_range.as_ref()));
    let consumer = kafka.consumer(&env.telemetry_id, &env.telemetry_id)?;
    let mut control = ControlListener::new(
        consumer,
        &kafka.control_topic,
        &env.queue_id,
        &env.telemetry_id,
    )?;
    match tokio::time::timeout(start_timeout, control.wait_for(Command::Start)).await {
        Ok(Some(Ok(cmd))) => info!(command_id = %cmd.command_id, "start received"),
        Ok(Some(Err(_))) => {
            reporter
                .report(
                    EventStatus::Stopped,
                    "stopped before it started",
                    None,
                    None,
                )
                .await;
            return Ok(Exit::Done);
        }
        Ok(None) => return Ok(Exit::Retry),
        Err(_) => {
            reporter
                .report(
                    EventStatus::Error,
                    format!("no start command within {} s", start_timeout.as_secs()),
                    None,
                    None,
                )
                .await;
            return Ok(Exit::Retry);
        }
    }
    reporter
        .report(
            EventStatus::Started,
            format!("simulating {total} records"),
            Some(0),
            None,
        )
        .await;

    let garbage = |i: usize| {
        let producer = producer.clone();
        let topic = kafka.events_topic.clone();
        let key = env.queue_id.clone();
        async move {
            let payload = MALFORMED[i % MALFORMED.len()];
            if let Err((e, _)) = producer
                .send(
                    FutureRecord::to(&topic).key(&key).payload(payload),
                    Duration::from_secs(10),
                )
                .await
            {
                warn!(error = %e, "malformed telemetry not delivered");
            }
        }
    };

    let step = (total / 20).max(1);
    let mut done = 0u64;
    let mut stop_ignored = false;
    while done < total {
        let n = step.min(total - done);
        tokio::select! {
            _ = tokio::time::sleep(behaviour.step_time(n)) => {}
            cmd = control.wait_for(Command::Stop), if !stop_ignored => {
                if cmd.is_none() {
                    return Ok(Exit::Retry);
                }
                if behaviour.ignore_stop {
                    warn!("stop received and ignored, as this Queue's type asks");
                    stop_ignored = true;
                } else {
                    reporter
                        .report(EventStatus::Stopped, format!("stopped after {done} records"), Some(done), None)
                        .await;
                    return Ok(Exit::Done);
                }
            }
        }
        done += n;
        if done * 2 >= total && done < total {
            if behaviour.crash {
                warn!(done, "crashing half way, as this Queue's type asks");
                return Ok(Exit::Retry);
            }
            if behaviour.fatal {
                reporter
                    .report(
                        EventStatus::Error,
                        format!("simulated fatal error after {done} records"),
                        Some(done),
                        None,
                    )
                    .await;
                return Ok(Exit::Fatal);
            }
        }
        if behaviour.malformed {
            garbage(done as usize).await;
        }
        let mut event = reporter.event(EventStatus::Loading, format!("{done}/{total} records"));
        event.records_written = Some(done);
        event.progress = Some(done as f64 / total as f64);
        if let Err(e) = reporter.send(event).await {
            warn!(error = %e, "progress not delivered");
        }
    }
    reporter
        .report(
            EventStatus::Finished,
            format!("simulated {total} records"),
            Some(total),
            None,
        )
        .await;
    Ok(Exit::Done)
}
