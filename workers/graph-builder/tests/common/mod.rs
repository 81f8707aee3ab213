//! What the graph-builder's I/O tests share: lake files shaped exactly as the lake-connector
//! writes them (its own encoder, its own paths), and settings for a run.

#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;
use std::sync::Arc;

use object_store::ObjectStore;
use streamforge_graph_builder::candles::SymbolCandles;
use streamforge_graph_builder::config::BuilderConfig;

pub const T0: i64 = 1_722_470_400_000; // 2024-08-01 00:00 UTC
pub const MIN: i64 = 60_000;
pub const DAY: i64 = 86_400_000;

pub use streamforge_graph_builder::synthetic::record_json;

/// [`streamforge_graph_builder::synthetic::write_lake`], which must work in tests.
pub async fn write_lake(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
    kind: &str,
    data: &[SymbolCandles],
    offset: i64,
) -> Vec<String> {
    streamforge_graph_builder::synthetic::write_lake(store, prefix, kind, data, offset)
        .await
        .unwrap()
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
