//! `loader`: the StreamForge loader worker. Configuration comes from the environment the
//! operator sets (see `streamforge_api::env`) plus the loader's own settings
//! (`LoaderConfig::from_env`).

use std::process::ExitCode;

use streamforge_kit::lifecycle::exit_before_run;
use streamforge_kit::{KafkaSettings, WorkerEnv, logging, metrics_server};
use streamforge_loader::worker::{self, Failure, LoaderConfig, Outcome};

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    if let Err(e) = metrics_server::serve_worker_metrics() {
        return exit_before_run(&Failure::permanent(e));
    }
    let setup = (|| {
        let env = WorkerEnv::from_env().map_err(|e| Failure::Permanent(e.to_string()))?;
        let kafka = KafkaSettings::from_env().map_err(|e| Failure::Permanent(e.to_string()))?;
        let cfg = LoaderConfig::from_env()?;
        Ok::<_, Failure>((env, kafka, cfg))
    })();
    let result = match setup {
        Ok((env, kafka, cfg)) => worker::run(env, kafka, cfg).await,
        Err(e) => return exit_before_run(&e),
    };
    match result {
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
