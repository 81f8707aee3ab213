//! What every graph must be, checked by the writer before it writes and by the reader before it
//! hands a graph out: ids dense, lengths equal, names as the manifest lists them, features
//! finite, labels 0/1 or null, edges in range, temporal edges within a symbol and forward in
//! time, cross-asset edges within a window.

use crate::model::{EdgeKind, Graph};
use crate::{FORMAT, GraphError, check_graph_name};

impl Graph {
    /// The first way this graph breaks the format, if any.
    pub fn validate(&self) -> Result<(), GraphError> {
        let m = &self.manifest;
        let bad = |msg: String| Err(GraphError::Invalid(msg));
        if m.format != FORMAT {
            return bad(format!("format {} (this reader knows {FORMAT})", m.format));
        }
        check_graph_name(&m.graph_name)?;
        if m.interval_ms <= 0 {
            return bad(format!("interval_ms {} is not positive", m.interval_ms));
        }
        let nodes = &self.nodes;
        let n = nodes.node_id.len();
        if m.node_count != n as u64 {
            return bad(format!(
                "manifest says {} nodes, table has {n}",
                m.node_count
            ));
        }
        if nodes.symbol.len() != n || nodes.window_start.len() != n {
            return bad(format!(
                "node columns differ in length: node_id {n}, symbol {}, window_start {}",
                nodes.symbol.len(),
                nodes.window_start.len()
            ));
        }
        if let Some(i) = (0..n).find(|&i| nodes.node_id[i] != i as i64) {
            return bad(format!(
                "node ids are not dense: row {i} has node_id {}",
                nodes.node_id[i]
            ));
        }
        let names: Vec<&str> = nodes.features.iter().map(|(f, _)| f.as_str()).collect();
        if names != m.features {
            return bad(format!(
                "feature columns {names:?} differ from the manifest's {:?}",
                m.features
            ));
        }
        let names: Vec<&str> = nodes.labels.iter().map(|(f, _)| f.as_str()).collect();
        if names != m.labels {
            return bad(format!(
                "label columns {names:?} differ from the manifest's {:?}",
                m.labels
            ));
        }
        for (name, values) in &nodes.features {
            if values.len() != n {
                return bad(format!(
                    "feature {name} has {} values for {n} nodes",
                    values.len()
                ));
            }
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return bad(format!("feature {name} of node {i} is {}", values[i]));
            }
        }
        for (name, values) in &nodes.labels {
            if values.len() != n {
                return bad(format!(
                    "label {name} has {} values for {n} nodes",
                    values.len()
                ));
            }
            if let Some(i) = values.iter().position(|v| !matches!(v, None | Some(0 | 1))) {
                return bad(format!(
                    "label {name} of node {i} is {:?}, not 0, 1 or null",
                    values[i]
                ));
            }
        }
        self.validate_edges()
    }

    fn validate_edges(&self) -> Result<(), GraphError> {
        let (nodes, e) = (&self.nodes, &self.edges);
        let bad = |msg: String| Err(GraphError::Invalid(msg));
        let count = e.src.len();
        if e.dst.len() != count || e.kind.len() != count || e.weight.len() != count {
            return bad(format!(
                "edge columns differ in length: src {count}, dst {}, kind {}, weight {}",
                e.dst.len(),
                e.kind.len(),
                e.weight.len()
            ));
        }
        if self.manifest.edge_count != count as u64 {
            return bad(format!(
                "manifest says {} edges, table has {count}",
                self.manifest.edge_count
            ));
        }
        let n = nodes.node_id.len() as i64;
        for i in 0..count {
            let (s, d) = (e.src[i], e.dst[i]);
            if !(0..n).contains(&s) || !(0..n).contains(&d) {
                return bad(format!("edge {i} ({s} → {d}) leaves the {n} nodes"));
            }
            if !e.weight[i].is_finite() {
                return bad(format!("edge {i} has weight {}", e.weight[i]));
            }
            let (s, d) = (s as usize, d as usize);
            let same_symbol = nodes.symbol[s] == nodes.symbol[d];
            let (ts, td) = (nodes.window_start[s], nodes.window_start[d]);
            match e.kind[i] {
                EdgeKind::Temporal if !same_symbol => {
                    return bad(format!("temporal edge {i} ({s} → {d}) joins two symbols"));
                }
                EdgeKind::Temporal if td <= ts => {
                    return bad(format!(
                        "temporal edge {i} ({s} → {d}) goes back in time ({ts} → {td})"
                    ));
                }
                EdgeKind::CrossAsset if same_symbol || ts != td => {
                    return bad(format!(
                        "cross-asset edge {i} ({s} → {d}) does not join two symbols in one window"
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
