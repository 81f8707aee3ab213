//! `lake-connector`: stores a Queue's data topic as Parquet files in an S3 bucket (MinIO) or a
//! local directory, laid out as `symbol=/type=/<period>` directories (`month=` for candles,
//! `date=` for trades, `date=/hour=` for order books).
//!
//! Environment: the worker environment the operator sets (`QUEUE_ID`, `SYMBOL`, `TYPE`,
//! `KAFKA_TOPIC`, `TELEMETRY_PRODUCER_ID`, Kafka settings); S3 with `MINIO_ENDPOINT`,
//! `MINIO_BUCKET` (default `streamforge-lake`), `MINIO_ACCESS_KEY`, `MINIO_SECRET_KEY`,
//! `S3_REGION`; without `MINIO_ENDPOINT` the directory `LAKE_DIR` (default `./lake`). Optional:
//! `LAKE_PREFIX` (a path inside the bucket), `BATCH_RECORDS` (default 100000), `BATCH_WAIT_MS`
//! (default 5000), `LAKE_CONCURRENCY` (files stored at once, default 8), `LAKE_FILE_ROWS` (the
//! most rows in one file, default 1000000), `LAKE_HOLD_RECORDS` (records of a directory whose
//! period is still open held back across batches, at most; default 500000, 0 for none),
//! `LAKE_HOLD_SECS` (how long at most; default 600), `METRICS_ADDR`.
//! Exit codes: 0 done or stopped, 1 transient failure, 2 refused (retrying cannot help).

use std::process::ExitCode;

use streamforge_kit::lifecycle::{Failure, exit_before_run};
use streamforge_kit::{KafkaSettings, WorkerEnv, logging};
use streamforge_sinks::connector::{self, Defaults, number, var};
use streamforge_sinks::lake::sink::{BATCH_RECORDS, HOLD_FOR, HOLD_RECORDS, MAX_FILE_ROWS};
use streamforge_sinks::lake::{LakeLocation, LakeSink};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    let setup = (|| {
        let env = WorkerEnv::from_env().map_err(Failure::permanent)?;
        let kafka = KafkaSettings::from_env().map_err(Failure::permanent)?;
        let location =
            LakeLocation::from_lookup(|k| std::env::var(k).ok()).map_err(Failure::permanent)?;
        let target = location.describe();
        let mut storage = LakeSink::new(
            location,
            &var("LAKE_PREFIX", ""),
            &env.kafka_topic,
            &env.data_type,
            &env.symbol,
        )
        .map_err(Failure::permanent)?;
        storage.concurrency = number("LAKE_CONCURRENCY", 8)?;
        storage.max_file_rows = number("LAKE_FILE_ROWS", MAX_FILE_ROWS)?.max(1);
        storage.hold_records = number("LAKE_HOLD_RECORDS", HOLD_RECORDS)?;
        storage.hold_for =
            std::time::Duration::from_secs(number("LAKE_HOLD_SECS", HOLD_FOR.as_secs())?);
        Ok::<_, Failure>((env, kafka, storage, target))
    })();
    let defaults = Defaults {
        batch_records: BATCH_RECORDS,
        batch_wait_ms: 5_000,
    };
    match setup {
        Ok((env, kafka, mut storage, target)) => {
            connector::run(env, kafka, &mut storage, target, defaults).await
        }
        Err(f) => exit_before_run(&f),
    }
}
