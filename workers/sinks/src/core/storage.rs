//! What a storage backend does for the core: write one batch, idempotently by record key.
//!
//! A store may hold records back across batches (the lake keeps a directory's records until
//! its period is complete, so files are whole months or days): it then says, per partition,
//! which offset is safe to commit and what to commit with it ([`Storage::commit_points`]), and
//! gets that metadata back when a later run resumes ([`Resume`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;

use super::batch::Batch;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Records stored.
    pub records: u64,
    pub requests: u64,
    pub bytes: u64,
    /// Records the store refused one by one (the rest of the batch was stored): they go to the
    /// dead-letter topic with the reason, and the run goes on.
    pub rejected: Vec<Rejected>,
}

/// One record of a batch that the store refused, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Its position in the batch.
    pub index: usize,
    pub reason: String,
}

/// Where a partition resumes: the offset committed last and the metadata committed with it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resume {
    pub offset: i64,
    pub metadata: Option<String>,
}

/// What to commit for one partition after a write: the offset (the next to read on a restart)
/// and metadata for the store's [`Storage::recover`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitPoint {
    pub offset: i64,
    pub metadata: Option<String>,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum StorageError {
    /// Worth retrying: the store is down, overloaded, or the network failed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Retrying cannot help: bad credentials, a missing database, a refused document.
    #[error("storage refused the write: {0}")]
    Refused(String),
}

impl StorageError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StorageError::Unavailable(_))
    }
}

pub trait Storage: Send {
    /// Create what the store needs (collections, indexes, buckets) if it is missing.
    fn prepare(&mut self) -> BoxFuture<'_, Result<(), StorageError>>;
    /// Undo what a previous run stored but never committed, given the offset each partition
    /// resumes from; returns how many batches were undone. Stores that overwrite by key have
    /// nothing to undo.
    fn recover<'a>(
        &'a mut self,
        _resume: &'a HashMap<i32, Resume>,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async { Ok(0) })
    }
    /// Write every record of `batch`; a record whose key exists is replaced. The batch is
    /// shared so that a store can hand parts of it to other threads (encoding); a retry after
    /// an outage passes the same batch again.
    fn write(&mut self, batch: Arc<Batch>) -> BoxFuture<'_, Result<WriteStats, StorageError>>;
    /// What to commit once a write returned, given the next offset per partition of everything
    /// consumed so far (`consumed`, the batch's commit positions). A store that holds nothing
    /// back commits them as they are.
    fn commit_points(&mut self, consumed: &HashMap<i32, i64>) -> HashMap<i32, CommitPoint> {
        consumed
            .iter()
            .map(|(&p, &offset)| {
                (
                    p,
                    CommitPoint {
                        offset,
                        metadata: None,
                    },
                )
            })
            .collect()
    }
    /// Store every record held back; [`Storage::commit_points`] (with nothing newly consumed)
    /// then says what to commit. Called at the end of a run and at [`Storage::held_until`].
    fn flush_held(&mut self) -> BoxFuture<'_, Result<WriteStats, StorageError>> {
        Box::pin(async { Ok(WriteStats::default()) })
    }
    /// When records held back are due to be stored even if no batch comes; `None` when nothing
    /// is held.
    fn held_until(&self) -> Option<Instant> {
        None
    }
    /// How many records are held back now.
    fn held_records(&self) -> usize {
        0
    }
}
