//! The graph format shared by graph-builder (writer) and gnn-trainer (reader): nodes, edges and a
//! manifest as Parquet and JSON under `graphs/<graph_name>/` of the lake's object store.
//!
//! ```text
//! graphs/<graph_name>/manifest.json   what the graph is: symbols, range, features, labels, parameters
//! graphs/<graph_name>/nodes.parquet   node_id, symbol, window_start, <features…> DOUBLE, <labels…> INT64?
//! graphs/<graph_name>/edges.parquet   src, dst, kind (temporal | cross_asset), weight
//! ```
//!
//! Messages flow from `src` to `dst`. Temporal edges only go forward in time (a window to its
//! symbol's next window), because a window's successor knows the window's future, which is
//! where its labels come from. Cross-asset edges join two symbols in the same window, written
//! in both directions. [`Graph::validate`] checks all of this and is run on both sides:
//! [`write_graph`] refuses an invalid graph, [`read_graph`] refuses to return one.
//!
//! The manifest is written last and removed first, so a reader that finds a manifest finds the
//! complete files it describes.

pub mod columns;
pub mod error;
pub mod manifest;
pub mod model;
pub mod name;
pub mod sample;
pub mod store;
mod tables;
pub mod validate;

pub use error::GraphError;
pub use manifest::{FORMAT, GraphManifest};
pub use model::{EdgeKind, EdgeTable, Graph, NodeTable};
pub use name::check_graph_name;
pub use store::{
    edges_path, graph_prefix, manifest_path, nodes_path, read_graph, read_manifest, write_graph,
};
