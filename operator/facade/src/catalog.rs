//! `GET /targets`: every target, the types it serves and the image each runs, from the same
//! table the operator uses.

use serde_json::{Value, json};
use streamforge_api::Target;
use streamforge_api::datatype::INTERVALS;
use streamforge_api::served::{self, TypeShape};
use streamforge_operator::images;

/// The types `target` serves (`streamforge_api::served`), one entry per interval of a candles
/// type, and the dummy's as its pattern.
pub fn types(target: Target) -> Vec<String> {
    served::shapes(target)
        .iter()
        .flat_map(|shape| match shape {
            TypeShape::Candles(prefix) => INTERVALS
                .iter()
                .map(|(i, _)| format!("{prefix}{i}"))
                .collect::<Vec<_>>(),
            other => vec![other.pattern()],
        })
        .collect()
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
        let image_of = |target: &str, ty: &str| {
            targets
                .iter()
                .find(|t| t["target"] == target)
                .and_then(|t| t["types"].as_array())
                .and_then(|types| types.iter().find(|t| t["type"] == ty))
                .map(|t| t["image"].clone())
        };
        assert_eq!(
            image_of("loader-producer", "manual_upload").unwrap(),
            "registry.example/streamforge/loader-generic:0.1.0"
        );
        assert_eq!(
            image_of("arango-connector", "graph_rsi_vol").unwrap(),
            "registry.example/streamforge/arango-graph-prep:0.1.0"
        );
        assert_eq!(
            image_of("loader-producer", "api_orderbook").unwrap(),
            "registry.example/streamforge/loader-api-orderbook:0.1.0"
        );
        assert_eq!(image_of("lake-connector", "graph_build"), None);
    }
}
