//! The CRD's validation rules, evaluated client-side with the same CEL semantics the API server
//! uses (kube's `cel` feature). The real API server runs them in the end-to-end suite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kube::CustomResourceExt;
use serde_json::{Value, json};
use streamforge_api::{Queue, QueueSpec, SinkKind, Target};

fn spec() -> QueueSpec {
    serde_json::from_value(json!({
        "target": "loader-producer",
        "type": "api_candles_5m",
        "symbol": "BTCUSDT",
        "timeRange": "2024-08-01:2024-08-02",
        "sinks": ["arango", "lake"]
    }))
    .unwrap()
}

fn queue(spec: QueueSpec) -> Queue {
    Queue::new("btc", spec)
}

fn messages(result: Result<(), kube::core::cel::ValidationErrors>) -> String {
    match result {
        Ok(()) => String::new(),
        Err(errors) => errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    }
}

#[test]
fn a_good_queue_passes_every_rule() {
    assert_eq!(messages(queue(spec()).validate_cel()), "");
    let mut instants = spec();
    instants.time_range = Some("2024-08-01T00:00:00Z/2024-08-01T06:00:00+02:00".into());
    assert_eq!(messages(queue(instants).validate_cel()), "");
}

#[test]
fn time_range_must_run_forward() {
    let mut s = spec();
    s.time_range = Some("2024-08-02:2024-08-01".into());
    let msg = messages(queue(s).validate_cel());
    assert!(msg.contains("start before end"), "{msg}");

    let mut s = spec();
    s.time_range = Some("2024-08-01T10:00:00Z/2024-08-01T09:59:59Z".into());
    assert!(messages(queue(s).validate_cel()).contains("start before end"));
}

#[test]
fn identity_fields_are_immutable() {
    let old = queue(spec());
    for (field, change) in [
        ("symbol", json!({"symbol": "ETHUSDT"})),
        ("type", json!({"type": "api_candles_1m"})),
        ("target", json!({"target": "loader-api-candles"})),
        ("timeRange", json!({"timeRange": "2024-08-01:2024-08-03"})),
    ] {
        let mut value = serde_json::to_value(spec()).unwrap();
        for (k, v) in change.as_object().unwrap() {
            value[k] = v.clone();
        }
        let new = queue(serde_json::from_value(value).unwrap());
        let msg = messages(new.validate_cel_update(&old));
        assert!(
            msg.contains(&format!("{field} is immutable")),
            "{field}: {msg}"
        );
    }
    let mut dropped = spec();
    dropped.time_range = None;
    assert!(messages(queue(dropped).validate_cel_update(&old)).contains("timeRange is immutable"));

    // Mutable fields may change.
    let mut suspended = spec();
    suspended.suspend = true;
    suspended.sinks = vec![SinkKind::Lake];
    assert_eq!(messages(queue(suspended).validate_cel_update(&old)), "");
}

#[test]
fn loaders_need_market_data_types_and_only_loaders_take_sinks() {
    let mut s = spec();
    s.data_type = "graph_build".into();
    let msg = messages(queue(s).validate_cel());
    assert!(
        msg.contains("type graph_build is not served by target loader-producer; it serves api_candles_<interval>, api_trades, api_orderbook, ws_candles_<interval>, ws_trades, ws_orderbook, manual_upload, json_feed, (interval: 1s, 1m,"),
        "{msg}"
    );

    let mut s = spec();
    s.target = Target::GnnTrainer;
    s.data_type = "gnn_trainer".into();
    s.graph_name = Some("g".into());
    assert!(messages(queue(s.clone()).validate_cel()).contains("sinks can only"));
    s.sinks.clear();
    assert_eq!(messages(queue(s).validate_cel()), "");
}

#[test]
fn history_types_need_a_range() {
    let mut s = spec();
    s.time_range = None;
    assert!(messages(queue(s.clone()).validate_cel()).contains("needs a timeRange"));
    s.data_type = "ws_trades".into();
    assert_eq!(messages(queue(s).validate_cel()), "");
}

#[test]
fn sinks_must_not_repeat() {
    let mut s = spec();
    s.sinks = vec![SinkKind::Arango, SinkKind::Arango];
    assert!(messages(queue(s).validate_cel()).contains("sinks must not repeat"));
}

fn spec_schema() -> Value {
    let crd = serde_json::to_value(Queue::crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
}

#[test]
fn schema_constrains_fields_for_the_api_server() {
    let spec = spec_schema();
    let props = &spec["properties"];
    let targets: Vec<&str> = props["target"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(targets.len(), Target::ALL.len());
    for t in Target::ALL {
        assert!(targets.contains(&t.as_str()), "{t}");
    }
    assert_eq!(
        props["symbol"]["pattern"],
        streamforge_api::queue::SYMBOL_PATTERN
    );
    assert_eq!(
        props["type"]["pattern"],
        streamforge_api::queue::TYPE_PATTERN
    );
    assert_eq!(
        props["timeRange"]["pattern"],
        streamforge_api::time_range::PATTERN
    );
    assert_eq!(
        props["timeRange"]["maxLength"],
        streamforge_api::time_range::MAX_LEN
    );
    assert_eq!(props["epochs"]["minimum"].as_f64(), Some(1.0));
    let models = props["modelType"]["enum"].as_array().unwrap();
    for m in ["GCN", "GAT", "GraphSAGE"] {
        assert!(models.contains(&json!(m)), "{m}");
    }
    assert!(
        props["symbol"]["description"]
            .as_str()
            .unwrap()
            .contains("BTCUSDT")
    );
    let required: Vec<&str> = spec["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["symbol", "target", "type"]);
}

#[test]
fn patterns_agree_with_the_parsers() {
    let symbol = regex::Regex::new(streamforge_api::queue::SYMBOL_PATTERN).unwrap();
    assert!(symbol.is_match("BTCUSDT") && symbol.is_match("1000SATSUSDT"));
    assert!(!symbol.is_match("btcusdt") && !symbol.is_match("BTC-USDT") && !symbol.is_match("B"));

    let range = regex::Regex::new(streamforge_api::time_range::PATTERN).unwrap();
    for ok in [
        "2024-08-01:2024-08-02",
        "2024-08-01T00:00:00Z:2024-08-02T00:00:00Z",
        "2024-08-01T00:00:00.250+02:00/2024-08-02T00:00:00Z",
    ] {
        assert!(range.is_match(ok), "{ok}");
        assert!(streamforge_api::TimeRange::parse(ok).is_ok(), "{ok}");
    }
    for bad in [
        "2024-08-01",
        "2024-08-01 2024-08-02",
        "20240801:20240802",
        "2024-08-01:2024-08-02x",
    ] {
        assert!(!range.is_match(bad), "{bad}");
        assert!(streamforge_api::TimeRange::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn graph_workers_need_a_graph_name_and_the_builder_a_range() {
    let graph = |target: &str, extra: Value| {
        let ty = if target == "gnn-trainer" {
            "gnn_trainer"
        } else {
            "graph_build"
        };
        let mut v = json!({"target": target, "type": ty, "symbol": "BTCUSDT"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        queue(serde_json::from_value(v).unwrap())
    };
    let ok = graph(
        "graph-builder",
        json!({"graphName": "g", "timeRange": "2024-08-01:2024-08-02"}),
    );
    assert_eq!(messages(ok.validate_cel()), "");
    let no_name = graph("gnn-trainer", json!({}));
    assert!(
        messages(no_name.validate_cel()).contains("need graphName"),
        "{}",
        messages(no_name.validate_cel())
    );
    let no_range = graph("graph-builder", json!({"graphName": "g"}));
    assert!(messages(no_range.validate_cel()).contains("a graph needs a timeRange"));
    // The seed's arango-graph-prep: arango-connector with a graph type is a graph build.
    let prep = |extra: Value| {
        let mut v =
            json!({"target": "arango-connector", "type": "graph_rsi_vol", "symbol": "BTCUSDT"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        queue(serde_json::from_value(v).unwrap())
    };
    let msg = messages(prep(json!({})).validate_cel());
    assert!(
        msg.contains("need graphName") && msg.contains("a graph needs a timeRange"),
        "{msg}"
    );
    assert_eq!(
        messages(
            prep(json!({"graphName": "g", "timeRange": "2024-08-01:2024-08-02"})).validate_cel()
        ),
        ""
    );
    assert_eq!(
        messages(graph("gnn-trainer", json!({"graphName": "g"})).validate_cel()),
        ""
    );
}

#[test]
fn every_target_takes_exactly_the_types_it_serves() {
    let base = |target: &str, ty: &str| {
        let mut v = json!({
            "target": target, "type": ty, "symbol": "BTCUSDT",
            "timeRange": "2024-08-01:2024-08-02", "graphName": "g",
            "source": {"url": "s3://b/k.csv", "records": "candles", "keyField": "id"}
        });
        if target.starts_with("loader") {
            v["sinks"] = json!(["lake"]);
        }
        queue(serde_json::from_value(v).unwrap())
    };
    let samples = [
        "api_candles_5m",
        "api_candles_7m",
        "api_trades",
        "api_orderbook",
        "ws_candles_1h",
        "ws_trades",
        "ws_orderbook",
        "manual_upload",
        "json_feed",
        "graph_build",
        "graph_rsi_vol",
        "gnn_trainer",
        "candles_indicators",
        "plot_graph",
        "dummy",
        "dummy_slow_crash",
        "dummy_fly",
        "api_manual_upload",
        "other",
    ];
    for target in Target::ALL {
        for ty in samples {
            let msg = messages(base(target.as_str(), ty).validate_cel());
            let served = streamforge_api::served::serves(target, ty);
            assert_eq!(
                !msg.contains("is not served by"),
                served,
                "{target} {ty}: {msg}"
            );
            if !served {
                assert!(
                    msg.contains(&format!(
                        "it serves {}",
                        streamforge_api::served::listed(target)
                    )),
                    "{msg}"
                );
            }
        }
    }
}

#[test]
fn generic_loader_types_need_their_source() {
    let generic = |ty: &str, source: Value| {
        queue(
            serde_json::from_value(json!({
                "target": "loader-generic", "type": ty, "symbol": "BTCUSDT", "source": source
            }))
            .unwrap(),
        )
    };
    let mut no_source: QueueSpec = serde_json::from_value(
        json!({"target": "loader-generic", "type": "manual_upload", "symbol": "BTCUSDT"}),
    )
    .unwrap();
    assert!(messages(queue(no_source.clone()).validate_cel()).contains("need source"));
    no_source.data_type = "json_feed".into();
    assert!(messages(queue(no_source).validate_cel()).contains("need source"));
    let msg = messages(generic("manual_upload", json!({"url": "https://x/f.csv"})).validate_cel());
    assert!(msg.contains("source.records"), "{msg}");
    let msg = messages(generic("json_feed", json!({"url": "wss://x/ws"})).validate_cel());
    assert!(msg.contains("source.keyField"), "{msg}");
    assert_eq!(
        messages(
            generic(
                "manual_upload",
                json!({"url": "s3://up/btc.parquet", "records": "trades"})
            )
            .validate_cel()
        ),
        ""
    );
    assert_eq!(
        messages(
            generic(
                "json_feed",
                json!({"url": "wss://x/ws", "keyField": "data.id"})
            )
            .validate_cel()
        ),
        ""
    );
}
