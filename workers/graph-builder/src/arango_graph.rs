//! The graph as an ArangoDB named graph `<graph_name>`: vertices in `<graph_name>_nodes`, edges
//! in `<graph_name>_edges` (`_from`/`_to`), keys made from what a node is (symbol and window),
//! not from its id, so the same window keeps its document across builds.
//!
//! Both collections are emptied first and then written in batches of [`WRITE_BATCH`]
//! (`overwriteMode=replace`): a rerun gives exactly the new graph, never a mix with the old one.

use std::ops::Range;

use serde_json::{Map, Value, json};
use streamforge_arango::key::arango_key;
use streamforge_arango::{ArangoClient, ArangoError};
use streamforge_graph::Graph;

/// Documents per request.
pub const WRITE_BATCH: usize = 5_000;

pub fn vertex_collection(graph_name: &str) -> String {
    format!("{graph_name}_nodes")
}

pub fn edge_collection(graph_name: &str) -> String {
    format!("{graph_name}_edges")
}

/// `BTCUSDT_1722470400000`
pub fn node_key(symbol: &str, window_start: i64) -> Result<String, ArangoError> {
    let raw = format!("{symbol}_{window_start}");
    arango_key(&raw).ok_or_else(|| ArangoError::Documents {
        failed: 1,
        total: 1,
        first: format!("node {raw:?} cannot be an ArangoDB _key"),
    })
}

/// The vertex documents of nodes `range`.
pub fn node_documents(g: &Graph, range: Range<usize>) -> Result<Vec<Value>, ArangoError> {
    let n = &g.nodes;
    range
        .map(|i| {
            let mut d = Map::new();
            d.insert(
                "_key".into(),
                json!(node_key(&n.symbol[i], n.window_start[i])?),
            );
            d.insert("node_id".into(), json!(n.node_id[i]));
            d.insert("symbol".into(), json!(n.symbol[i]));
            d.insert("window_start".into(), json!(n.window_start[i]));
            for (name, v) in &n.features {
                d.insert(name.clone(), json!(v[i]));
            }
            for (name, v) in &n.labels {
                d.insert(name.clone(), json!(v[i]));
            }
            Ok(Value::Object(d))
        })
        .collect()
}

/// The documents of edges `range`: `_key` `<kind>_<from key>_<to key>`.
pub fn edge_documents(
    g: &Graph,
    graph_name: &str,
    range: Range<usize>,
) -> Result<Vec<Value>, ArangoError> {
    let (n, e) = (&g.nodes, &g.edges);
    let vertices = vertex_collection(graph_name);
    let key = |id: i64| node_key(&n.symbol[id as usize], n.window_start[id as usize]);
    range
        .map(|i| {
            let (from, to) = (key(e.src[i])?, key(e.dst[i])?);
            let raw = format!("{}_{from}_{to}", e.kind[i]);
            let k = arango_key(&raw).ok_or_else(|| ArangoError::Documents {
                failed: 1,
                total: 1,
                first: format!("edge {raw:?} cannot be an ArangoDB _key"),
            })?;
            Ok(json!({
                "_key": k,
                "_from": format!("{vertices}/{from}"),
                "_to": format!("{vertices}/{to}"),
                "kind": e.kind[i].as_str(),
                "weight": e.weight[i],
                "src": e.src[i],
                "dst": e.dst[i],
            }))
        })
        .collect()
}

/// Write `g` (already validated) as the named graph `graph_name`.
pub async fn write(client: &ArangoClient, graph_name: &str, g: &Graph) -> Result<(), ArangoError> {
    let (vertices, edges) = (vertex_collection(graph_name), edge_collection(graph_name));
    client.ensure_graph(graph_name, &vertices, &edges).await?;
    client.truncate_collection(&edges).await?;
    client.truncate_collection(&vertices).await?;
    // Documents are built a batch at a time: a graph's worth of JSON would be many times the
    // graph's size.
    for start in (0..g.nodes.len()).step_by(WRITE_BATCH) {
        let docs = node_documents(g, start..(start + WRITE_BATCH).min(g.nodes.len()))?;
        client.replace_documents(&vertices, &docs).await?;
    }
    for start in (0..g.edges.len()).step_by(WRITE_BATCH) {
        let docs = edge_documents(
            g,
            graph_name,
            start..(start + WRITE_BATCH).min(g.edges.len()),
        )?;
        client.replace_documents(&edges, &docs).await?;
    }
    Ok(())
}
