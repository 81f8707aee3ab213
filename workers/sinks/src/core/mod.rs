//! The connector core shared by every sink: records, batching, the storage trait, dead letters
//! and the consume → write → commit loop.

pub mod batch;
pub mod json_object;
pub mod record;
pub mod run;
pub mod signals;
pub mod storage;

pub use batch::{Batch, Batcher};
pub use record::{Malformed, Record};
pub use storage::{CommitPoint, Rejected, Resume, Storage, StorageError, WriteStats};
