//! The generic loader (`loader-generic`), the reserve and test loader of the image table: it
//! serves two Queue types, configured by the Queue's `spec.source` ([`streamforge_api::GenericSource`],
//! in `SOURCE`).
//!
//! ```text
//!  queue-control ─start─► worker ─► config (validate SOURCE: pure)
//!   manual_upload: fetch (S3 | HTTP) ─► rows (CSV | JSONL | Parquet, a blocking thread)
//!                    ─► mapping (row → CandleRecord | TradeRecord) ─► range, duplicates,
//!                       keys the topic already holds (resume) ─► data topic (keyed, the
//!                       loader's sink) ─► completeness ─► finished
//!   json_feed:     feed (WebSocket | polled HTTP) ─► keypath (key of each message)
//!                    ─► data topic as it came ─► until stop, SIGTERM or TIME_RANGE's end
//!   bad rows and messages ─► dlq (`<topic>-dlq`, Connect's headers and ours)
//! ```

pub mod completeness;
pub mod config;
pub mod dlq;
pub mod feed;
pub mod fetch;
pub mod keypath;
pub mod mapping;
pub mod metrics;
pub mod resume;
pub mod rows;
pub mod upload;
pub mod worker;
