//! CPU figures of the lake's per-record work, without Kafka or S3: checking a candle message
//! (the JSON object scan and the record it becomes) and encoding a day of 1m candles (1,440
//! rows) and a month of them (44,640 rows, the file a month directory gets) as one Parquet file.
//!
//! Run: `cargo bench -p streamforge-sinks --bench lake_encode`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use streamforge_sinks::core::record;
use streamforge_sinks::lake::layout::Grain;
use streamforge_sinks::lake::parquet_file;

#[path = "common/candles.rs"]
mod candles;

fn candle(i: i64) -> (String, String) {
    candles::candle("BTCUSDT", i)
}

// The connectors' allocator, so the figures are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let messages: Vec<_> = (0..1440).map(candle).collect();
    let rounds = 200;

    let t = Instant::now();
    for _ in 0..rounds {
        for (i, (k, p)) in messages.iter().enumerate() {
            black_box(
                record::parse(Some(k.as_bytes()), Some(p.as_bytes()), 0, i as i64, None).unwrap(),
            );
        }
    }
    let per = t.elapsed().as_secs_f64() / (rounds * messages.len()) as f64;
    println!(
        "check a candle message ({} bytes) into a record: {:.0} ns = {:.0} records/s on one core",
        messages[0].1.len(),
        per * 1e9,
        1.0 / per
    );

    encode(&messages, rounds);
    let month: Vec<_> = (0..44_640).map(candle).collect();
    encode(&month, 20);
}

fn encode(messages: &[(String, String)], rounds: usize) {
    let records: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, (k, p))| {
            record::parse(Some(k.as_bytes()), Some(p.as_bytes()), 0, i as i64, None).unwrap()
        })
        .collect();
    let refs: Vec<_> = records.iter().collect();
    let mut size = 0;
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            size =
                black_box(parquet_file::encode(&refs, Grain::Month.path_columns()).unwrap()).len();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let per = times[rounds / 2];
    println!(
        "encode {} candles as Parquet ({size} bytes): median {:.2} ms = {:.0} records/s on one \
         core (fastest {:.2} ms)",
        refs.len(),
        per * 1e3,
        refs.len() as f64 / per,
        times[0] * 1e3
    );
}
