//! CPU figures of the lake's per-record work, without Kafka or S3: checking a candle message
//! (the JSON object scan and the record it becomes) and encoding a day of 1m candles (1,440
//! rows) as one Parquet file.
//!
//! Run: `cargo bench -p streamforge-sinks --bench lake_encode`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use streamforge_sinks::core::record;
use streamforge_sinks::lake::layout::PATH_COLUMNS;
use streamforge_sinks::lake::parquet_file;

/// A 1m candle whose prices and volumes move from minute to minute, as real ones do (constant
/// values would flatter dictionary encoding).
fn candle(i: i64) -> (String, String) {
    let t = 1_704_067_200_000 + i * 60_000;
    let wave = (i * 7_919) % 2_000;
    let open = 4_200_000 + wave * 3;
    let cents = |c: i64| format!("{}.{:02}", c / 100, c % 100);
    let volume = 1_000 + (i * 104_729) % 50_000;
    let payload = format!(
        r#"{{"symbol":"BTCUSDT","interval":"1m","open_time":{t},"close_time":{},"open":"{}","high":"{}","low":"{}","close":"{}","volume":"{}.{:03}","quote_volume":"{}","trades":{},"taker_buy_base":"{}.{:03}","taker_buy_quote":"{}"}}"#,
        t + 59_999,
        cents(open),
        cents(open + 1_250),
        cents(open - 980),
        cents(open + wave % 700),
        volume / 1_000,
        volume % 1_000,
        cents(volume * 42_000),
        1234 + i % 97,
        volume / 2_000,
        (volume / 2) % 1_000,
        cents(volume * 21_000),
    );
    (format!("BTCUSDT|1m|{t}"), payload)
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

    let records: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, (k, p))| {
            record::parse(Some(k.as_bytes()), Some(p.as_bytes()), 0, i as i64, None).unwrap()
        })
        .collect();
    let refs: Vec<_> = records.iter().collect();
    let t = Instant::now();
    let mut size = 0;
    for _ in 0..rounds {
        size = black_box(parquet_file::encode(&refs, &PATH_COLUMNS).unwrap()).len();
    }
    let per = t.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "encode 1,440 candles as Parquet ({size} bytes): {:.2} ms = {:.0} records/s on one core",
        per * 1e3,
        refs.len() as f64 / per
    );
}
