//! `dummy-service`: see the crate documentation for what its Queue's type selects.
//!
//! Environment: the worker environment the operator sets, Kafka settings, and optionally
//! `DUMMY_RECORDS` (records to simulate) and `START_TIMEOUT_SECS` (default 600).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use streamforge_dummy::run::{Exit, run};
use streamforge_kit::{KafkaSettings, WorkerEnv};

fn number(name: &str) -> anyhow::Result<Option<u64>> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            Ok(Some(v.trim().parse().with_context(|| {
                format!("{name} must be a whole number, not {v:?}")
            })?))
        }
        _ => Ok(None),
    }
}

async fn main_inner() -> anyhow::Result<Exit> {
    let env = WorkerEnv::from_env().context("worker environment")?;
    let kafka = KafkaSettings::from_env().context("Kafka settings")?;
    let records = number("DUMMY_RECORDS")?;
    let timeout = Duration::from_secs(number("START_TIMEOUT_SECS")?.unwrap_or(600));
    run(env, kafka, records, timeout).await
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rdkafka=warn".into()),
        )
        .init();
    match main_inner().await {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "dummy-service failed");
            ExitCode::from(2)
        }
    }
}
