//! Candles → graph, pure: nodes with features and labels for every (symbol, window) past the
//! warm-up, temporal and cross-asset edges, and the manifest. No I/O; the worker reads the
//! candles and writes the result.
//!
//! Node ids run symbol by symbol (in the order given), then by time.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use streamforge_graph::{EdgeTable, FORMAT, Graph, GraphManifest, NodeTable};

use crate::candles::{SymbolCandles, contiguous_runs};
use crate::edges::{self, NONE};
use crate::features::{
    self, AVERAGE_WINDOW, FEATURES, MOMENTUM_LAG, RSI_PERIOD, VOLATILITY_WINDOW, WARM_UP,
};
use crate::labels::{self, LABELS};

/// What shapes the graph, besides the candles.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildSettings {
    pub graph_name: String,
    pub source_type: String,
    pub time_range: String,
    pub interval_ms: i64,
    /// Trailing windows of the cross-asset correlation.
    pub correlation_window: usize,
    /// Smallest |ρ| that joins two symbols.
    pub correlation_threshold: f64,
    /// Windows ahead the labels look.
    pub label_horizon: usize,
    /// The node features kept, in [`FEATURES`]' order ([`features::for_type`]); every one is
    /// computed, so a node exists for the same windows whichever are kept.
    pub features: &'static [&'static str],
    /// RFC 3339 time of the build.
    pub created_at: String,
    /// Further parameters to record in the manifest (where the candles came from).
    pub extra_parameters: BTreeMap<String, Value>,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum BuildError {
    #[error("no nodes: {0}")]
    NoNodes(String),
    #[error(
        "{symbol}'s candle at {open_time} is not on the {interval_ms} ms grid of the other candles (first at {t0})"
    )]
    OffGrid {
        symbol: String,
        open_time: i64,
        interval_ms: i64,
        t0: i64,
    },
}

/// One symbol's nodes before ids are given: slot, features (row-major), labels.
struct SymbolNodes {
    slots: Vec<usize>,
    features: Vec<Vec<f64>>,
    price_up: Vec<Option<i64>>,
    future_volatility: Vec<Option<f64>>,
    /// Simple return per slot, `NaN` where there is none.
    returns: Vec<f64>,
}

fn symbol_nodes(
    data: &SymbolCandles,
    t0: i64,
    slots: usize,
    s: &BuildSettings,
) -> Result<SymbolNodes, BuildError> {
    let slot_of = |t: i64| {
        let d = t - t0;
        if d % s.interval_ms == 0 {
            Ok((d / s.interval_ms) as usize)
        } else {
            Err(BuildError::OffGrid {
                symbol: data.symbol.clone(),
                open_time: t,
                interval_ms: s.interval_ms,
                t0,
            })
        }
    };
    let mut out = SymbolNodes {
        slots: vec![],
        features: vec![vec![]; FEATURES.len()],
        price_up: vec![],
        future_volatility: vec![],
        returns: vec![f64::NAN; slots],
    };
    for run in contiguous_runs(&data.candles, s.interval_ms) {
        let first = slot_of(run[0].open_time)?;
        let cols = features::run_features(run);
        let close: Vec<f64> = run.iter().map(|c| c.close).collect();
        let up = labels::price_up(&close, s.label_horizon);
        let fv = labels::future_volatility(&close, s.label_horizon);
        for (i, r) in cols[0].iter().enumerate() {
            out.returns[first + i] = *r;
        }
        for i in WARM_UP..run.len() {
            if cols.iter().any(|c| !c[i].is_finite()) {
                continue;
            }
            out.slots.push(first + i);
            for (f, c) in out.features.iter_mut().zip(&cols) {
                f.push(c[i]);
            }
            out.price_up.push(up[i]);
            out.future_volatility.push(fv[i]);
        }
    }
    Ok(out)
}

/// Build the graph of `data` (one entry per symbol, in the order the nodes should take).
pub fn build_graph(s: &BuildSettings, data: &[SymbolCandles]) -> Result<Graph, BuildError> {
    let times = data
        .iter()
        .flat_map(|d| d.candles.iter().map(|c| c.open_time));
    let (Some(t0), Some(t1)) = (times.clone().min(), times.max()) else {
        return Err(BuildError::NoNodes("no candles".into()));
    };
    let slots = ((t1 - t0) / s.interval_ms.max(1)) as usize + 1;
    // Symbol by symbol, each one's columns appended and dropped before the next is computed:
    // the peak holds one symbol's intermediate columns, not all of them.
    let capacity: usize = data.iter().map(|d| d.candles.len()).sum();
    let mut nodes = NodeTable {
        node_id: Vec::with_capacity(capacity),
        symbol: Vec::with_capacity(capacity),
        window_start: Vec::with_capacity(capacity),
        features: FEATURES
            .iter()
            .map(|f| (f.to_string(), Vec::with_capacity(capacity)))
            .collect(),
        labels: LABELS
            .iter()
            .map(|l| (l.to_string(), Vec::with_capacity(capacity)))
            .collect(),
    };
    let mut grids = Vec::with_capacity(data.len());
    let mut returns = Vec::with_capacity(data.len());
    for d in data {
        let sn = symbol_nodes(d, t0, slots, s)?;
        let mut grid = vec![NONE; slots];
        for &slot in &sn.slots {
            let id = nodes.node_id.len() as i64;
            grid[slot] = id;
            nodes.node_id.push(id);
            nodes.symbol.push(d.symbol.clone());
            nodes.window_start.push(t0 + slot as i64 * s.interval_ms);
        }
        for ((_, col), f) in nodes.features.iter_mut().zip(&sn.features) {
            col.extend_from_slice(f);
        }
        nodes.labels[0].1.extend_from_slice(&sn.price_up);
        let threshold = labels::median(&sn.future_volatility).unwrap_or(f64::INFINITY);
        nodes.labels[1]
            .1
            .extend(labels::above(&sn.future_volatility, threshold));
        grids.push(grid);
        returns.push(sn.returns);
    }
    if nodes.is_empty() {
        let counts: Vec<String> = data
            .iter()
            .map(|d| format!("{} {}", d.symbol, d.candles.len()))
            .collect();
        return Err(BuildError::NoNodes(format!(
            "every window is in the warm-up (a node needs {WARM_UP} earlier candles without a gap); candles per symbol: {}",
            counts.join(", ")
        )));
    }

    nodes
        .features
        .retain(|(name, _)| s.features.contains(&name.as_str()));

    let mut edges = EdgeTable::default();
    edges::temporal(&grids, &mut edges);
    edges::cross_asset(
        &grids,
        &returns,
        s.correlation_window,
        s.correlation_threshold,
        &mut edges,
    );
    Ok(Graph {
        manifest: manifest(s, data, &nodes, &edges),
        nodes,
        edges,
    })
}

fn manifest(
    s: &BuildSettings,
    data: &[SymbolCandles],
    nodes: &NodeTable,
    edges: &EdgeTable,
) -> GraphManifest {
    let mut parameters: BTreeMap<String, Value> = BTreeMap::from([
        ("correlation_window".into(), json!(s.correlation_window)),
        (
            "correlation_threshold".into(),
            json!(s.correlation_threshold),
        ),
        ("label_horizon".into(), json!(s.label_horizon)),
        ("warm_up".into(), json!(WARM_UP)),
        ("volatility_window".into(), json!(VOLATILITY_WINDOW)),
        ("rsi_period".into(), json!(RSI_PERIOD)),
        ("average_window".into(), json!(AVERAGE_WINDOW)),
        ("momentum_lag".into(), json!(MOMENTUM_LAG)),
    ]);
    parameters.extend(s.extra_parameters.clone());
    let mut definitions = features::definitions();
    definitions.retain(|name, _| s.features.contains(&name.as_str()));
    definitions.extend(labels::definitions(s.label_horizon));
    GraphManifest {
        format: FORMAT,
        graph_name: s.graph_name.clone(),
        symbols: data.iter().map(|d| d.symbol.clone()).collect(),
        source_type: s.source_type.clone(),
        time_range: s.time_range.clone(),
        interval_ms: s.interval_ms,
        node_count: nodes.len() as u64,
        edge_count: edges.len() as u64,
        features: nodes.features.iter().map(|(f, _)| f.clone()).collect(),
        labels: LABELS.iter().map(|l| l.to_string()).collect(),
        label_horizon: u32::try_from(s.label_horizon).unwrap_or(u32::MAX),
        parameters,
        feature_definitions: definitions,
        created_at: s.created_at.clone(),
        extra: BTreeMap::new(),
    }
}
