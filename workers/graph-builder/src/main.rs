//! `graph-builder`: stored candles into a graph (see the crate documentation and
//! `docs/graph-features.md`). Configuration: the worker environment the operator sets, Kafka
//! settings, and the builder's own (`streamforge_graph_builder::config`).

use std::process::ExitCode;

use streamforge_graph_builder::config::BuilderConfig;
use streamforge_graph_builder::worker::run;
use streamforge_kit::lifecycle::{Failure, prepare};
use streamforge_kit::logging;

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    match prepare(|_| BuilderConfig::from_env().map_err(Failure::permanent)) {
        Ok((env, kafka, cfg)) => ExitCode::from(run(env, kafka, cfg).await),
        Err(code) => code,
    }
}
