//! `loader`: the StreamForge loader worker. Configuration comes from the environment the
//! operator sets (see `streamforge_api::env`) plus the loader's own settings
//! (`LoaderConfig::from_env`).

use std::process::ExitCode;

use streamforge_kit::lifecycle::prepare;
use streamforge_kit::logging;
use streamforge_loader::worker::{self, LoaderConfig, Outcome};

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    let (env, kafka, cfg) = match prepare(|_| LoaderConfig::from_env()) {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    match worker::run(env, kafka, cfg).await {
        Ok(Outcome::Finished(c)) => {
            tracing::info!(produced = c.produced, missing = c.missing, "finished");
            ExitCode::SUCCESS
        }
        Ok(Outcome::Stopped) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "loader failed");
            ExitCode::from(e.exit_code())
        }
    }
}
