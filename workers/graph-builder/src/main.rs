//! `graph-builder`: stored candles into a graph (see the crate documentation and
//! `docs/graph-features.md`). Configuration: the worker environment the operator sets, Kafka
//! settings, and the builder's own (`streamforge_graph_builder::config`).

use std::process::ExitCode;

use streamforge_graph_builder::config::BuilderConfig;
use streamforge_graph_builder::worker::run;
use streamforge_kit::lifecycle::{Failure, exit_before_run};
use streamforge_kit::{KafkaSettings, WorkerEnv, logging, metrics_server};

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    if let Err(e) = metrics_server::serve_worker_metrics() {
        return exit_before_run(&Failure::permanent(e));
    }
    let setup = (|| {
        let env = WorkerEnv::from_env().map_err(Failure::permanent)?;
        let kafka = KafkaSettings::from_env().map_err(Failure::permanent)?;
        let cfg = BuilderConfig::from_env().map_err(Failure::permanent)?;
        Ok::<_, Failure>((env, kafka, cfg))
    })();
    match setup {
        Ok((env, kafka, cfg)) => ExitCode::from(run(env, kafka, cfg).await),
        Err(f) => exit_before_run(&f),
    }
}
