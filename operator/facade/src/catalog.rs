//! `GET /targets`: every target, the types it serves and the image each runs, from the same
//! table the operator uses.

use serde_json::{Value, json};
use streamforge_api::Target;
use streamforge_api::datatype::INTERVALS;
use streamforge_operator::images;

/// The types `target` serves, as patterns where a part varies (`api_candles_<interval>`).
pub fn types(target: Target) -> Vec<String> {
    let intervals: Vec<&str> = INTERVALS.iter().map(|(i, _)| *i).collect();
    let loader = || {
        let mut t: Vec<String> = intervals
            .iter()
            .map(|i| format!("api_candles_{i}"))
            .collect();
        t.push("api_trades".into());
        t.extend(intervals.iter().map(|i| format!("ws_candles_{i}")));
        t.extend(["ws_trades".into(), "ws_orderbook".into()]);
        t
    };
    match target {
        Target::LoaderProducer | Target::ArangoConnector | Target::LakeConnector => loader(),
        Target::LoaderApiCandles => intervals
            .iter()
            .map(|i| format!("api_candles_{i}"))
            .collect(),
        Target::LoaderApiTrades => vec!["api_trades".into()],
        Target::LoaderWsCandles => intervals
            .iter()
            .map(|i| format!("ws_candles_{i}"))
            .collect(),
        Target::LoaderWsTrades => vec!["ws_trades".into()],
        Target::LoaderWsOrderbook => vec!["ws_orderbook".into()],
        Target::GraphBuilder => vec!["graph_build".into()],
        Target::GnnTrainer => vec!["gnn_trainer".into()],
        Target::Visualizer => vec!["candles_indicators".into(), "plot_graph".into()],
        Target::DummyService => {
            vec!["dummy_<words: load, slow, crash, fatal, transient, malformed, ignorestop>".into()]
        }
    }
}

pub fn catalog(registry: &str, tag: &str) -> Value {
    let targets: Vec<Value> = Target::ALL
        .iter()
        .map(|&t| {
            let types: Vec<Value> = types(t)
                .into_iter()
                .map(|ty| {
                    let family = images::family(t, &ty);
                    json!({"type": ty, "image": images::image(registry, family, tag)})
                })
                .collect();
            json!({"target": t.as_str(), "types": types})
        })
        .collect();
    json!({"targets": targets})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_is_listed_with_an_image_per_type() {
        let c = catalog("registry.example/streamforge", "0.1.0");
        let targets = c["targets"].as_array().unwrap();
        assert_eq!(targets.len(), Target::ALL.len());
        let loader = targets
            .iter()
            .find(|t| t["target"] == "loader-producer")
            .unwrap();
        let ws = loader["types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "ws_orderbook")
            .unwrap();
        assert_eq!(
            ws["image"],
            "registry.example/streamforge/loader-ws-orderbook:0.1.0"
        );
        let viz = targets
            .iter()
            .find(|t| t["target"] == "visualizer")
            .unwrap();
        assert_eq!(viz["types"].as_array().unwrap().len(), 2);
    }
}
