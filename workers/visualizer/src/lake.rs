//! What the visualizer reads from the lake: candles (history for the chart tabs), graphs
//! (graph-builder's `graphs/<name>/`) and models (gnn-trainer's `models/<graph>/<run>/`).

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;
use serde::Serialize;
use serde_json::Value;
use streamforge_graph_builder::candles::Candle;
use streamforge_graph_builder::lake_source;
use streamforge_graph_builder::source::SourceError;
use streamforge_sinks::lake::layout::{Grain, PartitionDir};
use streamforge_sinks::lake::store::classify;

use crate::api::ApiError;

const DAY_MS: i64 = 86_400_000;
/// Days shown when a request names no range: the last ones that hold data.
pub const DEFAULT_DAYS: i64 = 7;
/// Most candles one request returns (the latest of the range).
pub const MAX_CANDLES: usize = 50_000;

/// A candle as the charts take it: time in seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChartCandle {
    pub time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl From<&Candle> for ChartCandle {
    fn from(c: &Candle) -> Self {
        ChartCandle {
            time: c.open_time.div_euclid(1000),
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
            volume: c.volume,
        }
    }
}

fn source_error(e: SourceError) -> ApiError {
    match e {
        SourceError::Bad(m) => ApiError::bad_data(m),
        SourceError::Unavailable(m) => ApiError::unavailable(m),
    }
}

fn store_error(e: object_store::Error) -> ApiError {
    ApiError::unavailable(classify(e).to_string())
}

/// Names of the child directories of `prefix` (`a/b/` → `c` for `a/b/c/...`).
async fn children(store: &Arc<dyn ObjectStore>, prefix: &str) -> Result<Vec<String>, ApiError> {
    let listed = store.list_with_delimiter(Some(&Path::from(prefix))).await;
    match listed {
        Ok(l) => Ok(l
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_owned))
            .collect()),
        Err(object_store::Error::NotFound { .. }) => Ok(vec![]),
        Err(e) => Err(store_error(e)),
    }
}

fn join(prefix: &str, rest: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        rest.to_owned()
    } else {
        format!("{prefix}/{rest}")
    }
}

/// The last [`DEFAULT_DAYS`] days of `symbol`'s `data_type` candles that the lake holds, as
/// `[start, end)` ms ending after the latest candle; `None` when it holds none. The latest
/// period directory (a month for candles) is found by name and read for its latest candle.
pub async fn default_range(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
    symbol: &str,
    data_type: &str,
) -> Result<Option<(i64, i64)>, ApiError> {
    let dir = join(prefix, &format!("symbol={symbol}/type={data_type}"));
    let grain = Grain::of(data_type);
    let mut periods: Vec<i64> = children(store, &dir)
        .await?
        .iter()
        .filter_map(|d| grain.parse_segment(d))
        .collect();
    periods.sort_unstable();
    // The latest period with a candle in it (a directory can hold only files of other times
    // if they were written by hand; go back until one has).
    for &p in periods.iter().rev() {
        let Some((start, end)) =
            PartitionDir::in_period(symbol, data_type, grain, Some(p)).time_range()
        else {
            continue;
        };
        let dirs = lake_source::period_dirs(prefix, symbol, data_type, start, end);
        let files = lake_source::list_files(store, &dirs)
            .await
            .map_err(source_error)?;
        let set = lake_source::read_symbol(store, &files, start, end, |_| {})
            .await
            .map_err(source_error)?;
        if let Some(last) = set.finish(symbol).candles.last() {
            // The whole day of the latest candle, and the days before it.
            let end = (last.open_time.div_euclid(DAY_MS) + 1) * DAY_MS;
            return Ok(Some((end - DEFAULT_DAYS * DAY_MS, end)));
        }
    }
    Ok(None)
}

/// `symbol`'s candles opening in `[start, end)`, oldest first, at most [`MAX_CANDLES`] (the
/// latest).
pub async fn candles(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
    symbol: &str,
    data_type: &str,
    start: i64,
    end: i64,
) -> Result<Vec<Candle>, ApiError> {
    if end <= start {
        return Err(ApiError::bad_request(format!(
            "the range is empty: start {start} is not before end {end}"
        )));
    }
    if (end - start) / DAY_MS > 366 {
        return Err(ApiError::bad_request(
            "the range is longer than a year; ask for less".to_owned(),
        ));
    }
    let dirs = lake_source::period_dirs(prefix, symbol, data_type, start, end);
    let files = lake_source::list_files(store, &dirs)
        .await
        .map_err(source_error)?;
    let set = lake_source::read_symbol(store, &files, start, end, |_| {})
        .await
        .map_err(source_error)?;
    let mut all = set.finish(symbol).candles;
    if all.len() > MAX_CANDLES {
        all.drain(..all.len() - MAX_CANDLES);
    }
    Ok(all)
}

/// One graph as the Graph View lists it.
#[derive(Clone, Debug, Serialize)]
pub struct GraphEntry {
    pub name: String,
    pub node_count: u64,
    pub edge_count: u64,
    pub symbols: Vec<String>,
}

pub async fn graphs(store: &Arc<dyn ObjectStore>) -> Result<Vec<GraphEntry>, ApiError> {
    let mut out = vec![];
    for name in children(store, "graphs").await? {
        // A directory without a readable manifest is not a finished graph.
        if let Ok(m) = streamforge_graph::read_manifest(store, &name).await {
            out.push(GraphEntry {
                name,
                node_count: m.node_count,
                edge_count: m.edge_count,
                symbols: m.symbols,
            });
        }
    }
    Ok(out)
}

/// One model run as the GNN Output tab lists it.
#[derive(Clone, Debug, Serialize)]
pub struct ModelEntry {
    pub graph: String,
    pub run: String,
    pub path: String,
}

pub async fn models(store: &Arc<dyn ObjectStore>, base: &str) -> Result<Vec<ModelEntry>, ApiError> {
    let mut out = vec![];
    for graph in children(store, "models").await? {
        for run in children(store, &format!("models/{graph}")).await? {
            out.push(ModelEntry {
                path: format!("{base}/models/{graph}/{run}/"),
                graph: graph.clone(),
                run,
            });
        }
    }
    Ok(out)
}

/// A JSON file, `None` when it does not exist.
pub async fn json_file(
    store: &Arc<dyn ObjectStore>,
    path: &str,
) -> Result<Option<Value>, ApiError> {
    match store.get(&Path::from(path)).await {
        Ok(r) => {
            let bytes = r.bytes().await.map_err(store_error)?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| ApiError::bad_data(format!("{path}: not JSON: {e}")))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(store_error(e)),
    }
}
