//! `loader-generic`: the generic loader worker (`manual_upload`, `json_feed`). Configuration
//! comes from the environment the operator sets (`streamforge_api::env`, the Queue's source in
//! `SOURCE`) plus the worker's own settings (`GenericConfig::from_env`).

use std::process::ExitCode;

use streamforge_kit::lifecycle::exit_before_run;
use streamforge_kit::{KafkaSettings, WorkerEnv, logging, metrics_server};
use streamforge_loader_generic::config::{self, GenericConfig};
use streamforge_loader_generic::worker::{self, Failure, Outcome};

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    if let Err(e) = metrics_server::serve_worker_metrics() {
        return exit_before_run(&Failure::permanent(e));
    }
    let setup = (|| {
        let env = WorkerEnv::from_env().map_err(Failure::permanent)?;
        let kafka = KafkaSettings::from_env().map_err(Failure::permanent)?;
        let cfg = GenericConfig::from_env().map_err(Failure::permanent)?;
        Ok::<_, Failure>((env, kafka, cfg))
    })();
    let result = match setup {
        Ok((env, kafka, cfg)) => {
            // A missing or malformed source is the Queue's mistake: reported on queue-events.
            let source = config::source_from_lookup(|k| std::env::var(k).ok());
            worker::run(env, kafka, cfg, source).await
        }
        Err(e) => return exit_before_run(&e),
    };
    match result {
        Ok(Outcome::Uploaded(r)) => {
            tracing::info!(
                produced = r.completeness.produced,
                missing = r.completeness.missing,
                dead_letters = r.dead_letters,
                "finished"
            );
            ExitCode::SUCCESS
        }
        Ok(Outcome::Fed(r)) => {
            tracing::info!(messages = r.messages, "finished");
            ExitCode::SUCCESS
        }
        Ok(Outcome::Stopped(_)) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "loader-generic failed");
            ExitCode::from(e.exit_code())
        }
    }
}
