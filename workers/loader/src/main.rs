//! `loader`: the StreamForge loader worker. Configuration comes from the environment the
//! operator sets (see `streamforge_api::env`) plus the loader's own settings
//! (`LoaderConfig::from_env`).

use std::process::ExitCode;

use streamforge_kit::{KafkaSettings, WorkerEnv};
use streamforge_loader::worker::{self, Failure, LoaderConfig, Outcome};

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rdkafka=warn"));
    let b = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json") {
        b.json().init();
    } else {
        b.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let setup = (|| {
        let env = WorkerEnv::from_env().map_err(|e| Failure::Permanent(e.to_string()))?;
        let kafka = KafkaSettings::from_env().map_err(|e| Failure::Permanent(e.to_string()))?;
        let cfg = LoaderConfig::from_env()?;
        Ok::<_, Failure>((env, kafka, cfg))
    })();
    let result = match setup {
        Ok((env, kafka, cfg)) => worker::run(env, kafka, cfg).await,
        Err(e) => Err(e),
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
