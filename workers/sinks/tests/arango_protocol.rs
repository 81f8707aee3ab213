//! The ArangoDB adapter against the in-repository protocol server, which answers as ArangoDB's
//! HTTP API documentation shows (ArangoDB cannot run on our machines). `live_*` tests run the
//! same against a real ArangoDB; they are ignored unless asked for (`--ignored`), which
//! `scripts/test.sh` does when `ARANGO_URL` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{Value, json};
use std::sync::Arc;
use streamforge_arango::testserver::{self, Shared};
use streamforge_sinks::arango::{ArangoClient, ArangoSink, WriteMode};
use streamforge_sinks::core::{Batch, Storage, StorageError};

async fn server() -> (String, Shared) {
    let (addr, state) = testserver::serve(
        "127.0.0.1:0".parse().unwrap(),
        "streamforge",
        "root",
        "secret",
    )
    .await
    .unwrap();
    (format!("http://{addr}"), state)
}

fn batch(n: usize, version: &str) -> Arc<Batch> {
    common::batch_of((0..n).map(|i| {
        let t = 1_722_470_400_000i64 + i as i64 * 60_000;
        let payload = json!({"open_time": t, "close": format!("{version}.{i}")}).to_string();
        (format!("BTCUSDT|1m|{t}"), payload)
    }))
}

fn sink(url: &str, password: &str, mode: WriteMode) -> ArangoSink {
    ArangoSink {
        client: ArangoClient::new(url, "streamforge", "root", password).unwrap(),
        collection: "btcusdt_api_candles_1m_2024_08_01".into(),
        mode,
        index_fields: vec!["open_time".into()],
    }
}

#[tokio::test]
async fn protocol_prepare_is_idempotent() {
    let (url, state) = server().await;
    let mut s = sink(&url, "secret", WriteMode::DocumentReplace);
    s.prepare().await.unwrap();
    s.prepare().await.unwrap();
    let st = state.lock().unwrap();
    let c = &st.collections["btcusdt_api_candles_1m_2024_08_01"];
    assert_eq!(c.indexes, vec![vec!["open_time".to_string()]]);
}

#[tokio::test]
async fn protocol_both_write_modes_are_idempotent_by_key() {
    for mode in [WriteMode::DocumentReplace, WriteMode::AqlUpsert] {
        let (url, state) = server().await;
        let mut s = sink(&url, "secret", mode);
        s.prepare().await.unwrap();
        let stats = s.write(batch(500, "v1")).await.unwrap();
        assert_eq!(
            (stats.records, stats.requests),
            (500, 1),
            "{mode:?}: one request per batch"
        );
        // Re-delivered with newer values: replaced, not duplicated.
        s.write(batch(500, "v2")).await.unwrap();
        let st = state.lock().unwrap();
        let docs = &st.collections["btcusdt_api_candles_1m_2024_08_01"].docs;
        assert_eq!(docs.len(), 500, "{mode:?}");
        let d = &docs["BTCUSDT%7C1m%7C1722470400000"];
        assert_eq!(d["close"], json!("v2.0"));
        assert_eq!(d["open_time"], json!(1_722_470_400_000i64));
    }
}

#[tokio::test]
async fn protocol_refusals_and_outages_are_told_apart() {
    let (url, state) = server().await;
    let mut bad = sink(&url, "wrong", WriteMode::DocumentReplace);
    let err = bad.prepare().await.unwrap_err();
    assert!(matches!(err, StorageError::Refused(_)), "{err}");
    assert!(
        err.to_string().contains("errorNum 11: not authorized"),
        "{err}"
    );

    let mut s = sink(&url, "secret", WriteMode::DocumentReplace);
    s.prepare().await.unwrap();
    state.lock().unwrap().unavailable_for = 1;
    let err = s.write(batch(3, "v")).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    s.write(batch(3, "v")).await.unwrap();

    // A missing database is a refusal with ArangoDB's error number.
    let mut other = ArangoSink {
        client: ArangoClient::new(&url, "nope", "root", "secret").unwrap(),
        ..sink(&url, "secret", WriteMode::DocumentReplace)
    };
    let err = other.prepare().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("errorNum 1228: database not found"),
        "{err}"
    );
}

#[tokio::test]
async fn protocol_graphs_for_graph_builder() {
    let (url, state) = server().await;
    let client = ArangoClient::new(&url, "streamforge", "root", "secret").unwrap();
    client
        .ensure_graph("btc_graph_5m", "btc_graph_5m_nodes", "btc_graph_5m_edges")
        .await
        .unwrap();
    client
        .ensure_graph("btc_graph_5m", "btc_graph_5m_nodes", "btc_graph_5m_edges")
        .await
        .unwrap();
    let edge = json!({"_key": "a-b", "_from": "btc_graph_5m_nodes/a", "_to": "btc_graph_5m_nodes/b", "weight": 0.5});
    client
        .replace_documents("btc_graph_5m_edges", &[edge])
        .await
        .unwrap();
    let err = client
        .replace_documents("btc_graph_5m_edges", &[json!({"_key": "x"})])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("errorNum 1233"), "{err}");
    let st = state.lock().unwrap();
    assert!(st.graphs.contains_key("btc_graph_5m"));
    assert!(st.collections["btc_graph_5m_edges"].edge);
}

#[tokio::test]
async fn protocol_requests_and_bytes_per_write_mode() {
    // The figures docs/benchmarks.md records, from the protocol server's counters.
    for mode in [WriteMode::DocumentReplace, WriteMode::AqlUpsert] {
        let (url, state) = server().await;
        let mut s = sink(&url, "secret", mode);
        s.prepare().await.unwrap();
        let before = state.lock().unwrap().counters.clone();
        let b = batch(5000, "v1");
        s.write(b.clone()).await.unwrap();
        let after = state.lock().unwrap().counters.clone();
        let (req, bytes): (u64, u64) = after
            .iter()
            .map(|(k, (r, by))| {
                let (r0, b0) = before.get(k).copied().unwrap_or_default();
                (r - r0, by - b0)
            })
            .fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.1));
        println!(
            "{mode:?}: {req} request(s) per 5,000-record batch, {:.1} bytes per record",
            bytes as f64 / 5000.0
        );
        assert_eq!(req, 1);
    }
}

/// Against a real ArangoDB: `ARANGO_URL=http://host:8529 ARANGO_PASSWORD=... cargo test -p
/// streamforge-sinks --test arango_protocol -- --ignored live_`; `scripts/test.sh` runs it when
/// `ARANGO_URL` is set and otherwise counts it as skipped.
#[tokio::test]
#[ignore = "needs ARANGO_URL"]
async fn live_arango_round_trip() {
    let url = std::env::var("ARANGO_URL")
        .expect("ARANGO_URL: the ArangoDB to test against, e.g. http://127.0.0.1:8529");
    let user = std::env::var("ARANGO_USER").unwrap_or_else(|_| "root".into());
    let password = std::env::var("ARANGO_PASSWORD").unwrap_or_default();
    let db = std::env::var("ARANGO_DB").unwrap_or_else(|_| "_system".into());
    let mut s = ArangoSink {
        client: ArangoClient::new(&url, &db, &user, &password).unwrap(),
        collection: format!("streamforge_live_test_{}", std::process::id()),
        mode: WriteMode::DocumentReplace,
        index_fields: vec!["open_time".into()],
    };
    s.prepare().await.unwrap();
    s.write(batch(100, "v1")).await.unwrap();
    s.write(batch(100, "v2")).await.unwrap();
    s.mode = WriteMode::AqlUpsert;
    s.write(batch(100, "v3")).await.unwrap();
    let count = s
        .client
        .post(
            "/_api/cursor",
            &json!({"query": "RETURN LENGTH(@@c)", "bindVars": {"@c": s.collection}}),
        )
        .await
        .unwrap();
    assert_eq!(count["result"][0], Value::from(100));
}
