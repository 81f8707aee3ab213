//! The worker families of the seed's image table that came last, each in the cluster with its
//! real image: `api_orderbook` (REST depth snapshots on a grid) against the exchange simulator,
//! `loader-generic` loading a CSV from MinIO (`manual_upload`) and following the simulator's
//! trade WebSocket as a generic JSON feed (`json_feed`), and `arango-graph-prep` (arango-connector
//! with `graph_rsi_vol`) building a graph from candles an earlier Queue stored in the ArangoDB
//! protocol server. Run one at a time (`--test-threads=1`): they share ports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use kube::api::Api;
use serde_json::Value;
use streamforge_api::{Phase, Queue, naming};
use streamforge_e2e::{read_topic, wait_phase};

use common::*;

/// The pod bridge gateway, where pods reach the test process (e2e/helm-values.yaml).
const GATEWAY: &str = "10.88.0.1";

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn queue_yaml(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: streamforge.io/v1alpha1\nkind: Queue\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

fn status_of(q: &Queue) -> &streamforge_api::QueueStatus {
    q.status.as_ref().unwrap()
}

fn arango_docs(s: &Services, collection: &str) -> Vec<Value> {
    let st = s.arango.lock().unwrap();
    st.collections
        .get(collection)
        .map(|c| c.docs.values().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn e2e_f1_api_orderbook_takes_snapshots_on_its_grid_into_both_sinks() {
    let Some((env, client)) = setup("e2e_f1").await else {
        return;
    };
    let symbol = fresh_symbol('O');
    let s = services(&[&symbol]).await;
    let name = "f1-book-snapshots";
    env.delete_queue(name);
    // Four grid points (5 weight each) inside one clock minute that starts at least 30 s from
    // now: the loader's exchangeInfo (20) falls in the minute before, and the weight budget of
    // the e2e values (24 a minute) carries all four.
    let now = Utc::now();
    let next_minute = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap()
        + chrono::Duration::minutes(1);
    let next_minute = if next_minute - now < chrono::Duration::seconds(30) {
        next_minute + chrono::Duration::minutes(1)
    } else {
        next_minute
    };
    let start = next_minute + chrono::Duration::seconds(2);
    let end = start + chrono::Duration::seconds(20);
    env.apply(&queue_yaml(
        name,
        &format!(
            "  target: loader-producer\n  type: api_orderbook\n  symbol: {symbol}\n  timeRange: \"{}/{}\"\n  snapshotIntervalSeconds: 5\n  depthLimit: 20\n  sinks: [arango, lake]\n",
            instant(start),
            instant(end)
        ),
    ))
    .unwrap();
    let api: Api<Queue> = Api::namespaced(client, &env.namespace);
    wait_phase(&api, name, Phase::Succeeded, Duration::from_secs(240)).await;
    let q = wait_all_final(&api, name, 3).await;
    let st = status_of(&q);
    assert_eq!(st.records_written, Some(4), "{st:?}");
    assert_eq!(
        producer(&q, "loader-producer__").records_written,
        4,
        "{st:?}"
    );
    let collection = naming::collection_name(&symbol, "api_orderbook", start);
    let docs = arango_docs(&s, &collection);
    assert_eq!(docs.len(), 4, "{collection}: {docs:?}");
    let mut ids: Vec<i64> = docs
        .iter()
        .map(|d| {
            assert_eq!(d["kind"], "snapshot", "{d}");
            assert_eq!(d["bids"].as_array().unwrap().len(), 20, "{d}");
            d["last_update_id"].as_i64().unwrap()
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "each snapshot a later book: {ids:?}");
    let l = lake(&symbol);
    assert_eq!(l["rows"].as_u64(), Some(4), "{l}");
    env.delete_queue(name);
}

/// 1m candles of 2024-08-01 00:00 onwards as a user's CSV with their own column names, and
/// one row whose open price is not a number.
fn upload_csv(rows: usize) -> String {
    let mut csv = String::from(
        "ts,o,h,l,c,v,close_time,quote_volume,trades,taker_buy_base,taker_buy_quote\n",
    );
    let t0 = 1_722_470_400_000_i64;
    for i in 0..rows {
        let t = t0 + i as i64 * 60_000;
        let p = 60_000 + i;
        csv.push_str(&format!(
            "{t},{p}.10,{}.50,{}.00,{p}.20,1.5,{},90000.0,12,0.7,42000.0\n",
            p + 1,
            p - 1,
            t + 59_999
        ));
        if i == rows / 2 {
            csv.push_str(&format!(
                "{},not-a-price,1,1,1,1,{},1,1,1,1\n",
                t0 + 10 * 86_400_000,
                t0 + 10 * 86_400_000 + 59_999
            ));
        }
    }
    csv
}

#[tokio::test]
async fn e2e_f2_manual_upload_loads_a_users_csv_from_minio_into_the_lake() {
    let Some((env, client)) = setup("e2e_f2").await else {
        return;
    };
    let symbol = fresh_symbol('U');
    let name = "f2-manual-upload";
    env.delete_queue(name);
    let file = std::env::temp_dir().join(format!("{symbol}.csv"));
    std::fs::write(&file, upload_csv(90)).unwrap();
    s3(&["mb", "uploads"]);
    let key = format!("{symbol}-1m.csv");
    s3(&["put", "uploads", &key, file.to_str().unwrap()]);
    env.apply(&queue_yaml(
        name,
        &format!(
            "  target: loader-generic\n  type: manual_upload\n  symbol: {symbol}\n  source:\n    url: s3://uploads/{key}\n    records: candles\n    interval: 1m\n    columns: {{open_time: ts, open: o, high: h, low: l, close: c, volume: v}}\n  sinks: [lake]\n"
        ),
    ))
    .unwrap();
    let api: Api<Queue> = Api::namespaced(client, &env.namespace);
    wait_phase(&api, name, Phase::Succeeded, Duration::from_secs(240)).await;
    let q = wait_all_final(&api, name, 2).await;
    let st = status_of(&q);
    assert_eq!(st.records_written, Some(90), "{st:?}");
    assert_eq!(producer(&q, "loader-generic__").records_written, 90);
    let l = lake(&symbol);
    assert_eq!(
        (l["rows"].as_u64(), l["distinct_keys"].as_u64()),
        (Some(90), Some(90)),
        "{l}"
    );
    // The bad row went to the dead-letter topic with its reason.
    let topic = format!(
        "{}-dlq",
        naming::data_topic(st.queue_id.as_deref().unwrap())
    );
    let dead = read_topic(&env.kafka, &topic, |p| Some(p.to_vec()))
        .await
        .unwrap_or_default();
    assert_eq!(dead.len(), 1, "{topic}: {dead:?}");
    env.delete_queue(name);
}

#[tokio::test]
async fn e2e_f3_json_feed_follows_a_websocket_until_its_range_ends() {
    let Some((env, client)) = setup("e2e_f3").await else {
        return;
    };
    let symbol = fresh_symbol('J');
    let s = services(&[&symbol]).await;
    let name = "f3-json-feed";
    env.delete_queue(name);
    let start = Utc::now();
    let end = start + chrono::Duration::seconds(40);
    env.apply(&queue_yaml(
        name,
        &format!(
            "  target: loader-generic\n  type: json_feed\n  symbol: {symbol}\n  timeRange: \"{}/{}\"\n  source:\n    url: ws://{GATEWAY}:{SIM_PORT}/ws/{}@trade\n    keyField: t\n  sinks: [arango]\n",
            instant(start),
            instant(end),
            symbol.to_lowercase()
        ),
    ))
    .unwrap();
    let api: Api<Queue> = Api::namespaced(client, &env.namespace);
    wait_phase(&api, name, Phase::Succeeded, Duration::from_secs(240)).await;
    let q = wait_all_final(&api, name, 2).await;
    let st = status_of(&q);
    let written = st.records_written.unwrap_or_default();
    assert!(written > 0, "{st:?}");
    let collection = naming::collection_name(&symbol, "json_feed", start);
    let docs = arango_docs(&s, &collection);
    assert_eq!(docs.len() as u64, written, "{collection}");
    for d in &docs {
        assert_eq!(d["e"], "trade", "{d}");
        assert_eq!(d["s"], symbol.as_str(), "{d}");
        assert_eq!(d["_key"], d["t"].to_string(), "keyed by the field t: {d}");
    }
    env.delete_queue(name);
}

#[tokio::test]
async fn e2e_f4_arango_graph_prep_builds_an_rsi_vol_graph_from_stored_candles() {
    let Some((env, client)) = setup("e2e_f4").await else {
        return;
    };
    let symbol = fresh_symbol('G');
    let s = services(&[&symbol]).await;
    let (loader, prep) = ("f4-candles", "f4-graph-prep");
    env.delete_queue(prep);
    env.delete_queue(loader);
    let collection = format!("{}_api_candles_1m_2024_08_01", symbol.to_lowercase());
    let graph = format!("prep_{}", symbol.to_lowercase());
    // The seed's flow as written there: the loader stores candles through arango-connector,
    // then arango-connector's graph type (image arango-graph-prep) builds the graph.
    env.apply(&queue_yaml(
        loader,
        &format!(
            "  target: loader-producer\n  type: api_candles_1m\n  symbol: {symbol}\n  timeRange: \"2024-08-01:2024-08-02\"\n  sinks: [arango]\n"
        ),
    ))
    .unwrap();
    env.apply(&queue_yaml(
        prep,
        &format!(
            "  target: arango-connector\n  type: graph_rsi_vol\n  symbol: {symbol}\n  timeRange: \"2024-08-01:2024-08-02\"\n  graphName: {graph}\n  graphSource: arango\n  collectionName: {collection}\n  sourceType: api_candles_1m\n  after: [{loader}]\n"
        ),
    ))
    .unwrap();
    let api: Api<Queue> = Api::namespaced(client, &env.namespace);
    let q = wait_phase(&api, prep, Phase::Succeeded, Duration::from_secs(300)).await;
    let st = status_of(&q);
    let graph_status = st.graph.clone().unwrap();
    assert_eq!(
        graph_status.graph_name.as_deref(),
        Some(graph.as_str()),
        "{st:?}"
    );
    // A day of 1m candles without gaps: every window past the 20-candle warm-up is a node.
    let nodes = arango_docs(&s, &format!("{graph}_nodes"));
    assert_eq!(nodes.len(), 1440 - 20, "{st:?}");
    for n in &nodes {
        assert!((0.0..=100.0).contains(&n["rsi"].as_f64().unwrap()), "{n}");
        assert!(n["volatility"].as_f64().unwrap() >= 0.0, "{n}");
        assert!(n.get("vwap_gap").is_none(), "RSI and volatility only: {n}");
    }
    assert!(s.arango.lock().unwrap().graphs.contains_key(&graph));
    env.delete_queue(prep);
    env.delete_queue(loader);
}
