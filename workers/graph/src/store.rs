//! Writing and reading a graph in an object store (the lake: an S3 bucket or, through
//! `LocalFileSystem`, a directory).
//!
//! Order: the old manifest is removed first and the new one written last, so a manifest is
//! only ever beside the complete files it describes; a crash half way leaves no graph, never a
//! manifest with another graph's files.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;

use crate::model::Graph;
use crate::tables::{decode_edges, decode_nodes, encode_edges, encode_nodes};
use crate::{GraphError, GraphManifest, check_graph_name};

/// `graphs/<graph_name>/`
pub fn graph_prefix(graph_name: &str) -> String {
    format!("graphs/{graph_name}/")
}

pub fn manifest_path(graph_name: &str) -> String {
    format!("{}manifest.json", graph_prefix(graph_name))
}

pub fn nodes_path(graph_name: &str) -> String {
    format!("{}nodes.parquet", graph_prefix(graph_name))
}

pub fn edges_path(graph_name: &str) -> String {
    format!("{}edges.parquet", graph_prefix(graph_name))
}

fn store_error(op: &'static str, path: &str) -> impl FnOnce(object_store::Error) -> GraphError {
    let path = path.to_owned();
    move |source| GraphError::Store { op, path, source }
}

async fn put(store: &dyn ObjectStore, path: &str, bytes: bytes::Bytes) -> Result<(), GraphError> {
    store
        .put(&Path::from(path), bytes.into())
        .await
        .map(|_| ())
        .map_err(store_error("put", path))
}

async fn get(store: &dyn ObjectStore, path: &str) -> Result<bytes::Bytes, GraphError> {
    let got = store.get(&Path::from(path)).await;
    let got = match got {
        Err(object_store::Error::NotFound { .. }) if path.ends_with("manifest.json") => {
            return Err(GraphError::NotFound {
                path: path.to_owned(),
            });
        }
        other => other.map_err(store_error("get", path))?,
    };
    got.bytes().await.map_err(store_error("get", path))
}

/// Validate `graph` and write it under `graphs/<graph_name>/`, replacing a graph of that name.
/// The manifest's `graph_name` must be `graph_name`.
pub async fn write_graph(
    store: &Arc<dyn ObjectStore>,
    graph_name: &str,
    graph: &Graph,
) -> Result<(), GraphError> {
    check_graph_name(graph_name)?;
    if graph.manifest.graph_name != graph_name {
        return Err(GraphError::Invalid(format!(
            "manifest names graph {:?}, written as {graph_name:?}",
            graph.manifest.graph_name
        )));
    }
    graph.validate()?;
    let manifest = manifest_path(graph_name);
    let parquet = |path: &str| {
        let path = path.to_owned();
        move |source| GraphError::Parquet { path, source }
    };
    let nodes = encode_nodes(&graph.nodes).map_err(parquet(&nodes_path(graph_name)))?;
    let edges = encode_edges(&graph.edges).map_err(parquet(&edges_path(graph_name)))?;
    let json =
        serde_json::to_vec_pretty(&graph.manifest).map_err(|source| GraphError::Manifest {
            path: manifest.clone(),
            source,
        })?;
    match store.delete(&Path::from(manifest.as_str())).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(store_error("delete", &manifest)(e)),
    }
    put(store.as_ref(), &nodes_path(graph_name), nodes).await?;
    put(store.as_ref(), &edges_path(graph_name), edges).await?;
    put(store.as_ref(), &manifest, json.into()).await
}

/// The manifest of graph `graph_name` alone.
pub async fn read_manifest(
    store: &Arc<dyn ObjectStore>,
    graph_name: &str,
) -> Result<GraphManifest, GraphError> {
    check_graph_name(graph_name)?;
    let path = manifest_path(graph_name);
    let bytes = get(store.as_ref(), &path).await?;
    serde_json::from_slice(&bytes).map_err(|source| GraphError::Manifest { path, source })
}

/// Read graph `graph_name` and check it ([`Graph::validate`]).
pub async fn read_graph(
    store: &Arc<dyn ObjectStore>,
    graph_name: &str,
) -> Result<Graph, GraphError> {
    let manifest = read_manifest(store, graph_name).await?;
    let path = nodes_path(graph_name);
    let nodes = decode_nodes(get(store.as_ref(), &path).await?, &path, &manifest)?;
    let path = edges_path(graph_name);
    let edges = decode_edges(get(store.as_ref(), &path).await?, &path)?;
    let graph = Graph {
        manifest,
        nodes,
        edges,
    };
    graph.validate()?;
    Ok(graph)
}
