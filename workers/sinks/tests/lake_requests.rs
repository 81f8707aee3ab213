//! What the lake costs an S3 server: the requests (PUTs: data files and intents) and bytes the
//! lake connector's storage sends for a million 1m candles of one symbol (one Queue), and of
//! ten symbols interleaved minute by minute (a topic several loaders share), taken in the
//! connector's default batches from a data topic of three partitions (the operator's
//! default). The issue's bound is 50 requests per million candles; the day-per-directory
//! layout took about 1,100, and ten symbols took 85 before directories were held back across
//! batches.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use streamforge_kit::testing::unique;
use streamforge_sinks::core::{Batch, Storage, record};
use streamforge_sinks::lake::sink::BATCH_RECORDS;
use streamforge_sinks::lake::{LakeLocation, LakeSink};

const PARTITIONS: i64 = 3;
const T0: i64 = 1_704_067_200_000; // 2024-01-01 00:00 UTC

/// Candles `from..to` of `symbols` interleaved minute by minute (candle `i` is minute
/// `i / symbols.len()` of symbol `i % symbols.len()`), spread over the partitions as the
/// loader's keys are, at each partition's next offsets.
fn batch(symbols: &[&str], from: i64, to: i64) -> Arc<Batch> {
    let n = symbols.len() as i64;
    let records = (from..to)
        .map(|i| {
            let (s, minute) = ((i % n) as usize, i / n);
            let sym = symbols[s];
            let t = T0 + minute * 60_000;
            let key = format!("{sym}|1m|{t}");
            let payload = format!(
                r#"{{"symbol":"{sym}","interval":"1m","open_time":{t},"close_time":{},"open":"42000.10","high":"42010.00","low":"41990.50","close":"{}.{:02}","volume":"{}.{:05}","trades":{}}}"#,
                t + 59_999,
                42_000 + i % 97,
                i % 100,
                i % 50,
                (i * 7_919) % 100_000,
                100 + i % 900
            );
            // Keys spread over the partitions by their hash, which for these is round-robin.
            let (partition, offset) = ((i % PARTITIONS) as i32, i / PARTITIONS);
            record::parse(
                Some(key.as_bytes()),
                Some(payload.as_bytes()),
                partition,
                offset,
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

/// What a million candles of `symbols` cost, stored in default batches and the held records
/// stored at the end: requests, bytes, and the data files with their sizes.
async fn a_million(symbols: &[&str]) -> (u64, u64, Vec<(std::path::PathBuf, u64)>) {
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
    let mut stored = 0;
    while from < N {
        let to = (from + BATCH_RECORDS as i64).min(N);
        stored += sink.write(batch(symbols, from, to)).await.unwrap().records;
        from = to;
    }
    stored += sink.flush_held().await.unwrap().records;
    assert_eq!(stored, N as u64, "every candle stored once");
    assert_eq!(sink.held(), 0);
    let (requests, bytes) = sink.counters();
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
    eprintln!(
        "{N} candles of {} symbol(s): {requests} requests ({} files, {} intents), {:.1} MB stored, {:.1} bytes per candle, files {:.2}..{:.2} MB",
        symbols.len(),
        files.len(),
        requests - files.len() as u64,
        bytes as f64 / 1e6,
        data_bytes as f64 / N as f64,
        files.iter().map(|f| f.1).min().unwrap() as f64 / 1e6,
        files.iter().map(|f| f.1).max().unwrap() as f64 / 1e6,
    );
    std::fs::remove_dir_all(&dir).unwrap();
    (requests, bytes, files)
}

/// The directories (`symbol=.../type=.../month=...`) of `files`, with their file counts.
fn directories(files: &[(std::path::PathBuf, u64)]) -> BTreeMap<String, usize> {
    let mut dirs = BTreeMap::new();
    for (p, _) in files {
        let parts: Vec<&str> = p
            .iter()
            .rev()
            .skip(1)
            .take(3)
            .filter_map(|c| c.to_str())
            .collect();
        *dirs.entry(parts.join("<")).or_insert(0) += 1;
    }
    dirs
}

#[tokio::test]
async fn a_million_1m_candles_take_at_most_50_requests_in_files_of_a_month() {
    let (requests, _, files) = a_million(&["BTCUSDT"]).await;
    // 23 months of candles, a file per month, and an intent per partition for each write that
    // stores files.
    let dirs = directories(&files);
    assert_eq!(dirs.len(), 23, "{dirs:?}");
    assert!(dirs.keys().all(|m| m.starts_with("month=")), "{dirs:?}");
    assert!(dirs.values().all(|&n| n == 1), "one file a month: {dirs:?}");
    assert!(requests <= 50, "{requests} requests per million candles");
    // A full month of 1m candles is about a megabyte.
    let full_month = files.iter().map(|f| f.1).max().unwrap();
    assert!(full_month > 500_000, "{full_month} bytes");
}

#[tokio::test]
async fn a_million_1m_candles_of_ten_symbols_interleaved_take_at_most_50_requests() {
    let symbols = [
        "BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "TRXUSDT",
        "DOTUSDT", "LTCUSDT",
    ];
    let (requests, _, files) = a_million(&symbols).await;
    // 100,000 minutes a symbol: January, February and part of March 2024, one file each, for
    // ten symbols; intents for the two writes that complete a month and for the end.
    let dirs = directories(&files);
    assert_eq!(dirs.len(), 30, "{dirs:?}");
    assert!(
        dirs.values().all(|&n| n == 1),
        "one file per symbol and month, however the batches cut it: {dirs:?}"
    );
    assert!(requests <= 50, "{requests} requests per million candles");
}
