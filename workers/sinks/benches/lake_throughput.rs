//! Kafka → lake throughput on a real broker and a real S3 server: candle records produced to a
//! fresh topic, then (1) read by a plain consumer, the raw rate of the topic, and (2) stored by
//! the lake connector's loop as Parquet files in MinIO (or a local directory, `BENCH_LAKE_DIR`),
//! both in records per second.
//!
//! Run: `e2e/bench-lake.sh` (starts Kafka and MinIO), or with both running:
//! `KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 S3_ENDPOINT=http://127.0.0.1:9000 \
//!  cargo bench -p streamforge-sinks --bench lake_throughput`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureRecord;
use streamforge_kit::KafkaSettings;
use streamforge_kit::testing::unique;
use streamforge_sinks::core::Storage;
use streamforge_sinks::core::run::{RunConfig, Runner, Signals, SinkMetrics};
use streamforge_sinks::lake::{LakeLocation, LakeSink};
use tokio::sync::watch;

#[path = "common/candles.rs"]
mod candles;

fn env_or(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_owned())
}

// The connectors' allocator, so the figures are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rdkafka=warn".into()),
        )
        .init();
    let (Ok(bootstrap), Ok(endpoint)) = (
        std::env::var("KAFKA_BOOTSTRAP_SERVERS"),
        std::env::var("S3_ENDPOINT"),
    ) else {
        println!(
            "KAFKA_BOOTSTRAP_SERVERS and S3_ENDPOINT are not set: skipped (run e2e/bench-lake.sh)"
        );
        return;
    };
    let n: i64 = env_or("BENCH_RECORDS", "1000000").parse().unwrap();
    let batch: usize = env_or(
        "BATCH_RECORDS",
        &streamforge_sinks::lake::sink::BATCH_RECORDS.to_string(),
    )
    .parse()
    .unwrap();
    // 10 symbols by default, interleaved minute by minute; 1 is one Queue's topic.
    let n_symbols: i64 = env_or("BENCH_SYMBOLS", "10").parse().unwrap();
    let settings = KafkaSettings::plaintext(&bootstrap);
    let topic = unique("bench-lake");

    // 1m candles of `n_symbols` symbols, about 275 bytes each, as the loader writes them, with
    // prices and volumes that move from minute to minute (as lake_encode's).
    let producer = settings.producer("bench-loader").unwrap();
    let t0 = Instant::now();
    let symbols = [
        "BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "TRXUSDT",
        "DOTUSDT", "LTCUSDT",
    ];
    let mut pending = futures::stream::FuturesUnordered::new();
    for i in 0..n {
        let (key, payload) = candles::candle(symbols[(i % n_symbols) as usize], i / n_symbols);
        let p = producer.clone();
        let topic = topic.clone();
        pending.push(async move {
            p.send(
                FutureRecord::to(&topic).key(&key).payload(&payload),
                Duration::from_secs(60),
            )
            .await
            .map(|_| ())
            .map_err(|(e, _)| e)
        });
        if pending.len() >= 10_000 {
            use futures::StreamExt;
            pending.next().await.unwrap().unwrap();
        }
    }
    {
        use futures::StreamExt;
        while let Some(r) = pending.next().await {
            r.unwrap();
        }
    }
    println!(
        "produced {n} candle records in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // `BENCH_LAKE_ONLY=1`: the lake phase alone, so the process's peak memory is the
    // connector loop's (the other phases keep consumers with prefetched messages and a batch).
    let lake_only = std::env::var("BENCH_LAKE_ONLY").is_ok_and(|v| v == "1");
    let mut raw_rate = f64::NAN;
    if !lake_only {
        // 1. The raw consumer rate: every message received and its payload touched.
        let raw: StreamConsumer = settings
            .consumer("bench-raw", &unique("bench-raw"))
            .unwrap();
        raw.subscribe(&[topic.as_str()]).unwrap();
        let mut got = 0i64;
        let mut bytes = 0usize;
        let mut started = None;
        while got < n {
            let m = raw.recv().await.unwrap();
            started.get_or_insert_with(Instant::now);
            bytes += m.payload().map_or(0, <[u8]>::len);
            got += 1;
        }
        let raw_s = started.unwrap().elapsed().as_secs_f64();
        raw_rate = n as f64 / raw_s;
        println!(
            "raw consumer: {n} records ({:.0} MB) in {raw_s:.2} s = {raw_rate:.0} records/s",
            bytes as f64 / 1e6
        );

        // 2. The same, plus what the connector does to each message before storage: the JSON
        // check and the batcher.
        let parsing: StreamConsumer = settings
            .consumer("bench-parse", &unique("bench-parse"))
            .unwrap();
        parsing.subscribe(&[topic.as_str()]).unwrap();
        let mut batcher = streamforge_sinks::core::Batcher::new(batch, Duration::from_secs(3600));
        let mut got = 0i64;
        let mut started = None;
        while got < n {
            let m = parsing.recv().await.unwrap();
            let now = *started.get_or_insert_with(Instant::now);
            let r = streamforge_sinks::core::record::parse(
                m.key(),
                m.payload(),
                m.partition(),
                m.offset(),
                m.timestamp().to_millis(),
            )
            .unwrap();
            std::hint::black_box(batcher.push(r, now));
            got += 1;
        }
        let parse_s = started.unwrap().elapsed().as_secs_f64();
        println!(
            "consumer + JSON check + batcher: {n} records in {parse_s:.2} s = {:.0} records/s",
            n as f64 / parse_s
        );
    }

    // 3. The lake connector's loop into MinIO, or into a local directory (`BENCH_LAKE_DIR`).
    let location = match std::env::var("BENCH_LAKE_DIR") {
        Ok(dir) if !dir.is_empty() => LakeLocation::Local { dir: dir.into() },
        _ => LakeLocation::S3 {
            endpoint,
            bucket: env_or("S3_BUCKET", "streamforge-bench"),
            region: "us-east-1".into(),
            access_key: env_or("S3_ACCESS_KEY", "streamforge"),
            secret_key: env_or("S3_SECRET_KEY", "streamforge-secret"),
        },
    };
    let mut storage = LakeSink::new(location, &topic, &topic, "api_candles_1m", "BTCUSDT").unwrap();
    storage.concurrency = env_or("LAKE_CONCURRENCY", "8").parse().unwrap();
    storage.prepare().await.unwrap();
    let consumer: StreamConsumer = settings
        .consumer_reporting_ends("bench-lake", &unique("bench-lake"))
        .unwrap();
    let dlq = settings.producer("bench-lake-dlq").unwrap();
    let mut cfg = RunConfig::new(&topic);
    cfg.batch_records = batch;
    cfg.batch_wait = Duration::from_secs(5);
    let metrics = SinkMetrics::new(&prometheus::Registry::new()).unwrap();
    let (_tx, rx) = watch::channel(Signals {
        producer_finished: true,
        stop: false,
    });
    let mut runner = Runner {
        consumer: &consumer,
        storage: &mut storage,
        dlq: &dlq,
        cfg,
        metrics: metrics.clone(),
    };
    let t1 = Instant::now();
    let report = runner.run(rx).await.unwrap();
    let lake_s = t1.elapsed().as_secs_f64();
    // A rate only for a run that stored everything: every record written, none dead-lettered.
    assert_eq!(
        report.dead_letters, 0,
        "records went to the dead-letter topic: {report:?}"
    );
    assert_eq!(
        report.written, n as u64,
        "every record produced was written: {report:?}"
    );
    assert_eq!(
        metrics.records_written.get(),
        n as u64,
        "the connector's own count agrees"
    );
    let lake_rate = report.written as f64 / lake_s;
    let (requests, stored) = storage.counters();
    println!(
        "lake connector: {} records in {} batches, {requests} S3 requests, {:.1} MB of Parquet, in {lake_s:.2} s = {lake_rate:.0} records/s",
        report.written,
        report.batches,
        stored as f64 / 1e6
    );
    println!(
        "{:.0} S3 requests per million candles, {:.1} bytes of Parquet per candle ({n_symbols} symbol(s))",
        requests as f64 * 1e6 / n as f64,
        stored as f64 / n as f64
    );
    println!(
        "time in batch writes (encode, upload, retries): {:.2} s of {lake_s:.2} s",
        metrics.batch_latency.get_sample_sum()
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(peak) = status.lines().find(|l| l.starts_with("VmHWM")) {
        println!(
            "peak memory of the process: {}",
            peak.trim_start_matches("VmHWM:").trim()
        );
    }
    println!(
        "lake / raw = {:.0}% (batch {batch} records; the lake figure counts the whole run: group join, recovery check, every batch, the end-of-input check)",
        100.0 * lake_rate / raw_rate
    );
}
