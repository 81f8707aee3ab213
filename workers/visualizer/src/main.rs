//! `visualizer [serve|report]`: the web UI, or one Queue's report (see the crate
//! documentation). Without an argument: `report` when the operator started it (`QUEUE_ID` is
//! set), else `serve`.

use std::process::ExitCode;

use streamforge_kit::lifecycle::{Failure, prepare};
use streamforge_kit::{KafkaSettings, logging};
use streamforge_visualizer::config::VisualizerConfig;
use streamforge_visualizer::run::{ReportConfig, run};
use streamforge_visualizer::server::serve;

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    let mode = std::env::args().nth(1).unwrap_or_else(|| {
        if std::env::var("QUEUE_ID").is_ok_and(|q| !q.trim().is_empty()) {
            "report".into()
        } else {
            "serve".into()
        }
    });
    match mode.as_str() {
        "serve" => {
            let setup = VisualizerConfig::from_env()
                .map_err(anyhow::Error::from)
                .and_then(|c| Ok((c, KafkaSettings::from_env()?)));
            let result = match setup {
                Ok((config, kafka)) => serve(config, kafka).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "visualizer stopped");
                    eprintln!("visualizer: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        "report" => {
            let setup = prepare(|env| {
                ReportConfig::from_lookup(env, |k| std::env::var(k).ok())
                    .map_err(Failure::Permanent)
            });
            match setup {
                Ok((env, kafka, cfg)) => ExitCode::from(run(env, kafka, cfg).await),
                Err(code) => code,
            }
        }
        other => {
            eprintln!("visualizer: unknown mode {other:?}; use `serve` or `report`");
            ExitCode::from(2)
        }
    }
}
