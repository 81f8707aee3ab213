//! A small valid graph for tests on both sides of the format: `symbols` × `windows` nodes with
//! the features `return` and `volatility`, the labels `price_up` and `future_volatility` (null
//! in the last window), temporal edges and cross-asset edges both ways in every window.

use std::collections::BTreeMap;

use crate::model::{EdgeKind, EdgeTable, Graph, NodeTable};
use crate::{FORMAT, GraphManifest};

/// Start of the sample's first window: 2024-08-01 00:00 UTC.
pub const SAMPLE_START: i64 = 1_722_470_400_000;
/// The sample's window length: five minutes.
pub const SAMPLE_INTERVAL: i64 = 300_000;

pub fn sample_graph(name: &str, symbols: &[&str], windows: usize) -> Graph {
    let mut nodes = NodeTable {
        features: vec![("return".into(), vec![]), ("volatility".into(), vec![])],
        labels: vec![
            ("price_up".into(), vec![]),
            ("future_volatility".into(), vec![]),
        ],
        ..NodeTable::default()
    };
    let mut id = 0i64;
    for (s, sym) in symbols.iter().enumerate() {
        for w in 0..windows {
            nodes.node_id.push(id);
            nodes.symbol.push((*sym).to_owned());
            nodes
                .window_start
                .push(SAMPLE_START + w as i64 * SAMPLE_INTERVAL);
            let x = (id as f64 * 0.7).sin() / 100.0;
            nodes.features[0].1.push(x);
            nodes.features[1].1.push(x.abs() + 0.001 * (s + 1) as f64);
            let last = w + 1 == windows;
            nodes.labels[0].1.push((!last).then_some(id % 2));
            nodes.labels[1].1.push((!last).then_some((id / 2) % 2));
            id += 1;
        }
    }
    let mut edges = EdgeTable::default();
    let node = |s: usize, w: usize| (s * windows + w) as i64;
    for s in 0..symbols.len() {
        for w in 1..windows {
            edges.push(node(s, w - 1), node(s, w), EdgeKind::Temporal, 1.0);
        }
    }
    for w in 0..windows {
        for a in 0..symbols.len() {
            for b in 0..symbols.len() {
                if a != b {
                    edges.push(node(a, w), node(b, w), EdgeKind::CrossAsset, 0.8);
                }
            }
        }
    }
    let manifest = GraphManifest {
        format: FORMAT,
        graph_name: name.to_owned(),
        symbols: symbols.iter().map(|s| (*s).to_owned()).collect(),
        source_type: "api_candles_5m".into(),
        time_range: "2024-08-01:2024-08-02".into(),
        interval_ms: SAMPLE_INTERVAL,
        node_count: nodes.len() as u64,
        edge_count: edges.len() as u64,
        features: vec!["return".into(), "volatility".into()],
        labels: vec!["price_up".into(), "future_volatility".into()],
        label_horizon: 1,
        parameters: BTreeMap::from([("correlation_window".into(), 24.into())]),
        feature_definitions: BTreeMap::from([(
            "return".into(),
            "close / previous close - 1".into(),
        )]),
        created_at: "2024-08-02T00:00:00Z".into(),
        extra: BTreeMap::new(),
    };
    Graph {
        manifest,
        nodes,
        edges,
    }
}
