//! The graph in memory: a manifest, a node table and an edge table, column by column (the shape
//! of the Parquet files and of the tensors a trainer builds from them).

use std::fmt;
use std::str::FromStr;

use crate::GraphManifest;

/// Why two nodes are joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeKind {
    /// A symbol's window to its next window (past → future only).
    Temporal,
    /// Two symbols in the same window whose recent returns are correlated.
    CrossAsset,
}

impl EdgeKind {
    pub const ALL: [EdgeKind; 2] = [EdgeKind::Temporal, EdgeKind::CrossAsset];

    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Temporal => "temporal",
            EdgeKind::CrossAsset => "cross_asset",
        }
    }
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EdgeKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EdgeKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown edge kind {s:?} (temporal, cross_asset)"))
    }
}

/// One row per node, ordered by `node_id` (dense `0..n`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeTable {
    pub node_id: Vec<i64>,
    pub symbol: Vec<String>,
    /// The window's open time, ms since the epoch.
    pub window_start: Vec<i64>,
    /// (name, one finite value per node), in the manifest's `features` order.
    pub features: Vec<(String, Vec<f64>)>,
    /// (name, 0/1 per node, `None` where the label's future lies outside the data), in the
    /// manifest's `labels` order.
    pub labels: Vec<(String, Vec<Option<i64>>)>,
}

impl NodeTable {
    pub fn len(&self) -> usize {
        self.node_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.node_id.is_empty()
    }

    pub fn feature(&self, name: &str) -> Option<&[f64]> {
        self.features
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    pub fn label(&self, name: &str) -> Option<&[Option<i64>]> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// One row per directed edge; messages flow from `src` to `dst`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EdgeTable {
    pub src: Vec<i64>,
    pub dst: Vec<i64>,
    pub kind: Vec<EdgeKind>,
    pub weight: Vec<f64>,
}

impl EdgeTable {
    pub fn len(&self) -> usize {
        self.src.len()
    }

    pub fn is_empty(&self) -> bool {
        self.src.is_empty()
    }

    pub fn push(&mut self, src: i64, dst: i64, kind: EdgeKind, weight: f64) {
        self.src.push(src);
        self.dst.push(dst);
        self.kind.push(kind);
        self.weight.push(weight);
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub manifest: GraphManifest,
    pub nodes: NodeTable,
    pub edges: EdgeTable,
}
