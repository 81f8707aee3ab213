//! ArangoDB as a sink: the [`ArangoSink`] storage over the `streamforge-arango` client, which
//! this module re-exports so that connectors name one path.

pub mod sink;

pub use sink::{ArangoSink, WriteMode};
pub use streamforge_arango::{ArangoClient, ArangoError, client, error_num, key};
