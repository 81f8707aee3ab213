//! `gnn-trainer`: without arguments, the worker the operator runs (its settings from the
//! environment: `GRAPH_NAME`, `EPOCHS`, `MODEL_TYPE`, `FEATURES`, `LABEL`, `LOSS_FN`,
//! `LEARNING_RATE`, `HIDDEN_SIZE`, `DEVICE`, `SEED`, the lake's `MINIO_*` or `LAKE_DIR`, Kafka's
//! settings, `START_TIMEOUT_SECS` (default 600)). With arguments, the debug CLI (see `cli`).

mod cli;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use streamforge_gnn_trainer::config::TrainConfig;
use streamforge_gnn_trainer::worker;
use streamforge_kit::lifecycle::{Failure, prepare};
use streamforge_kit::logging;
use streamforge_sinks::lake::store::LakeLocation;

fn start_timeout() -> Result<Duration, Failure> {
    match std::env::var("START_TIMEOUT_SECS") {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map(Duration::from_secs).map_err(|_| {
            Failure::Permanent(format!(
                "START_TIMEOUT_SECS must be a whole number, not {v:?}"
            ))
        }),
        _ => Ok(Duration::from_secs(600)),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args_os().len() > 1 {
        let args = cli::Args::parse();
        return match cli::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gnn-trainer: {e:#}");
                ExitCode::from(streamforge_api::exit::EXIT_PERMANENT)
            }
        };
    }
    logging::init();
    let setup = prepare(|_| {
        let config =
            TrainConfig::from_lookup(|k| std::env::var(k).ok()).map_err(Failure::permanent)?;
        let lake =
            LakeLocation::from_lookup(|k| std::env::var(k).ok()).map_err(Failure::permanent)?;
        Ok((config, lake, start_timeout()?))
    });
    match setup {
        Ok((env, kafka, (config, lake, timeout))) => {
            ExitCode::from(worker::run(env, kafka, config, lake, timeout).await)
        }
        Err(code) => code,
    }
}
