//! `loader-generic`: the generic loader worker (`manual_upload`, `json_feed`). Configuration
//! comes from the environment the operator sets (`streamforge_api::env`, the Queue's source in
//! `SOURCE`) plus the worker's own settings (`GenericConfig::from_env`).

use std::process::ExitCode;

use streamforge_kit::lifecycle::prepare;
use streamforge_kit::logging;
use streamforge_loader_generic::config::{self, GenericConfig};
use streamforge_loader_generic::worker::{self, Failure, Outcome};

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    let (env, kafka, cfg) = match prepare(|_| GenericConfig::from_env().map_err(Failure::permanent))
    {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    // A missing or malformed source is the Queue's mistake: reported on queue-events.
    let source = config::source_from_lookup(|k| std::env::var(k).ok());
    match worker::run(env, kafka, cfg, source).await {
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
