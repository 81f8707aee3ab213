//! The dummy worker's life on the kit's lifecycle: wait for this run's `start`, report
//! progress, end as its behaviour says.

use std::time::Duration;

use rdkafka::producer::FutureRecord;
use streamforge_api::exit::EXIT_TRANSIENT;
use streamforge_api::{Command, EventStatus};
use streamforge_kit::lifecycle::{self, Ending, Failure, Start, WorkerRun};
use streamforge_kit::{KafkaSettings, WorkerEnv};
use tracing::warn;

use crate::behaviour::{Behaviour, records_for};

/// Telemetry a broken worker might send; the operator must skip all of it.
const MALFORMED: [&str; 3] = [
    "this is not JSON",
    r#"{"queue_id": 42, "status": ["started"]}"#,
    r#"{"status": "loading", "records_written": "many"}"#,
];

/// How the simulated work ended: as a worker ends, or as a crashed process (no last word).
enum Outcome {
    Ended(Result<Ending, Failure>),
    Crashed,
}

/// Run the dummy worker; returns the process exit code.
pub async fn run(
    env: WorkerEnv,
    kafka: KafkaSettings,
    records: Option<u64>,
    start_timeout: Duration,
) -> u8 {
    let mut run = match WorkerRun::open(env, kafka) {
        Ok(r) => r,
        Err(f) => {
            warn!(reason = %f, "cannot open the run");
            return f.exit_code();
        }
    };
    let outcome = match Behaviour::parse(&run.env.data_type) {
        Err(e) => Outcome::Ended(Err(Failure::permanent(e))),
        Ok(behaviour) => match run.wait_for_start(start_timeout).await {
            Err(f) => Outcome::Ended(Err(f)),
            Ok(Start::Stopped) => Outcome::Ended(Ok(Ending::Stopped {
                records: None,
                message: "stopped before it started".into(),
            })),
            Ok(Start::Go(_)) => simulate(&mut run, behaviour, records).await,
        },
    };
    match outcome {
        Outcome::Ended(result) => lifecycle::conclude(&run.reporter, &result).await,
        Outcome::Crashed => EXIT_TRANSIENT,
    }
}

async fn simulate(run: &mut WorkerRun, behaviour: Behaviour, records: Option<u64>) -> Outcome {
    let total = records.unwrap_or_else(|| records_for(run.env.time_range.as_ref()));
    run.reporter
        .report(
            EventStatus::Started,
            format!("simulating {total} records"),
            Some(0),
            None,
        )
        .await;
    let step = (total / 20).max(1);
    let mut done = 0u64;
    let mut stop_ignored = false;
    while done < total {
        let n = step.min(total - done);
        tokio::select! {
            _ = tokio::time::sleep(behaviour.step_time(n)) => {}
            cmd = run.next_command(), if !stop_ignored => match cmd {
                None => return Outcome::Ended(Err(Failure::Transient("queue-control consumer ended".into()))),
                Some(c) if c.command != Command::Stop => {}
                Some(_) if behaviour.ignore_stop => {
                    warn!("stop received and ignored, as this Queue's type asks");
                    stop_ignored = true;
                }
                Some(_) => {
                    return Outcome::Ended(Ok(Ending::Stopped {
                        records: Some(done),
                        message: format!("stopped after {done} records"),
                    }));
                }
            }
        }
        done += n;
        if done * 2 >= total && done < total {
            if behaviour.crash {
                warn!(done, "crashing half way, as this Queue's type asks");
                return Outcome::Crashed;
            }
            if behaviour.fatal {
                return Outcome::Ended(Err(Failure::Permanent(format!(
                    "simulated fatal error after {done} records"
                ))));
            }
            if behaviour.transient {
                return Outcome::Ended(Err(Failure::Transient(format!(
                    "simulated passing failure after {done} records"
                ))));
            }
        }
        if behaviour.malformed {
            send_garbage(run, done as usize).await;
        }
        let mut event = run
            .reporter
            .event(EventStatus::Loading, format!("{done}/{total} records"));
        event.records_written = Some(done);
        event.progress = Some(done as f64 / total as f64);
        if let Err(e) = run.reporter.send(event).await {
            warn!(error = %e, "progress not delivered");
        }
    }
    Outcome::Ended(Ok(Ending::Finished {
        records: Some(total),
        message: format!("simulated {total} records"),
        extra: None,
    }))
}

async fn send_garbage(run: &WorkerRun, i: usize) {
    let Ok(producer) = run
        .kafka
        .producer(&format!("{}-garbage", run.env.telemetry_id))
    else {
        return;
    };
    let payload = MALFORMED[i % MALFORMED.len()];
    if let Err((e, _)) = producer
        .send(
            FutureRecord::to(&run.kafka.events_topic)
                .key(&run.env.queue_id)
                .payload(payload),
            Duration::from_secs(10),
        )
        .await
    {
        warn!(error = %e, "malformed telemetry not delivered");
    }
}
