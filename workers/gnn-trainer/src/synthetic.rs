//! A synthetic graph in the graph format where the label needs the graph: `symbols × windows`
//! nodes, one feature `signal` and `noise` more, all independent N(0, 1); a node's `price_up`
//! is 1 when its temporal predecessor's (same symbol, previous window) `signal` is positive, and
//! `future_volatility` when that signal's magnitude is above N(0, 1)'s median. The first window
//! has no predecessor, so no labels. A graph-free model sees only noise (about 50 %); a GNN that
//! passes messages along temporal edges can reach 100 %.
//!
//! Used by the tests, `gnn-trainer --synthetic` (the GPU check and the PyTorch Geometric
//! comparison): a deterministic function of its arguments.

use std::collections::BTreeMap;

use streamforge_graph::{EdgeKind, EdgeTable, FORMAT, Graph, GraphManifest, NodeTable};

pub const START_MS: i64 = 1_722_470_400_000;
pub const INTERVAL_MS: i64 = 300_000;
/// The median of |N(0, 1)|.
const HALF_NORMAL_MEDIAN: f64 = 0.674_489_75;

/// splitmix64, and normal draws by Box–Muller: enough for test data, no dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The shape of a synthetic graph.
#[derive(Clone, Debug)]
pub struct Synthetic {
    pub symbols: usize,
    pub windows: usize,
    pub noise: usize,
    /// Cross-asset edges between every two symbols in each window, both ways.
    pub cross_asset: bool,
    pub seed: u64,
}

impl Synthetic {
    pub fn graph(&self, name: &str) -> Graph {
        let mut rng = Rng(self.seed);
        let (s_n, w_n) = (self.symbols.max(1), self.windows.max(1));
        let n = s_n * w_n;
        let mut feature_names = vec!["signal".to_owned()];
        feature_names.extend((1..=self.noise).map(|i| format!("noise_{i}")));
        let mut features: Vec<(String, Vec<f64>)> = feature_names
            .iter()
            .map(|f| (f.clone(), Vec::with_capacity(n)))
            .collect();
        let mut nodes = NodeTable::default();
        let mut up = Vec::with_capacity(n);
        let mut vol = Vec::with_capacity(n);
        let id = |s: usize, w: usize| s * w_n + w;
        for s in 0..s_n {
            for w in 0..w_n {
                nodes.node_id.push(id(s, w) as i64);
                nodes.symbol.push(format!("SYM{s}USDT"));
                nodes.window_start.push(START_MS + w as i64 * INTERVAL_MS);
                for (_, col) in features.iter_mut() {
                    col.push(rng.normal());
                }
            }
        }
        for s in 0..s_n {
            for w in 0..w_n {
                if w == 0 {
                    up.push(None);
                    vol.push(None);
                } else {
                    let prev = features[0].1[id(s, w - 1)];
                    up.push(Some(i64::from(prev > 0.0)));
                    vol.push(Some(i64::from(prev.abs() > HALF_NORMAL_MEDIAN)));
                }
            }
        }
        nodes.features = features;
        nodes.labels = vec![("price_up".into(), up), ("future_volatility".into(), vol)];
        let mut edges = EdgeTable::default();
        for s in 0..s_n {
            for w in 1..w_n {
                edges.push(
                    id(s, w - 1) as i64,
                    id(s, w) as i64,
                    EdgeKind::Temporal,
                    1.0,
                );
            }
        }
        if self.cross_asset {
            for w in 0..w_n {
                for a in 0..s_n {
                    for b in (0..s_n).filter(|&b| b != a) {
                        edges.push(id(a, w) as i64, id(b, w) as i64, EdgeKind::CrossAsset, 0.5);
                    }
                }
            }
        }
        let manifest = GraphManifest {
            format: FORMAT,
            graph_name: name.to_owned(),
            symbols: (0..s_n).map(|s| format!("SYM{s}USDT")).collect(),
            source_type: "synthetic".into(),
            time_range: format!("{}:{}", START_MS, START_MS + w_n as i64 * INTERVAL_MS),
            interval_ms: INTERVAL_MS,
            node_count: n as u64,
            edge_count: edges.len() as u64,
            features: feature_names,
            labels: vec!["price_up".into(), "future_volatility".into()],
            label_horizon: 1,
            parameters: BTreeMap::from([
                ("symbols".into(), s_n.into()),
                ("windows".into(), w_n.into()),
                ("noise".into(), self.noise.into()),
                ("cross_asset".into(), self.cross_asset.into()),
                ("seed".into(), self.seed.into()),
            ]),
            feature_definitions: BTreeMap::from([
                ("signal".into(), "N(0, 1), independent per node".into()),
                (
                    "price_up".into(),
                    "1 when the temporal predecessor's signal is > 0".into(),
                ),
                (
                    "future_volatility".into(),
                    "1 when |predecessor's signal| > 0.6745 (the median of |N(0,1)|)".into(),
                ),
            ]),
            created_at: "2024-08-01T00:00:00Z".into(),
            extra: BTreeMap::new(),
        };
        Graph {
            manifest,
            nodes,
            edges,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_graphs_are_valid_and_deterministic() {
        let s = Synthetic {
            symbols: 3,
            windows: 20,
            noise: 2,
            cross_asset: true,
            seed: 7,
        };
        let g = s.graph("synthetic");
        g.validate().unwrap();
        assert_eq!(g.nodes.len(), 60);
        assert_eq!(g.edges.len(), 3 * 19 + 20 * 6);
        assert_eq!(g, s.graph("synthetic"));
        let up = g.nodes.label("price_up").unwrap();
        let ones = up.iter().flatten().filter(|&&v| v == 1).count();
        assert!((20..=37).contains(&ones), "{ones} of 57");
    }
}
