//! Reading candles from a lake the lake-connector's way (its encoder, its paths) in a local
//! directory and in a real S3 server (MinIO), building, and writing the graph back; bad input
//! (no candles, a broken Parquet file) ends in a clear permanent error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use streamforge_graph::read_graph;
use streamforge_graph_builder::features::WARM_UP;
use streamforge_graph_builder::synthetic::market;
use streamforge_graph_builder::worker::{Progress, build_and_write};
use streamforge_kit::lifecycle::Failure;
use streamforge_kit::testing::{TEST_PYTHON, TEST_S3, required_env, unique};
use streamforge_sinks::lake::LakeLocation;
use tokio::sync::watch;

/// Two days of BTCUSDT and ETHUSDT minutes from 2024-08-01 00:00, plus a day before and after
/// the range that must not be read, and the first day of BTCUSDT written twice (a replay).
async fn fill(store: &Arc<dyn ObjectStore>, prefix: &str) {
    let all = market(&["BTCUSDT", "ETHUSDT"], T0 - DAY, MIN, 4 * 1440, 42);
    write_lake(store, prefix, "api_candles_1m", &all, 0).await;
    let mut replay = all[..1].to_vec();
    replay[0]
        .candles
        .retain(|c| (T0..T0 + DAY).contains(&c.open_time));
    write_lake(store, prefix, "api_candles_1m", &replay, 100_000).await;
}

async fn run(
    cfg: &streamforge_graph_builder::config::BuilderConfig,
) -> Result<streamforge_graph_builder::worker::Built, Failure> {
    let (tx, _rx) = watch::channel(Progress::default());
    build_and_write(cfg, &tx).await
}

const RANGE: &str = "2024-08-01:2024-08-03";

#[tokio::test]
async fn a_local_lake_becomes_a_graph_in_the_same_lake() {
    let dir = temp_dir("gb-lake");
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&dir).unwrap());
    fill(&store, "market").await;
    let cfg = config(
        "btc_eth",
        "BTCUSDT,ETHUSDT",
        RANGE,
        &[
            ("LAKE_DIR", dir.display().to_string()),
            ("LAKE_PREFIX", "market".into()),
        ],
    );
    let built = run(&cfg).await.unwrap();
    // Two days in range per symbol; the replayed day counts as rows read, not as candles.
    assert_eq!(built.candles, 2 * 2 * 1440 + 1440);
    let g = read_graph(&store, "btc_eth").await.unwrap();
    assert_eq!(g, *built.graph);
    assert_eq!(g.nodes.len(), 2 * (2 * 1440 - WARM_UP));
    assert_eq!(
        g.nodes.window_start[0],
        T0 + WARM_UP as i64 * MIN,
        "nothing before the range"
    );
    assert_eq!(
        *g.nodes.window_start.iter().max().unwrap(),
        T0 + 2 * DAY - MIN,
        "nothing after"
    );
    assert!(
        built.graph_path.ends_with("/graphs/btc_eth/"),
        "{}",
        built.graph_path
    );
    assert!(dir.join("graphs/btc_eth/manifest.json").is_file());
    assert_eq!(g.manifest.parameters["lake_prefix"], "market");

    // pyarrow, a reader independent of ours, sees the documented schema.
    if let Some(py) = required_env("graph read by pyarrow", TEST_PYTHON, "pyarrow") {
        let script = r#"
import json, sys, pyarrow.parquet as pq
n = pq.read_table(sys.argv[1] + "/nodes.parquet")
e = pq.read_table(sys.argv[1] + "/edges.parquet")
print(json.dumps({"rows": n.num_rows, "types": {f.name: str(f.type) for f in n.schema},
  "nulls": n.column("price_up").null_count, "edges": e.num_rows,
  "kinds": sorted(set(e.column("kind").to_pylist()))}))
"#;
        let out = std::process::Command::new(py)
            .args(["-c", script, dir.join("graphs/btc_eth").to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["rows"], g.nodes.len());
        assert_eq!(v["edges"], g.edges.len());
        assert_eq!(v["nulls"], 2, "each symbol's last window");
        assert_eq!(v["types"]["node_id"], "int64");
        assert_eq!(v["types"]["symbol"], "string");
        assert_eq!(v["types"]["rsi"], "double");
        assert_eq!(v["types"]["price_up"], "int64");
        assert_eq!(v["kinds"], serde_json::json!(["cross_asset", "temporal"]));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_real_s3_lake_becomes_a_graph() {
    let Some(endpoint) = required_env("a_real_s3_lake_becomes_a_graph", TEST_S3, "a MinIO server")
    else {
        return;
    };
    let access = std::env::var("STREAMFORGE_TEST_S3_ACCESS_KEY").unwrap_or_default();
    let secret = std::env::var("STREAMFORGE_TEST_S3_SECRET_KEY").unwrap_or_default();
    let bucket: String = unique("gb").to_lowercase().chars().take(63).collect();
    let cfg = config(
        "btc_eth_s3",
        "BTCUSDT,ETHUSDT",
        RANGE,
        &[
            ("MINIO_ENDPOINT", endpoint.clone()),
            ("MINIO_BUCKET", bucket.clone()),
            ("MINIO_ACCESS_KEY", access),
            ("MINIO_SECRET_KEY", secret),
        ],
    );
    let lake = streamforge_sinks::lake::store::open(&cfg.lake).unwrap();
    lake.ensure_bucket().await.unwrap();
    fill(&lake.store, "").await;
    let built = run(&cfg).await.unwrap();
    assert_eq!(
        built.graph_path,
        format!("s3://{bucket}/graphs/btc_eth_s3/")
    );
    let g = read_graph(&lake.store, "btc_eth_s3").await.unwrap();
    assert_eq!(g.nodes.len(), 2 * (2 * 1440 - WARM_UP));
    assert!(
        g.edges
            .kind
            .contains(&streamforge_graph::EdgeKind::CrossAsset)
    );
    assert!(matches!(cfg.lake, LakeLocation::S3 { .. }));
}

#[tokio::test]
async fn no_candles_is_a_permanent_error_that_says_where_it_looked() {
    let dir = temp_dir("gb-empty");
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&dir).unwrap());
    fill(&store, "").await;
    let cfg = config(
        "g",
        "BTCUSDT,SOLUSDT",
        RANGE,
        &[("LAKE_DIR", dir.display().to_string())],
    );
    let Err(Failure::Permanent(m)) = run(&cfg).await else {
        panic!("expected a permanent failure");
    };
    assert!(
        m.contains("no api_candles_1m candles in 2024-08-01:2024-08-03"),
        "{m}"
    );
    assert!(
        m.contains("SOLUSDT: 0 file(s) under symbol=SOLUSDT/type=api_candles_1m/month=2024-08"),
        "{m}"
    );
    assert!(m.contains(&dir.display().to_string()), "{m}");
    assert!(!m.contains("BTCUSDT:"), "BTCUSDT has candles: {m}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_broken_parquet_file_is_a_permanent_error_naming_it() {
    let dir = temp_dir("gb-broken");
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&dir).unwrap());
    fill(&store, "").await;
    let bad = "symbol=ETHUSDT/type=api_candles_1m/month=2024-08/zz-broken.parquet";
    store
        .put(&Path::from(bad), b"PAR1 not really".to_vec().into())
        .await
        .unwrap();
    let cfg = config(
        "g",
        "BTCUSDT,ETHUSDT",
        RANGE,
        &[("LAKE_DIR", dir.display().to_string())],
    );
    let Err(Failure::Permanent(m)) = run(&cfg).await else {
        panic!("expected a permanent failure");
    };
    assert!(m.contains(bad), "{m}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_price_that_is_not_a_number_is_a_permanent_error_naming_the_row() {
    let dir = temp_dir("gb-badprice");
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&dir).unwrap());
    let key = format!("X|1m|{T0}");
    let payload = format!(
        r#"{{"symbol":"X","open_time":{T0},"open":"1","high":"1","low":"1","close":"n/a","volume":"1"}}"#
    );
    let r = streamforge_sinks::core::record::parse(
        Some(key.as_bytes()),
        Some(payload.as_bytes()),
        0,
        0,
        None,
    )
    .unwrap();
    let bytes = streamforge_sinks::lake::parquet_file::encode(
        &[&r],
        streamforge_sinks::lake::layout::Grain::Month.path_columns(),
    )
    .unwrap();
    store
        .put(
            &Path::from("symbol=X/type=api_candles_1m/month=2024-08/t-p0-0-0.parquet"),
            bytes.into(),
        )
        .await
        .unwrap();
    let cfg = config("g", "X", RANGE, &[("LAKE_DIR", dir.display().to_string())]);
    let Err(Failure::Permanent(m)) = run(&cfg).await else {
        panic!("expected a permanent failure");
    };
    assert!(m.contains("row 0: close \"n/a\" is not a number"), "{m}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn decimal_prices_read_as_the_numbers_their_text_says() {
    let payload = format!(
        r#"{{"symbol":"X","open_time":{T0},"open":"42000.12345678","high":"99999.99999999","low":"0.00000001","close":"-1.5","volume":"123456789012.5"}}"#
    );
    let key = format!("X|1m|{T0}");
    let r = streamforge_sinks::core::record::parse(
        Some(key.as_bytes()),
        Some(payload.as_bytes()),
        0,
        0,
        None,
    )
    .unwrap();
    let bytes = streamforge_sinks::lake::parquet_file::encode(
        &[&r],
        streamforge_sinks::lake::layout::Grain::Month.path_columns(),
    )
    .unwrap();
    let cols = streamforge_graph::columns::ParquetColumns::open(bytes.clone(), "f").unwrap();
    assert!(
        cols.is_decimal("close"),
        "the connector stores prices as decimals"
    );
    let values: Vec<f64> = ["open", "high", "low", "close", "volume"]
        .iter()
        .map(|c| cols.decimals(c).unwrap()[0].unwrap())
        .collect();
    let texts = [
        "42000.12345678",
        "99999.99999999",
        "0.00000001",
        "-1.5",
        "123456789012.5",
    ];
    let parsed: Vec<f64> = texts.iter().map(|t| t.parse().unwrap()).collect();
    assert_eq!(values, parsed);
}
