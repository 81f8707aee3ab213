//! ArangoDB storage over its documented HTTP API: the client, the sink (`Storage`), a graph API
//! for graph-builder, and a protocol-level test server.
//!
//! Reference: ArangoDB HTTP API: Documents (`POST /_api/document/{collection}` with
//! `overwriteMode`), Collections, Indexes, Graphs (`/_api/gharial`), AQL cursors.

pub mod client;
pub mod key;
pub mod sink;
pub mod testserver;

pub use client::{ArangoClient, ArangoError};
pub use sink::{ArangoSink, WriteMode};
