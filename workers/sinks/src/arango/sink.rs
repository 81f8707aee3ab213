//! ArangoDB as a sink [`Storage`]: one collection per Queue (the seeds' naming), documents keyed
//! by the record key, written in one request per batch.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use streamforge_arango::key::arango_key;
use streamforge_arango::{ArangoClient, ArangoError};

use crate::core::{Batch, Record, Rejected, Storage, StorageError, WriteStats};

/// Outages and overload are retried; refusals are not.
impl From<ArangoError> for StorageError {
    fn from(e: ArangoError) -> Self {
        if e.is_transient() {
            StorageError::Unavailable(e.to_string())
        } else {
            StorageError::Refused(e.to_string())
        }
    }
}

/// How a batch is written. Both are idempotent by `_key`; `docs/benchmarks.md` compares them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// `POST /_api/document/{collection}?overwriteMode=replace` with the batch as an array.
    DocumentReplace,
    /// One AQL `UPSERT ... INSERT ... REPLACE` over the batch.
    AqlUpsert,
}

impl WriteMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "document" | "replace" => Some(WriteMode::DocumentReplace),
            "aql" | "upsert" => Some(WriteMode::AqlUpsert),
            _ => None,
        }
    }
}

pub struct ArangoSink {
    pub client: ArangoClient,
    pub collection: String,
    pub mode: WriteMode,
    /// Fields to index (persistent, not unique), e.g. `open_time`.
    pub index_fields: Vec<String>,
}

/// The document for one record: its fields plus `_key`.
pub fn document(r: &Record) -> Result<Value, StorageError> {
    let k = arango_key(&r.key).ok_or_else(|| {
        StorageError::Refused(format!("record key {:?} cannot be an ArangoDB _key", r.key))
    })?;
    let mut d = r.document();
    d.insert("_key".into(), Value::String(k));
    Ok(Value::Object(d))
}

impl Storage for ArangoSink {
    fn prepare(&mut self) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            self.client
                .ensure_collection(&self.collection, false)
                .await?;
            for f in &self.index_fields {
                self.client
                    .ensure_index(&self.collection, &[f.as_str()], false)
                    .await?;
            }
            Ok(())
        })
    }

    fn write(&mut self, batch: Arc<Batch>) -> BoxFuture<'_, Result<WriteStats, StorageError>> {
        Box::pin(async move {
            // A record whose key cannot be a `_key` is refused alone; the rest are written.
            let mut rejected = vec![];
            let mut docs = Vec::with_capacity(batch.records.len());
            let mut positions = Vec::with_capacity(batch.records.len());
            for (i, r) in batch.records.iter().enumerate() {
                match document(r) {
                    Ok(d) => {
                        docs.push(d);
                        positions.push(i);
                    }
                    Err(e) => rejected.push(Rejected {
                        index: i,
                        reason: e.to_string(),
                    }),
                }
            }
            let (req0, bytes0) = self.client.counters();
            match self.mode {
                WriteMode::DocumentReplace if !docs.is_empty() => {
                    let results = self
                        .client
                        .replace_documents_each(&self.collection, &docs)
                        .await?;
                    // A passing refusal of any document retries the whole batch (replacing by
                    // key is idempotent); the others are the documents' own faults.
                    if let Some(e) = results.iter().flatten().find(|e| e.is_transient()) {
                        return Err(StorageError::Unavailable(format!(
                            "ArangoDB refused a document for now ({e})"
                        )));
                    }
                    for (k, outcome) in results.into_iter().enumerate() {
                        if let Some(e) = outcome {
                            rejected.push(Rejected {
                                index: positions[k],
                                reason: format!("ArangoDB refused the document: {e}"),
                            });
                        }
                    }
                }
                WriteMode::AqlUpsert if !docs.is_empty() => {
                    self.client
                        .upsert_documents(&self.collection, &docs)
                        .await?
                }
                _ => {}
            }
            let (req1, bytes1) = self.client.counters();
            rejected.sort_by_key(|r| r.index);
            Ok(WriteStats {
                records: (batch.records.len() - rejected.len()) as u64,
                requests: req1 - req0,
                bytes: bytes1 - bytes0,
                rejected,
            })
        })
    }
}
