//! The graph-builder's run on the kit's lifecycle: wait for this run's `start`, then read the
//! candles, build the graph, write it to the lake (and ArangoDB), reporting progress; a `stop`
//! at any await point ends the run as stopped.
//!
//! ```text
//!  started ─► loading (progress 0 → 0.7, candles read) ─► build (0.8) ─► lake (0.9) ─► ArangoDB
//!          ─► finished: records_written = nodes, {nodes, edges, graph_name, graph_path, ...}
//! ```
//!
//! Failures: bad settings or data (no candles, a broken Parquet file, a graph with no nodes)
//! are permanent; an unreachable lake or ArangoDB is a passing failure the Job retries.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::ObjectStore;
use serde_json::{Value, json};
use streamforge_api::{Command, EventStatus};
use streamforge_arango::ArangoClient;
use streamforge_graph::{Graph, graph_prefix, write_graph};
use streamforge_kit::lifecycle::{self, Ending, Failure, Start, WorkerRun};
use streamforge_kit::{KafkaSettings, WorkerEnv};
use streamforge_sinks::lake::LakeLocation;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::build::{BuildSettings, build_graph};
use crate::candles::{CandleSet, SymbolCandles};
use crate::config::{BuilderConfig, GraphSource};
use crate::source::SourceError;
use crate::{arango_graph, arango_source, lake_source};

/// Least time between two `loading` events.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Where the work is, for `loading` events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub fraction: f64,
    /// Candle rows read so far.
    pub records: u64,
    pub message: String,
}

/// What a finished build made.
#[derive(Debug)]
pub struct Built {
    pub graph: Arc<Graph>,
    /// Candle rows read (repeats included).
    pub candles: u64,
    /// Where the graph lives: `s3://bucket/graphs/<name>/` or a local directory.
    pub graph_path: String,
    /// The ArangoDB named graph written, if any.
    pub arango_graph: Option<String>,
}

impl Built {
    pub fn ending(&self) -> Ending {
        let m = &self.graph.manifest;
        Ending::Finished {
            records: Some(m.node_count),
            message: format!(
                "graph {} built: {} nodes, {} edges from {} candles",
                m.graph_name, m.node_count, m.edge_count, self.candles
            ),
            extra: Some(json!({
                "nodes": m.node_count,
                "edges": m.edge_count,
                "graph_name": m.graph_name,
                "graph_path": self.graph_path,
                "candles": self.candles,
                "symbols": m.symbols,
                "arango_graph": self.arango_graph,
            })),
        }
    }
}

/// Run the graph-builder; returns the process exit code.
pub async fn run(env: WorkerEnv, kafka: KafkaSettings, cfg: BuilderConfig) -> u8 {
    let mut run = match WorkerRun::open(env, kafka) {
        Ok(r) => r,
        Err(f) => {
            warn!(reason = %f, "cannot open the run");
            return f.exit_code();
        }
    };
    let result = match run.wait_for_start(cfg.start_timeout).await {
        Err(f) => Err(f),
        Ok(Start::Stopped) => Ok(Ending::Stopped {
            records: None,
            message: "stopped before it started".into(),
        }),
        Ok(Start::Go(_)) => build_until_stopped(&mut run, &cfg).await,
    };
    lifecycle::conclude(&run.reporter, &result).await
}

async fn build_until_stopped(run: &mut WorkerRun, cfg: &BuilderConfig) -> Result<Ending, Failure> {
    let WorkerRun {
        reporter, control, ..
    } = run;
    reporter
        .report(
            EventStatus::Started,
            format!(
                "building graph {} of {} from {} candles ({})",
                cfg.graph_name,
                cfg.symbols.join(","),
                cfg.source_type,
                cfg.time_range
            ),
            Some(0),
            None,
        )
        .await;
    let (tx, mut rx) = watch::channel(Progress::default());
    let work = build_and_write(cfg, &tx);
    tokio::pin!(work);
    let mut last_report: Option<Instant> = None;
    loop {
        tokio::select! {
            r = &mut work => return r.map(|b| b.ending()),
            cmd = control.next() => match cmd {
                None => return Err(Failure::Transient("queue-control consumer ended".into())),
                Some(c) if c.command == Command::Stop => {
                    info!("stop received; the build ends here");
                    return Ok(Ending::Stopped { records: None, message: "stopped while building".into() });
                }
                Some(_) => {}
            },
            Ok(()) = rx.changed() => {
                if last_report.is_some_and(|t| t.elapsed() < PROGRESS_EVERY) {
                    continue;
                }
                last_report = Some(Instant::now());
                let p = rx.borrow_and_update().clone();
                let mut e = reporter.event(EventStatus::Loading, p.message);
                e.progress = Some(p.fraction);
                e.records_written = Some(p.records);
                if let Err(err) = reporter.send(e).await {
                    warn!(error = %err, "progress not delivered");
                }
            }
        }
    }
}

/// Where graph `name` lives in `lake`, for people: `s3://bucket/graphs/<name>/` or a directory.
pub fn graph_location(lake: &LakeLocation, name: &str) -> String {
    format!("{}/{}", lake.base(), graph_prefix(name))
}

/// The whole build without the run's Kafka side: read, build, write. `progress` gets where it
/// is.
pub async fn build_and_write(
    cfg: &BuilderConfig,
    progress: &watch::Sender<Progress>,
) -> Result<Built, Failure> {
    let lake = streamforge_sinks::lake::store::open(&cfg.lake).map_err(SourceError::from)?;
    lake.ensure_bucket().await.map_err(SourceError::from)?;
    let (start, end) = (
        cfg.time_range.start.timestamp_millis(),
        cfg.time_range.end.timestamp_millis(),
    );
    let arango = match &cfg.arango {
        Some(a) => Some(
            ArangoClient::new(&a.url, &a.db, &a.user, &a.password)
                .map_err(|e| Failure::Permanent(e.to_string()))?,
        ),
        None => None,
    };
    let (data, rows) = match (cfg.source, &arango) {
        (GraphSource::Arango, Some(client)) => {
            read_arango(cfg, client, start, end, progress).await?
        }
        _ => read_lake(cfg, &lake.store, start, end, progress).await?,
    };
    progress.send_replace(Progress {
        fraction: 0.7,
        records: rows,
        message: format!("{rows} candles read; building"),
    });

    let settings = BuildSettings {
        graph_name: cfg.graph_name.clone(),
        source_type: cfg.source_type.clone(),
        time_range: cfg.time_range.to_string(),
        interval_ms: cfg.interval.ms,
        correlation_window: cfg.correlation_window,
        correlation_threshold: cfg.correlation_threshold,
        label_horizon: cfg.label_horizon,
        features: crate::features::for_type(&cfg.data_type),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        extra_parameters: parameters(cfg),
    };
    let graph = tokio::task::spawn_blocking(move || build_graph(&settings, &data))
        .await
        .map_err(|e| Failure::Transient(format!("graph build task: {e}")))?
        .map_err(Failure::permanent)?;
    let m = &graph.manifest;
    info!(nodes = m.node_count, edges = m.edge_count, "graph built");
    progress.send_replace(Progress {
        fraction: 0.8,
        records: rows,
        message: format!("{} nodes, {} edges; writing", m.node_count, m.edge_count),
    });

    // Encoding a large graph takes seconds of CPU: in a task of its own, so this run's loop
    // still hears a `stop` and sends progress meanwhile.
    let graph = Arc::new(graph);
    let written = tokio::spawn({
        let (store, name, graph) = (lake.store.clone(), cfg.graph_name.clone(), graph.clone());
        async move { write_graph(&store, &name, &graph).await }
    })
    .await
    .map_err(|e| Failure::Transient(format!("graph write task: {e}")))?;
    written.map_err(|e| {
        if e.is_transient() {
            Failure::Transient(e.to_string())
        } else {
            Failure::Permanent(e.to_string())
        }
    })?;
    let graph_path = graph_location(&cfg.lake, &cfg.graph_name);
    info!(path = %graph_path, "graph written to the lake");
    let arango_graph = match &arango {
        None => None,
        Some(client) => {
            progress.send_replace(Progress {
                fraction: 0.9,
                records: rows,
                message: format!("written to {graph_path}; writing to ArangoDB"),
            });
            arango_graph::write(client, &cfg.graph_name, &graph)
                .await
                .map_err(|e| {
                    if e.is_transient() {
                        Failure::Transient(e.to_string())
                    } else {
                        Failure::Permanent(e.to_string())
                    }
                })?;
            Some(cfg.graph_name.clone())
        }
    };
    Ok(Built {
        graph,
        candles: rows,
        graph_path,
        arango_graph,
    })
}

/// The builder's own settings, for the manifest.
fn parameters(cfg: &BuilderConfig) -> BTreeMap<String, Value> {
    let mut p = BTreeMap::from([
        ("symbols".into(), json!(cfg.symbols)),
        ("type".into(), json!(cfg.data_type)),
        ("source_type".into(), json!(cfg.source_type)),
        ("time_range".into(), json!(cfg.time_range.to_string())),
        ("graph_source".into(), json!(cfg.source.as_str())),
    ]);
    match cfg.source {
        GraphSource::Lake => {
            p.insert("lake".into(), json!(cfg.lake.describe()));
            p.insert("lake_prefix".into(), json!(cfg.lake_prefix));
        }
        GraphSource::Arango => {
            p.insert("collection_name".into(), json!(cfg.collection_name));
        }
    }
    p
}

async fn read_lake(
    cfg: &BuilderConfig,
    store: &Arc<dyn ObjectStore>,
    start: i64,
    end: i64,
    progress: &watch::Sender<Progress>,
) -> Result<(Vec<SymbolCandles>, u64), Failure> {
    let mut plan = Vec::with_capacity(cfg.symbols.len());
    for symbol in &cfg.symbols {
        let dirs = lake_source::period_dirs(&cfg.lake_prefix, symbol, &cfg.source_type, start, end);
        let files = lake_source::list_files(store, &dirs).await?;
        plan.push((symbol, dirs, files));
    }
    let total: usize = plan.iter().map(|(_, _, f)| f.len()).sum();
    let (mut done, mut rows) = (0usize, 0u64);
    let mut out = Vec::with_capacity(plan.len());
    let mut missing = vec![];
    for (symbol, dirs, files) in plan {
        let set = lake_source::read_symbol(store, &files, start, end, |n| {
            rows += n as u64;
            done += 1;
            progress.send_replace(Progress {
                fraction: 0.7 * done as f64 / total.max(1) as f64,
                records: rows,
                message: format!("{done}/{total} lake files read"),
            });
        })
        .await?;
        if set.is_empty() {
            missing.push(format!(
                "{symbol}: {} file(s) under {}{}",
                files.len(),
                dirs.first().map(String::as_str).unwrap_or_default(),
                if dirs.len() > 1 {
                    format!(" … {}", dirs.last().map(String::as_str).unwrap_or_default())
                } else {
                    String::new()
                }
            ));
        }
        out.push(set.finish(symbol));
    }
    if !missing.is_empty() {
        return Err(Failure::Permanent(format!(
            "no {} candles in {} in the lake ({}): {}",
            cfg.source_type,
            cfg.time_range,
            cfg.lake.describe(),
            missing.join("; ")
        )));
    }
    Ok((out, rows))
}

async fn read_arango(
    cfg: &BuilderConfig,
    client: &ArangoClient,
    start: i64,
    end: i64,
    progress: &watch::Sender<Progress>,
) -> Result<(Vec<SymbolCandles>, u64), Failure> {
    let mut out = Vec::with_capacity(cfg.symbols.len());
    let mut rows = 0;
    let mut missing = vec![];
    for (i, symbol) in cfg.symbols.iter().enumerate() {
        let collection = cfg.collection_for(symbol).unwrap_or_default();
        let mut set = CandleSet::default();
        rows +=
            arango_source::read_symbol(client, &collection, symbol, start, end, &mut set).await?;
        if set.is_empty() {
            missing.push(format!("{symbol} in collection {collection}"));
        }
        out.push(set.finish(symbol));
        progress.send_replace(Progress {
            fraction: 0.7 * (i + 1) as f64 / cfg.symbols.len() as f64,
            records: rows,
            message: format!("{}/{} symbols read from ArangoDB", i + 1, cfg.symbols.len()),
        });
    }
    if !missing.is_empty() {
        let url = cfg
            .arango
            .as_ref()
            .map(|a| format!("{} database {}", a.url, a.db));
        return Err(Failure::Permanent(format!(
            "no {} candles in {} in ArangoDB ({}): {}",
            cfg.source_type,
            cfg.time_range,
            url.unwrap_or_default(),
            missing.join("; ")
        )));
    }
    Ok((out, rows))
}
