//! graph-builder: stored candles into a graph of (symbol, window) nodes with features, labels,
//! temporal and cross-asset edges, written in the shared format (`streamforge-graph`) to the
//! lake and, when ArangoDB is configured, as an ArangoDB named graph.
//!
//! ```text
//!  lake Parquet ─┐                                   ┌─► lake graphs/<name>/ (streamforge-graph)
//!                ├─► candles ─► build (pure) ─► Graph┤
//!  ArangoDB AQL ─┘   indicators, labels, edges        └─► ArangoDB <name>_nodes / <name>_edges
//! ```

pub mod arango_graph;
pub mod arango_source;
pub mod build;
pub mod candles;
pub mod config;
pub mod edges;
pub mod features;
pub mod labels;
pub mod lake_source;
pub mod source;
pub mod synthetic;
pub mod worker;
