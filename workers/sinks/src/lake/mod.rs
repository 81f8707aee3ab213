//! The S3/Parquet lake: a Queue's data topic as Parquet files in a Hive-style layout
//! (`symbol=/type=/month=` for candles, `date=` for trades, `date=/hour=` for order books) that
//! pandas, polars and DuckDB read directly, in an S3 bucket or a
//! local directory. File names carry the Kafka partition and offset range, and write intents
//! let a restart undo a batch that was stored but not committed, so replays never duplicate.

pub mod decimal;
pub mod layout;
pub mod parquet_file;
pub mod plan;
pub mod recovery;
pub mod sink;
pub mod store;

pub use sink::LakeSink;
pub use store::LakeLocation;
