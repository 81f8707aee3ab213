//! What the graph-builder's I/O tests share: lake files shaped exactly as the lake-connector
//! writes them (its own encoder, its own paths), and settings for a run.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;
use serde_json::json;
use streamforge_graph_builder::candles::SymbolCandles;
use streamforge_graph_builder::config::BuilderConfig;
use streamforge_sinks::core::record;
use streamforge_sinks::lake::layout::{OffsetRange, PATH_COLUMNS, PartitionDir, file_name};
use streamforge_sinks::lake::parquet_file::encode;

pub const T0: i64 = 1_722_470_400_000; // 2024-08-01 00:00 UTC
pub const MIN: i64 = 60_000;
pub const DAY: i64 = 86_400_000;

/// The candle record the loader sends (prices as decimal strings).
pub fn record_json(symbol: &str, c: &streamforge_graph_builder::candles::Candle) -> String {
    json!({
        "symbol": symbol, "interval": "1m", "open_time": c.open_time,
        "close_time": c.open_time + MIN - 1,
        "open": format!("{:.8}", c.open), "high": format!("{:.8}", c.high),
        "low": format!("{:.8}", c.low), "close": format!("{:.8}", c.close),
        "volume": format!("{:.8}", c.volume), "quote_volume": "0.0", "trades": 7,
        "taker_buy_base": "0.0", "taker_buy_quote": "0.0",
    })
    .to_string()
}

/// Write `data` into `store` as the lake-connector would: one file per (symbol, date) from a
/// batch at `offset`, under `prefix`, for data type `kind`. Returns the paths written.
pub async fn write_lake(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
    kind: &str,
    data: &[SymbolCandles],
    offset: i64,
) -> Vec<String> {
    let mut groups: BTreeMap<PartitionDir, Vec<record::Record>> = BTreeMap::new();
    let mut o = offset;
    for s in data {
        for c in &s.candles {
            let key = format!("{}|1m|{}", s.symbol, c.open_time);
            let payload = record_json(&s.symbol, c);
            let r =
                record::parse(Some(key.as_bytes()), Some(payload.as_bytes()), 0, o, None).unwrap();
            o += 1;
            groups
                .entry(PartitionDir::of(&r, &s.symbol, kind))
                .or_default()
                .push(r);
        }
    }
    let mut paths = vec![];
    for (dir, records) in groups {
        let refs: Vec<&record::Record> = records.iter().collect();
        let bytes = encode(&refs, &PATH_COLUMNS).unwrap();
        let range = OffsetRange {
            partition: 0,
            start: records[0].offset,
            end: records[records.len() - 1].offset,
        };
        let path = format!(
            "{}/{}",
            dir.path(prefix),
            file_name("wf-test-data", &[range])
        );
        store
            .put(&Path::from(path.as_str()), bytes.into())
            .await
            .unwrap();
        paths.push(path);
    }
    paths
}

/// Builder settings for graph `name` of `symbols` over `range`, with extra variables.
pub fn config(name: &str, symbols: &str, range: &str, extra: &[(&str, String)]) -> BuilderConfig {
    let mut vars: BTreeMap<String, String> = BTreeMap::from([
        ("GRAPH_NAME".into(), name.into()),
        ("SYMBOL".into(), symbols.split(',').next().unwrap().into()),
        ("SYMBOLS".into(), symbols.into()),
        ("TIME_RANGE".into(), range.into()),
        ("SOURCE_TYPE".into(), "api_candles_1m".into()),
        ("CORRELATION_THRESHOLD".into(), "0.3".into()),
    ]);
    for (k, v) in extra {
        vars.insert((*k).into(), v.clone());
    }
    BuilderConfig::from_lookup(|k| vars.get(k).cloned()).unwrap()
}

pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(streamforge_kit::testing::unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
