//! What the lake costs an S3 server: the requests (PUTs: data files and intents) and bytes the
//! lake connector's storage sends for a million 1m candles of one symbol (one Queue), taken in
//! the connector's default batches from a data topic of three partitions (the operator's
//! default). The issue's bound is 50 requests per million candles; the day-per-directory
//! layout took about 1,100.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use streamforge_kit::testing::unique;
use streamforge_sinks::core::{Batch, Storage, record};
use streamforge_sinks::lake::sink::BATCH_RECORDS;
use streamforge_sinks::lake::{LakeLocation, LakeSink};

const PARTITIONS: i64 = 3;
const T0: i64 = 1_704_067_200_000; // 2024-01-01 00:00 UTC

/// Candles `from..to` of BTCUSDT, spread over the partitions as the loader's keys are, at
/// each partition's next offsets.
fn batch(from: i64, to: i64) -> Arc<Batch> {
    let records = (from..to)
        .map(|i| {
            let t = T0 + i * 60_000;
            let key = format!("BTCUSDT|1m|{t}");
            let payload = format!(
                r#"{{"symbol":"BTCUSDT","interval":"1m","open_time":{t},"close_time":{},"open":"42000.10","high":"42010.00","low":"41990.50","close":"{}.{:02}","volume":"{}.{:05}","trades":{}}}"#,
                t + 59_999,
                42_000 + i % 97,
                i % 100,
                i % 50,
                (i * 7_919) % 100_000,
                100 + i % 900
            );
            let partition = (i % PARTITIONS) as i32;
            record::parse(
                Some(key.as_bytes()),
                Some(payload.as_bytes()),
                partition,
                i / PARTITIONS,
                None,
            )
            .unwrap()
        })
        .collect();
    Arc::new(Batch {
        records,
        commit: Default::default(),
    })
}

#[tokio::test]
async fn a_million_1m_candles_take_at_most_50_requests_in_files_of_a_month() {
    let dir = std::env::temp_dir().join(unique("streamforge-lake-requests"));
    let mut sink = LakeSink::new(
        LakeLocation::Local { dir: dir.clone() },
        "",
        "wf-requests",
        "api_candles_1m",
        "BTCUSDT",
    )
    .unwrap();
    const N: i64 = 1_000_000;
    let mut from = 0;
    while from < N {
        let to = (from + BATCH_RECORDS as i64).min(N);
        let stats = sink.write(batch(from, to)).await.unwrap();
        assert_eq!(stats.records, (to - from) as u64);
        from = to;
    }
    let (requests, bytes) = sink.counters();
    let batches = (N as u64).div_ceil(BATCH_RECORDS as u64);
    // 23 months of candles, a file per month plus one where a batch ends inside a month, and an
    // intent per partition and batch.
    let mut files = vec![];
    let mut todo = vec![dir.clone()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                files.push((p.clone(), std::fs::metadata(&p).unwrap().len()));
            }
        }
    }
    let data_bytes: u64 = files.iter().map(|(_, n)| n).sum();
    let months = files
        .iter()
        .filter_map(|(p, _)| p.parent()?.file_name()?.to_str().map(str::to_owned))
        .collect::<std::collections::BTreeSet<_>>();
    eprintln!(
        "{N} candles: {requests} requests ({} files, {} intents), {:.1} MB stored, {:.1} bytes per candle, files {:.2}..{:.2} MB",
        files.len(),
        requests - files.len() as u64,
        bytes as f64 / 1e6,
        data_bytes as f64 / N as f64,
        files.iter().map(|f| f.1).min().unwrap() as f64 / 1e6,
        files.iter().map(|f| f.1).max().unwrap() as f64 / 1e6,
    );
    assert_eq!(months.len(), 23, "{months:?}");
    assert!(months.iter().all(|m| m.starts_with("month=")), "{months:?}");
    assert_eq!(
        requests,
        files.len() as u64 + batches * PARTITIONS as u64,
        "one PUT per file and per intent, nothing else"
    );
    assert!(requests <= 50, "{requests} requests per million candles");
    // A full month of 1m candles is about a megabyte.
    let full_month = files.iter().map(|f| f.1).max().unwrap();
    assert!(full_month > 500_000, "{full_month} bytes");
    std::fs::remove_dir_all(&dir).unwrap();
}
