//! Building a graph for a year of 1-minute candles of 10 symbols (525,600 × 10 = 5.26 M rows,
//! synthetic, correlated through a shared factor), then encoding and writing it in the graph
//! format to an in-memory store. Prints rows/s of each stage and the peak resident memory
//! (`VmHWM` of `/proc/self/status`), reset after the candles are generated so the figure is the
//! build's own peak with the candles already in memory.
//!
//! With `BENCH_LAKE=1` it measures the worker's whole path instead: a child process writes the
//! candles to a local lake directory as the lake-connector writes them (one Parquet file per
//! symbol and day; in a child, so that its allocations do not count), then `build_and_write`
//! reads them back, builds and writes the graph there.
//!
//! `cargo bench -p streamforge-graph-builder --bench build_year` (release). `BENCH_DAYS` and
//! `BENCH_SYMBOLS` shrink it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use object_store::ObjectStore;
use object_store::memory::InMemory;
use streamforge_graph_builder::build::{BuildSettings, build_graph};
use streamforge_graph_builder::candles::SymbolCandles;
use streamforge_graph_builder::config::BuilderConfig;
use streamforge_graph_builder::synthetic::{market, write_lake};
use streamforge_graph_builder::worker::{Progress, build_and_write};
use tokio::sync::watch;

/// 2024-01-01 00:00 UTC.
const START: i64 = 1_704_067_200_000;

const SYMBOLS: [&str; 10] = [
    "BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "AVAXUSDT",
    "DOTUSDT", "LINKUSDT",
];

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let days = env_usize("BENCH_DAYS", 365);
    let k = env_usize("BENCH_SYMBOLS", 10).min(SYMBOLS.len());
    let n = days * 1440;
    let rows = (n * k) as f64;
    if let Ok(dir) = std::env::var("BENCH_WRITE_LAKE") {
        write_lake_dir(&dir, &market(&SYMBOLS[..k], START, 60_000, n, 2024)).await;
        return;
    }
    if std::env::var("BENCH_LAKE").is_ok_and(|v| v == "1") {
        lake_path(days, k, rows).await;
        return;
    }
    let t = Instant::now();
    let data = market(&SYMBOLS[..k], START, 60_000, n, 2024);
    println!(
        "generated {} candles ({k} symbols x {n}) in {:.2} s; resident {:.0} MiB",
        n * k,
        t.elapsed().as_secs_f64(),
        mib(status_kib("VmRSS:"))
    );
    // Reset the peak so it measures the build (Linux: "5" clears VmHWM).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();

    let settings = BuildSettings {
        graph_name: "bench".into(),
        source_type: "api_candles_1m".into(),
        time_range: "2024-01-01:2025-01-01".into(),
        interval_ms: 60_000,
        correlation_window: 24,
        correlation_threshold: 0.5,
        label_horizon: 1,
        features: &streamforge_graph_builder::features::FEATURES,
        created_at: "2025-01-01T00:00:00Z".into(),
        extra_parameters: BTreeMap::new(),
    };
    let t = Instant::now();
    let graph = build_graph(&settings, &data).unwrap();
    let build_s = t.elapsed().as_secs_f64();
    let build_peak = status_kib("VmHWM:");
    println!(
        "build: {} nodes, {} edges ({} cross-asset) in {build_s:.2} s = {:.2} M rows/s; peak {:.0} MiB{}",
        graph.nodes.len(),
        graph.edges.len(),
        graph
            .edges
            .kind
            .iter()
            .filter(|x| **x == streamforge_graph::EdgeKind::CrossAsset)
            .count(),
        rows / build_s / 1e6,
        mib(build_peak),
        if reset {
            ""
        } else {
            " (peak not reset: includes generation)"
        }
    );

    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let t = Instant::now();
    streamforge_graph::write_graph(&store, "bench", &graph)
        .await
        .unwrap();
    let write_s = t.elapsed().as_secs_f64();
    let mut bytes = 0;
    for f in ["nodes.parquet", "edges.parquet"] {
        let path = object_store::path::Path::from(format!("graphs/bench/{f}"));
        bytes += store.head(&path).await.map(|m| m.size).unwrap_or(0);
    }
    println!(
        "validate + encode + write: {write_s:.2} s ({:.0} MiB of Parquet); total {:.2} M rows/s; peak {:.0} MiB",
        bytes as f64 / 1048576.0,
        rows / (build_s + write_s) / 1e6,
        mib(status_kib("VmHWM:"))
    );
    let t = Instant::now();
    let back = streamforge_graph::read_graph(&store, "bench")
        .await
        .unwrap();
    println!(
        "read back + validate: {:.2} s ({} nodes); peak {:.0} MiB",
        t.elapsed().as_secs_f64(),
        back.nodes.len(),
        mib(status_kib("VmHWM:"))
    );
}

async fn write_lake_dir(dir: &str, data: &[SymbolCandles]) {
    let store: Arc<dyn ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir).unwrap());
    let t = Instant::now();
    let files = write_lake(&store, "", "api_candles_1m", data, 0)
        .await
        .unwrap();
    println!(
        "lake written: {} files in {:.1} s",
        files.len(),
        t.elapsed().as_secs_f64()
    );
}

/// The worker's path: lake files in, graph out, through `build_and_write`.
async fn lake_path(days: usize, k: usize, rows: f64) {
    let dir = std::env::temp_dir().join(format!("graph-builder-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env("BENCH_WRITE_LAKE", &dir)
        .status()
        .unwrap();
    assert!(status.success());
    let end = chrono::DateTime::from_timestamp_millis(START + days as i64 * 86_400_000)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let symbols = &SYMBOLS[..k];
    let vars: BTreeMap<&str, String> = BTreeMap::from([
        ("GRAPH_NAME", "bench".to_owned()),
        ("SYMBOL", symbols[0].to_owned()),
        ("SYMBOLS", symbols.join(",")),
        ("TIME_RANGE", format!("2024-01-01:{end}")),
        ("SOURCE_TYPE", "api_candles_1m".to_owned()),
        ("LAKE_DIR", dir.display().to_string()),
    ]);
    let cfg = BuilderConfig::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let (tx, _rx) = watch::channel(Progress::default());
    let t = Instant::now();
    let built = build_and_write(&cfg, &tx).await.unwrap();
    let s = t.elapsed().as_secs_f64();
    println!(
        "worker path (read {} lake rows from {} symbols x {days} days, build, write {} nodes and {} edges): {s:.2} s = {:.2} M rows/s; peak {:.0} MiB",
        built.candles,
        k,
        built.graph.nodes.len(),
        built.graph.edges.len(),
        rows / s / 1e6,
        mib(status_kib("VmHWM:"))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
