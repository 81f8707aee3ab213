//! ArangoDB as source and destination, against the protocol-level test server
//! (`streamforge_arango::testserver`; ArangoDB itself cannot run here): candles read by a paged
//! AQL cursor, the graph written as a named graph whose rerun replaces it, and errors sorted
//! into permanent (missing collection) and passing (an outage).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;
use streamforge_arango::ArangoClient;
use streamforge_arango::testserver::{Shared, serve};
use streamforge_graph_builder::arango_graph::node_key;
use streamforge_graph_builder::synthetic::market;
use streamforge_graph_builder::worker::{Built, Progress, build_and_write};
use streamforge_kit::lifecycle::Failure;
use tokio::sync::watch;

async fn server_with_candles() -> (String, Shared) {
    let (addr, state) = serve("127.0.0.1:0".parse().unwrap(), "streamforge", "root", "pw")
        .await
        .unwrap();
    let url = format!("http://{addr}");
    let client = ArangoClient::new(&url, "streamforge", "root", "pw").unwrap();
    client.ensure_collection("candles_1m", false).await.unwrap();
    // A day before the range, the range's two days, a day after.
    for s in market(&["BTCUSDT", "ETHUSDT"], T0 - DAY, MIN, 4 * 1440, 8) {
        let docs: Vec<Value> = s
            .candles
            .iter()
            .map(|c| {
                let mut d: Value = serde_json::from_str(&record_json(&s.symbol, c)).unwrap();
                d["_key"] = format!("{}%7C1m%7C{}", s.symbol, c.open_time).into();
                d
            })
            .collect();
        client.replace_documents("candles_1m", &docs).await.unwrap();
    }
    (url, state)
}

fn arango_config(
    url: &str,
    name: &str,
    range: &str,
    collection: &str,
) -> streamforge_graph_builder::config::BuilderConfig {
    config(
        name,
        "BTCUSDT,ETHUSDT",
        range,
        &[
            ("GRAPH_SOURCE", "arango".into()),
            ("ARANGO_URL", url.into()),
            ("ARANGO_PASSWORD", "pw".into()),
            ("COLLECTION_NAME", collection.into()),
            ("LAKE_DIR", temp_dir("gb-arango").display().to_string()),
        ],
    )
}

async fn build(cfg: &streamforge_graph_builder::config::BuilderConfig) -> Result<Built, Failure> {
    let (tx, _rx) = watch::channel(Progress::default());
    build_and_write(cfg, &tx).await
}

#[tokio::test]
async fn protocol_candles_from_an_aql_cursor_become_a_named_graph() {
    let (url, state) = server_with_candles().await;
    let built = build(&arango_config(
        &url,
        "g1",
        "2024-08-01:2024-08-03",
        "candles_1m",
    ))
    .await
    .unwrap();
    let g = &built.graph;
    assert_eq!(built.candles, 2 * 2 * 1440, "only the range was read");
    assert_eq!(built.arango_graph.as_deref(), Some("g1"));
    let st = state.lock().unwrap();
    let def = &st.graphs["g1"]["edgeDefinitions"][0];
    assert_eq!(def["collection"], "g1_edges");
    assert_eq!(def["from"][0], "g1_nodes");
    assert_eq!(def["to"][0], "g1_nodes");
    let nodes = &st.collections["g1_nodes"];
    let edges = &st.collections["g1_edges"];
    assert!(!nodes.edge && edges.edge);
    assert_eq!(nodes.docs.len(), g.nodes.len());
    assert_eq!(edges.docs.len(), g.edges.len());
    // Every edge joins two stored vertices, in the direction of the graph's edge.
    let ids: BTreeSet<String> = nodes.docs.keys().map(|k| format!("g1_nodes/{k}")).collect();
    for e in edges.docs.values() {
        assert!(
            ids.contains(e["_from"].as_str().unwrap()) && ids.contains(e["_to"].as_str().unwrap())
        );
        let (src, dst) = (
            e["src"].as_i64().unwrap() as usize,
            e["dst"].as_i64().unwrap() as usize,
        );
        assert_eq!(
            e["_from"],
            format!(
                "g1_nodes/{}",
                node_key(&g.nodes.symbol[src], g.nodes.window_start[src]).unwrap()
            )
        );
        assert_eq!(
            e["_to"],
            format!(
                "g1_nodes/{}",
                node_key(&g.nodes.symbol[dst], g.nodes.window_start[dst]).unwrap()
            )
        );
    }
    let last = nodes.docs[&format!("BTCUSDT_{}", T0 + 2 * DAY - MIN)].clone();
    assert_eq!(last["price_up"], Value::Null, "no future in the data");
    assert!(last["rsi"].is_f64());
    assert_eq!(
        last["node_id"].as_i64().unwrap() as usize,
        g.nodes.len() / 2 - 1
    );
    // The read went through the cursor endpoint only.
    assert!(st.counters["cursor"].0 >= 2);
}

#[tokio::test]
async fn protocol_a_rerun_replaces_the_named_graph_rather_than_adding_to_it() {
    let (url, state) = server_with_candles().await;
    let first = build(&arango_config(
        &url,
        "g2",
        "2024-08-01:2024-08-03",
        "candles_1m",
    ))
    .await
    .unwrap();
    let first_key = node_key("ETHUSDT", T0 + DAY).unwrap();
    let before = state.lock().unwrap().collections["g2_nodes"].docs[&first_key].clone();
    let second = build(&arango_config(
        &url,
        "g2",
        "2024-08-01:2024-08-02",
        "candles_1m",
    ))
    .await
    .unwrap();
    assert!(second.graph.nodes.len() < first.graph.nodes.len());
    let st = state.lock().unwrap();
    assert_eq!(
        st.collections["g2_nodes"].docs.len(),
        second.graph.nodes.len(),
        "nothing left of the first build"
    );
    assert_eq!(
        st.collections["g2_edges"].docs.len(),
        second.graph.edges.len()
    );
    assert!(
        !st.collections["g2_nodes"].docs.contains_key(&first_key),
        "a window outside the new range is gone"
    );
    let key = node_key("BTCUSDT", T0 + 600 * MIN).unwrap();
    assert!(
        st.collections["g2_nodes"].docs.contains_key(&key),
        "same window, same key"
    );
    assert_eq!(before["symbol"], "ETHUSDT");
}

#[tokio::test]
async fn protocol_a_missing_collection_is_permanent_and_an_outage_passing() {
    let (url, state) = server_with_candles().await;
    let Err(Failure::Permanent(m)) =
        build(&arango_config(&url, "g3", "2024-08-01:2024-08-03", "nope")).await
    else {
        panic!("expected a permanent failure");
    };
    assert!(m.contains("collection nope does not exist"), "{m}");
    state.lock().unwrap().unavailable_for = 1_000;
    let Err(Failure::Transient(m)) = build(&arango_config(
        &url,
        "g3",
        "2024-08-01:2024-08-03",
        "candles_1m",
    ))
    .await
    else {
        panic!("expected a passing failure");
    };
    assert!(m.contains("503"), "{m}");
}

#[tokio::test]
async fn protocol_a_collection_per_symbol() {
    let (url, _state) = server_with_candles().await;
    let client = ArangoClient::new(&url, "streamforge", "root", "pw").unwrap();
    for sym in ["btcusdt", "ethusdt"] {
        client
            .ensure_collection(&format!("{sym}_api_candles_1m"), false)
            .await
            .unwrap();
    }
    let s = market(&["BTCUSDT", "ETHUSDT"], T0, MIN, 100, 3);
    for x in &s {
        let docs: Vec<Value> = x
            .candles
            .iter()
            .map(|c| {
                let mut d: Value = serde_json::from_str(&record_json(&x.symbol, c)).unwrap();
                d["_key"] = c.open_time.to_string().into();
                d
            })
            .collect();
        client
            .replace_documents(
                &format!("{}_api_candles_1m", x.symbol.to_lowercase()),
                &docs,
            )
            .await
            .unwrap();
    }
    let built = build(&arango_config(
        &url,
        "g4",
        "2024-08-01:2024-08-02",
        "{symbol}_api_candles_1m",
    ))
    .await
    .unwrap();
    assert_eq!(built.candles, 200);
}

/// The seed's `arango-graph-prep`: arango-connector with `graph_rsi_vol` is graph-builder's
/// program; its graph lands in ArangoDB as a named graph whose nodes carry RSI and volatility.
#[tokio::test]
async fn protocol_arango_graph_prep_writes_an_rsi_vol_named_graph() {
    let (url, state) = server_with_candles().await;
    let mut cfg = config(
        "prep",
        "BTCUSDT,ETHUSDT",
        "2024-08-01:2024-08-03",
        &[
            ("TARGET", "arango-connector".into()),
            ("TYPE", "graph_rsi_vol".into()),
            ("GRAPH_SOURCE", "arango".into()),
            ("ARANGO_URL", url.clone()),
            ("ARANGO_PASSWORD", "pw".into()),
            ("COLLECTION_NAME", "candles_1m".into()),
            ("LAKE_DIR", temp_dir("gb-prep").display().to_string()),
        ],
    );
    assert_eq!(cfg.data_type, "graph_rsi_vol");
    let built = build(&cfg).await.unwrap();
    assert_eq!(built.graph.manifest.features, ["volatility", "rsi"]);
    assert_eq!(built.arango_graph.as_deref(), Some("prep"));
    {
        let st = state.lock().unwrap();
        assert!(st.graphs.contains_key("prep"));
        let nodes = &st.collections["prep_nodes"];
        assert_eq!(nodes.docs.len(), built.graph.nodes.len());
        for doc in nodes.docs.values() {
            let rsi = doc["rsi"].as_f64().unwrap();
            assert!((0.0..=100.0).contains(&rsi), "{doc}");
            assert!(doc["volatility"].as_f64().unwrap() >= 0.0, "{doc}");
            assert!(
                doc.get("vwap_gap").is_none(),
                "only the two features: {doc}"
            );
        }
    }
    cfg.data_type = "graph_build".into();
    let full = build(&cfg).await.unwrap();
    assert_eq!(full.graph.nodes.len(), built.graph.nodes.len());
}
