//! `dummy-service`: see the crate documentation for what its Queue's type selects.
//!
//! Environment: the worker environment the operator sets, Kafka settings, and optionally
//! `DUMMY_RECORDS` (records to simulate) and `START_TIMEOUT_SECS` (default 600).

use std::process::ExitCode;
use std::time::Duration;

use streamforge_dummy::run::run;
use streamforge_kit::lifecycle::{Failure, prepare};
use streamforge_kit::logging;

fn number(name: &str) -> Result<Option<u64>, Failure> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            v.trim().parse().map(Some).map_err(|_| {
                Failure::Permanent(format!("{name} must be a whole number, not {v:?}"))
            })
        }
        _ => Ok(None),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    let setup = prepare(|_| {
        let records = number("DUMMY_RECORDS")?;
        let timeout = Duration::from_secs(number("START_TIMEOUT_SECS")?.unwrap_or(600));
        Ok((records, timeout))
    });
    match setup {
        Ok((env, kafka, (records, timeout))) => {
            ExitCode::from(run(env, kafka, records, timeout).await)
        }
        Err(code) => code,
    }
}
