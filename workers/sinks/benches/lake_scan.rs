//! The lake as its readers meet it: a year of 1m candles of 10 symbols (5,256,000 rows), each
//! symbol stored by its own lake sink (one Queue each) in the connector's default batches into
//! a local directory, then scanned by DuckDB: bytes per candle, files, and DuckDB's time for a
//! full count and for the daily VWAP query of docs/sinks.md over the whole year.
//!
//! Run: `BENCH_PYTHON=<python with duckdb> cargo bench -p streamforge-sinks --bench lake_scan`
//! (`e2e/bench-lake.sh` runs it with the test venv of `e2e/lake/setup.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use streamforge_kit::testing::unique;
use streamforge_sinks::core::{Batch, Storage, record};
use streamforge_sinks::lake::sink::BATCH_RECORDS;
use streamforge_sinks::lake::{LakeLocation, LakeSink};

#[path = "common/candles.rs"]
mod candles;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SYMBOLS: [&str; 10] = [
    "BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "TRXUSDT",
    "DOTUSDT", "LTCUSDT",
];
const YEAR: i64 = 365 * 1440;
const PARTITIONS: i64 = 3;

const QUERY: &str = "
SELECT symbol, CAST(open_time AS DATE) AS day, sum(close * volume) / sum(volume) AS vwap
FROM read_parquet('{root}/symbol=*/type=api_candles_1m/month=*/*.parquet', hive_partitioning = true)
GROUP BY symbol, day ORDER BY symbol, day";

const PYTHON: &str = r#"
import json, sys, time, duckdb
root, query = sys.argv[1], sys.argv[2].replace("{root}", sys.argv[1])
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
out = {"threads": con.execute("SELECT current_setting('threads')").fetchone()[0]}
for name, q in [("count", f"SELECT count(*) FROM read_parquet('{root}/symbol=*/type=api_candles_1m/month=*/*.parquet')"),
                ("vwap", query)]:
    times = []
    for _ in range(3):
        t = time.perf_counter()
        rows = con.execute(q).fetchall()
        times.append(time.perf_counter() - t)
    out[name] = {"seconds": times, "rows": len(rows), "first": str(rows[0])}
print(json.dumps(out))
"#;

fn batch(symbol: &str, from: i64, to: i64) -> Arc<Batch> {
    let records = (from..to)
        .map(|i| {
            let (key, payload) = candles::candle(symbol, i);
            record::parse(
                Some(key.as_bytes()),
                Some(payload.as_bytes()),
                (i % PARTITIONS) as i32,
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

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = std::env::temp_dir().join(unique("streamforge-lake-scan"));
    let t = Instant::now();
    let (mut requests, mut bytes) = (0, 0);
    for symbol in SYMBOLS {
        let mut sink = LakeSink::new(
            LakeLocation::Local { dir: dir.clone() },
            "",
            &format!("bench-{}", symbol.to_lowercase()),
            "api_candles_1m",
            symbol,
        )
        .unwrap();
        let mut from = 0;
        while from < YEAR {
            let to = (from + BATCH_RECORDS as i64).min(YEAR);
            sink.write(batch(symbol, from, to)).await.unwrap();
            from = to;
        }
        sink.flush_held().await.unwrap();
        let (r, b) = sink.counters();
        requests += r;
        bytes += b;
    }
    let rows = YEAR * SYMBOLS.len() as i64;
    let mut files = vec![];
    let mut todo = vec![dir.clone()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                files.push(std::fs::metadata(&p).unwrap().len());
            }
        }
    }
    let data: u64 = files.iter().sum();
    println!(
        "wrote {rows} candles of {} symbols in {:.1} s (batches of {BATCH_RECORDS}, batches built in the bench): {} files ({:.2}–{:.2} MB), {requests} requests = {:.0} per million candles, {:.1} MB of Parquet = {:.1} bytes per candle ({:.1} MB stored with intents)",
        SYMBOLS.len(),
        t.elapsed().as_secs_f64(),
        files.len(),
        *files.iter().min().unwrap() as f64 / 1e6,
        *files.iter().max().unwrap() as f64 / 1e6,
        requests as f64 * 1e6 / rows as f64,
        data as f64 / 1e6,
        data as f64 / rows as f64,
        bytes as f64 / 1e6,
    );
    // One sink and one batch at a time, without Kafka: about what one batch costs in memory.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(peak) = status.lines().find(|l| l.starts_with("VmHWM")) {
        println!(
            "peak memory of the writer: {}",
            peak.trim_start_matches("VmHWM:").trim()
        );
    }
    match std::env::var("BENCH_PYTHON").or_else(|_| std::env::var("STREAMFORGE_TEST_PYTHON")) {
        Ok(python) => {
            let out = std::process::Command::new(python)
                .args(["-c", PYTHON, dir.to_str().unwrap(), QUERY])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "duckdb: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            println!("duckdb: {}", String::from_utf8_lossy(&out.stdout).trim());
        }
        Err(_) => println!("BENCH_PYTHON is not set: no DuckDB scan"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
