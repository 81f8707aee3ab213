//! StreamForge sink connectors: consume a Queue's data topic and store it.
//!
//! ```text
//!  data topic ─► core::run ─► batch (size/time) ─► Storage::write (idempotent by key)
//!                  │  malformed ─► dead-letter topic (reason in headers)
//!                  └─ offsets committed only after the write; ends on the producer's
//!                     `finished` with zero lag, or on `stop`
//! ```
//!
//! Storage backends sit behind [`core::Storage`]: [`arango`] and the S3/Parquet [`lake`].

pub mod arango;
pub mod connector;
pub mod core;
pub mod lake;
