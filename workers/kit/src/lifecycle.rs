//! One worker run, the same for every worker: open its clients, wait for this run's `start`,
//! do the work (the worker's own), then report how it ended and exit with the matching code.
//!
//! ```text
//!  open ──► wait_for_start ──► work ──► conclude
//!              │ stop first          │ Ok(Finished | Stopped) → final event, exit 0
//!              └──► Stopped          │ Err(Transient) → `retrying` (not final), exit 1
//!                                    │ Err(Permanent) → `error` (final), exit 2
//! ```
//!
//! The closing event is sent until the broker acknowledges it (or [`CLOSING_EVENT_DEADLINE`]
//! passes; then the worker exits 1 and its Job's retry reports again). A passing failure is
//! never final: the Queue fails only when its Job fails or a worker says retrying cannot help.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;
use streamforge_api::exit::{EXIT_OK, EXIT_PERMANENT, EXIT_TRANSIENT};
use streamforge_api::{Command, ControlCommand, EventStatus};
use tracing::{error, info, warn};

use crate::control::ControlListener;
use crate::telemetry::Reporter;
use crate::{KafkaSettings, WorkerEnv};

/// Longest time a worker keeps trying to deliver its closing event.
pub const CLOSING_EVENT_DEADLINE: Duration = Duration::from_secs(300);

/// Why a run could not go on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// Retrying may help (an outage, a timeout, a 5xx burst): the Job retries the pod.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help (bad configuration or input, refused): the Queue fails.
    #[error("{0}")]
    Permanent(String),
}

impl Failure {
    pub fn transient(e: impl std::fmt::Display) -> Self {
        Failure::Transient(e.to_string())
    }

    pub fn permanent(e: impl std::fmt::Display) -> Self {
        Failure::Permanent(e.to_string())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Transient(_) => EXIT_TRANSIENT,
            Failure::Permanent(_) => EXIT_PERMANENT,
        }
    }

    /// The status the worker reports: `retrying` (not final) or `error` (final).
    pub fn status(&self) -> EventStatus {
        match self {
            Failure::Transient(_) => EventStatus::Retrying,
            Failure::Permanent(_) => EventStatus::Error,
        }
    }
}

/// How a run ended well.
#[derive(Clone, Debug, PartialEq)]
pub enum Ending {
    Finished {
        records: Option<u64>,
        message: String,
        /// A JSON object of extra fields for the final event.
        extra: Option<Value>,
    },
    Stopped {
        records: Option<u64>,
        message: String,
    },
}

/// What came first on queue-control for this run.
#[derive(Clone, Debug, PartialEq)]
pub enum Start {
    Go(Box<ControlCommand>),
    /// The run was stopped before it started.
    Stopped,
}

/// The parts every worker run has: who it is, its telemetry and its commands.
pub struct WorkerRun {
    pub env: WorkerEnv,
    pub kafka: KafkaSettings,
    pub reporter: Reporter,
    pub control: ControlListener,
}

impl WorkerRun {
    /// Open the telemetry producer and the queue-control listener of `env`'s run.
    pub fn open(env: WorkerEnv, kafka: KafkaSettings) -> Result<Self, Failure> {
        let producer = kafka
            .producer(&env.telemetry_id)
            .map_err(Failure::permanent)?;
        let reporter = Reporter::new(producer, kafka.events_topic.clone(), env.clone());
        let consumer = kafka
            .consumer(&env.telemetry_id, &env.telemetry_id)
            .map_err(Failure::permanent)?;
        let control = ControlListener::new(
            consumer,
            &kafka.control_topic,
            &env.queue_id,
            &env.telemetry_id,
            env.run,
        )
        .map_err(Failure::transient)?;
        Ok(Self {
            env,
            kafka,
            reporter,
            control,
        })
    }

    /// Wait for this run's `start`; a `stop` first means the run was stopped before it started.
    /// No `start` within `timeout` is a passing failure: the operator may be catching up.
    pub async fn wait_for_start(&mut self, timeout: Duration) -> Result<Start, Failure> {
        match tokio::time::timeout(timeout, self.control.wait_for(Command::Start)).await {
            Ok(Some(Ok(cmd))) => {
                info!(command_id = %cmd.command_id, run = cmd.run, "start received");
                Ok(Start::Go(Box::new(cmd)))
            }
            Ok(Some(Err(other))) => {
                info!(
                    command = other.command.as_str(),
                    "run ended before it started"
                );
                Ok(Start::Stopped)
            }
            Ok(None) => Err(Failure::Transient("queue-control consumer ended".into())),
            Err(_) => Err(Failure::Transient(format!(
                "no start command within {}s",
                timeout.as_secs()
            ))),
        }
    }

    /// The next `stop` (or `drain`, for workers that take it) of this run; `None` when the
    /// listener ended.
    pub async fn next_command(&mut self) -> Option<ControlCommand> {
        self.control.next().await
    }
}

/// Report how the run ended and return the process exit code. The closing event is sent until
/// acknowledged; when it cannot be, the worker exits 1 so that its Job reports again.
pub async fn conclude(reporter: &Reporter, result: &Result<Ending, Failure>) -> u8 {
    let (event, code) = match result {
        Ok(Ending::Finished {
            records,
            message,
            extra,
        }) => {
            info!(records, %message, "finished");
            let mut e = reporter.event(EventStatus::Finished, message.clone());
            e.records_written = *records;
            e.progress = Some(1.0);
            if let Some(Value::Object(m)) = extra {
                e.extra.extend(m.clone());
            }
            (e, EXIT_OK)
        }
        Ok(Ending::Stopped { records, message }) => {
            info!(records, %message, "stopped");
            let mut e = reporter.event(EventStatus::Stopped, message.clone());
            e.records_written = *records;
            (e, EXIT_OK)
        }
        Err(f) => {
            match f {
                Failure::Transient(m) => warn!(reason = %m, "passing failure; exiting for a retry"),
                Failure::Permanent(m) => error!(reason = %m, "failed; retrying cannot help"),
            }
            (reporter.event(f.status(), f.to_string()), f.exit_code())
        }
    };
    match reporter
        .send_until_acknowledged(event, CLOSING_EVENT_DEADLINE)
        .await
    {
        Ok(()) => code,
        Err(e) => {
            error!(error = %e, "closing event not delivered; exiting for a retry");
            code.max(EXIT_TRANSIENT)
        }
    }
}

/// Report a failure that happened before the worker could open its run (bad environment):
/// nothing can be sent, so it is logged and becomes the exit code.
pub fn exit_before_run(f: &Failure) -> ExitCode {
    error!(reason = %f, "cannot start");
    ExitCode::from(f.exit_code())
}

/// What every worker binary does before its run: serve its metrics, then read the environment
/// the operator sets, the Kafka settings and the worker's own settings (`settings`, which sees
/// the environment). A failure here has no run to be reported on: it is logged and returned as
/// the exit code ([`exit_before_run`]).
pub fn prepare<T>(
    settings: impl FnOnce(&WorkerEnv) -> Result<T, Failure>,
) -> Result<(WorkerEnv, KafkaSettings, T), ExitCode> {
    let setup = || {
        crate::metrics_server::serve_worker_metrics().map_err(Failure::permanent)?;
        let env = WorkerEnv::from_env().map_err(Failure::permanent)?;
        let kafka = KafkaSettings::from_env().map_err(Failure::permanent)?;
        let own = settings(&env)?;
        Ok((env, kafka, own))
    };
    setup().map_err(|f| exit_before_run(&f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passing_failures_are_not_final_and_exit_1() {
        let f = Failure::transient("Kafka away");
        assert_eq!(f.exit_code(), 1);
        assert_eq!(f.status(), EventStatus::Retrying);
        assert!(!f.status().is_final());
    }

    #[test]
    fn permanent_failures_are_final_and_exit_2() {
        let f = Failure::permanent("BATCH_RECORDS=\"x\" is not a number");
        assert_eq!(f.exit_code(), 2);
        assert_eq!(f.status(), EventStatus::Error);
        assert!(f.status().is_final());
    }
}
