//! The visualizer as a Queue target: on the kit's lifecycle, wait for this run's `start`,
//! render the report the Queue's `type` names, write it to `outputPath`, and finish with
//! `output_path` (which the operator folds into the Queue's `status.outputPath`).
//!
//! ```text
//!  started ─► read (lake: candles or a graph) ─► render HTML ─► write ─► finished {output_path}
//! ```
//!
//! Settings beyond the worker environment: `OUTPUT_TYPE` (`html`, the only one), `OUTPUT_PATH`
//! (see [`crate::output`]), `SOURCE_TYPE` (the candles of `candles_indicators`, default
//! `api_candles_1m`), `GRAPH_NAME` (or `COLLECTION_NAME`, the seed's field) for `plot_graph`,
//! the lake (`MINIO_*`, `LAKE_DIR`, `LAKE_PREFIX`), `START_TIMEOUT_SECS`.

use std::time::Duration;

use serde_json::json;
use streamforge_api::{Command, EventStatus, env};
use streamforge_kit::lifecycle::{self, Ending, Failure, Start, WorkerRun};
use streamforge_kit::{KafkaSettings, WorkerEnv};
use streamforge_sinks::lake::LakeLocation;
use tracing::info;

use crate::api::ApiError;
use crate::output::Output;
use crate::report;

/// Most graph nodes a `plot_graph` report draws.
pub const REPORT_NODES: usize = 600;

#[derive(Clone, Debug, PartialEq)]
pub struct ReportConfig {
    pub output: Output,
    pub source_type: String,
    pub graph_name: Option<String>,
    pub lake: LakeLocation,
    pub lake_prefix: String,
    pub start_timeout: Duration,
}

impl ReportConfig {
    pub fn from_lookup(
        worker: &WorkerEnv,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let opt = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if let Some(t) = opt(env::OUTPUT_TYPE).filter(|t| !t.eq_ignore_ascii_case("html")) {
            return Err(format!(
                "OUTPUT_TYPE {t:?}: the visualizer renders html only"
            ));
        }
        if !report::TYPES.contains(&worker.data_type.as_str()) {
            return Err(format!(
                "type {:?} is not a report the visualizer renders; one of {}",
                worker.data_type,
                report::TYPES.join(", ")
            ));
        }
        let graph_name = opt(env::GRAPH_NAME).or_else(|| opt(env::COLLECTION_NAME));
        if worker.data_type == "plot_graph" {
            match &graph_name {
                None => {
                    return Err("plot_graph needs graphName (GRAPH_NAME) or collectionName".into());
                }
                Some(g) => streamforge_graph::check_graph_name(g).map_err(|e| e.to_string())?,
            }
        }
        let start_timeout = match opt("START_TIMEOUT_SECS") {
            None => Duration::from_secs(600),
            Some(s) => Duration::from_secs(
                s.parse()
                    .map_err(|_| format!("START_TIMEOUT_SECS {s:?} is not a number of seconds"))?,
            ),
        };
        Ok(ReportConfig {
            output: Output::parse(opt(env::OUTPUT_PATH).as_deref(), &worker.queue_id)?,
            source_type: opt(env::SOURCE_TYPE).unwrap_or_else(|| "api_candles_1m".into()),
            graph_name,
            lake: LakeLocation::from_lookup(&get).map_err(|e| e.to_string())?,
            lake_prefix: opt(crate::config::LAKE_PREFIX).unwrap_or_default(),
            start_timeout,
        })
    }
}

fn api_failure(e: ApiError) -> Failure {
    if e.status == warp::http::StatusCode::SERVICE_UNAVAILABLE {
        Failure::Transient(e.message)
    } else {
        Failure::Permanent(e.message)
    }
}

/// Render the report `worker` asks for; returns the HTML and how many records it shows.
pub async fn render(worker: &WorkerEnv, cfg: &ReportConfig) -> Result<(String, u64), Failure> {
    let opened = streamforge_sinks::lake::store::open(&cfg.lake)
        .map_err(|e| Failure::Permanent(format!("{}: {e}", cfg.lake.describe())))?;
    let store = opened.store;
    match worker.data_type.as_str() {
        "plot_graph" => {
            let name = cfg.graph_name.clone().unwrap_or_default();
            let g = streamforge_graph::read_graph(&store, &name)
                .await
                .map_err(|e| {
                    if e.is_transient() {
                        Failure::Transient(format!("graph {name}: {e}"))
                    } else {
                        Failure::Permanent(format!("graph {name}: {e}"))
                    }
                })?;
            let n = g.manifest.node_count;
            Ok((report::plot_graph(&g, REPORT_NODES), n))
        }
        _ => {
            let symbol = worker.symbol.to_uppercase();
            let (range, shown) = match &worker.time_range {
                Some(r) => (
                    Some((r.start.timestamp_millis(), r.end.timestamp_millis())),
                    r.to_string(),
                ),
                None => {
                    let r = crate::lake::default_range(
                        &store,
                        &cfg.lake_prefix,
                        &symbol,
                        &cfg.source_type,
                    )
                    .await
                    .map_err(api_failure)?;
                    (
                        r,
                        format!("the last {} days stored", crate::lake::DEFAULT_DAYS),
                    )
                }
            };
            let candles = match range {
                None => vec![],
                Some((start, end)) => crate::lake::candles(
                    &store,
                    &cfg.lake_prefix,
                    &symbol,
                    &cfg.source_type,
                    start,
                    end,
                )
                .await
                .map_err(api_failure)?,
            };
            if candles.is_empty() {
                return Err(Failure::Permanent(format!(
                    "no {} candles of {symbol} in {shown} in the lake ({})",
                    cfg.source_type,
                    cfg.lake.describe()
                )));
            }
            let n = candles.len() as u64;
            Ok((
                report::candles_indicators(&symbol, &cfg.source_type, &shown, &candles),
                n,
            ))
        }
    }
}

/// Run one report; returns the exit code.
pub async fn run(env: WorkerEnv, kafka: KafkaSettings, cfg: ReportConfig) -> u8 {
    let mut run = match WorkerRun::open(env, kafka) {
        Ok(r) => r,
        Err(f) => return f.exit_code(),
    };
    let result = match run.wait_for_start(cfg.start_timeout).await {
        Err(f) => Err(f),
        Ok(Start::Stopped) => Ok(Ending::Stopped {
            records: None,
            message: "stopped before it started".into(),
        }),
        Ok(Start::Go(_)) => report_until_stopped(&mut run, &cfg).await,
    };
    lifecycle::conclude(&run.reporter, &result).await
}

async fn report_until_stopped(run: &mut WorkerRun, cfg: &ReportConfig) -> Result<Ending, Failure> {
    let WorkerRun {
        env,
        reporter,
        control,
        ..
    } = run;
    reporter
        .report(
            EventStatus::Started,
            format!("rendering the {} report", env.data_type),
            Some(0),
            None,
        )
        .await;
    let work = async {
        let (html, records) = render(env, cfg).await?;
        let path = cfg.output.write(&cfg.lake, html).await?;
        info!(%path, "report written");
        Ok::<_, Failure>((path, records))
    };
    tokio::pin!(work);
    loop {
        tokio::select! {
            r = &mut work => {
                let (path, records) = r?;
                return Ok(Ending::Finished {
                    records: Some(records),
                    message: format!("{} report written to {path}", env.data_type),
                    extra: Some(json!({"output_path": path, "output_type": "html"})),
                });
            }
            cmd = control.next() => match cmd {
                None => return Err(Failure::Transient("queue-control consumer ended".into())),
                Some(c) if c.command == Command::Stop => {
                    return Ok(Ending::Stopped { records: None, message: "stopped while rendering".into() });
                }
                Some(_) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamforge_kit::testing::env_lookup;

    fn worker(t: &str) -> WorkerEnv {
        WorkerEnv::from_lookup(env_lookup(&[
            ("QUEUE_ID", "visual-btcusdt-x"),
            ("TELEMETRY_PRODUCER_ID", "visualizer__x"),
            ("SYMBOL", "BTCUSDT"),
            ("TYPE", t),
            ("KAFKA_TOPIC", "visual-x"),
        ]))
        .unwrap()
    }

    #[test]
    fn settings_are_checked_before_any_work() {
        let ok = ReportConfig::from_lookup(&worker("candles_indicators"), env_lookup(&[])).unwrap();
        assert_eq!(ok.source_type, "api_candles_1m");
        assert_eq!(
            ok.output,
            Output::Lake {
                key: "visuals/visual-btcusdt-x/index.html".into()
            }
        );
        let e = ReportConfig::from_lookup(&worker("plot_graph"), env_lookup(&[])).unwrap_err();
        assert!(e.contains("graphName"), "{e}");
        let g = ReportConfig::from_lookup(
            &worker("plot_graph"),
            env_lookup(&[("COLLECTION_NAME", "btc_graph_5m")]),
        )
        .unwrap();
        assert_eq!(g.graph_name.as_deref(), Some("btc_graph_5m"));
        let e = ReportConfig::from_lookup(&worker("heatmap_pdf"), env_lookup(&[])).unwrap_err();
        assert!(e.contains("candles_indicators, plot_graph"), "{e}");
        let e = ReportConfig::from_lookup(
            &worker("candles_indicators"),
            env_lookup(&[("OUTPUT_TYPE", "png")]),
        )
        .unwrap_err();
        assert!(e.contains("html only"), "{e}");
    }
}
