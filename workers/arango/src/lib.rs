//! ArangoDB over its documented HTTP API: a small typed client ([`ArangoClient`]), ArangoDB's
//! `_key` rules ([`key`]), the AQL workers run ([`queries`]), and, behind the `testserver` feature, a protocol-level test server.
//!
//! The sinks write through it and the operator's status mirror uses it; it depends on no worker
//! crate, so the operator builds none of the sinks' storage stack.
//!
//! Reference: ArangoDB HTTP API: Documents (`POST /_api/document/{collection}` with
//! `overwriteMode`), Collections, Indexes, Graphs (`/_api/gharial`), AQL cursors.

pub mod client;
pub mod key;
pub mod queries;
#[cfg(feature = "testserver")]
pub mod testserver;

pub use client::{ArangoClient, ArangoError, DocumentError, error_num};
