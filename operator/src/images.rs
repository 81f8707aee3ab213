//! The type → image table: one image per worker family, as the original multi-image proposal.
//!
//! | target | type | image family |
//! |---|---|---|
//! | loader-producer | api_candles_* / api_trades / api_orderbook / ws_candles_* / ws_trades / ws_orderbook / manual_upload, json_feed | loader-api-candles / loader-api-trades / loader-api-orderbook / loader-ws-candles / loader-ws-trades / loader-ws-orderbook / loader-generic |
//! | loader-* | any | the target itself |
//! | arango-connector | *candles* / *trades* / *orderbook* / graph_* / other | arango-candles / arango-trades / arango-orderbook / arango-graph-prep / arango-connector |
//!
//! `arango-graph-prep` is graph-builder's program (the graph types, written to ArangoDB as a
//! named graph); `loader-api-orderbook` the Binance loader's; `loader-generic` its own.
//! | lake-connector, graph-builder, gnn-trainer, visualizer, dummy-service | any | the target itself |

use streamforge_api::{Family, Target};

/// The image family that runs `target` for `data_type`.
pub fn family(target: Target, data_type: &str) -> &'static str {
    match target {
        Target::LoaderProducer => loader_family(data_type),
        Target::ArangoConnector => arango_family(data_type),
        other => other.as_str(),
    }
}

fn loader_family(data_type: &str) -> &'static str {
    match Family::of(data_type) {
        Some(Family::ApiCandles) => "loader-api-candles",
        Some(Family::ApiTrades) => "loader-api-trades",
        Some(Family::ApiOrderbook) => "loader-api-orderbook",
        Some(Family::WsCandles) => "loader-ws-candles",
        Some(Family::WsTrades) => "loader-ws-trades",
        Some(Family::WsOrderbook) => "loader-ws-orderbook",
        None => "loader-generic",
    }
}

/// By the subject a type's name mentions, so that types beyond the loader's
/// (`candles_indicators`, `graph_*`) find their store image too.
fn arango_family(data_type: &str) -> &'static str {
    if data_type.contains("candles") {
        "arango-candles"
    } else if data_type.contains("trades") {
        "arango-trades"
    } else if data_type.contains("orderbook") {
        "arango-orderbook"
    } else if data_type.starts_with("graph_") {
        "arango-graph-prep"
    } else {
        "arango-connector"
    }
}

/// `<registry>/<family>:<tag>`.
pub fn image(registry: &str, family: &str, tag: &str) -> String {
    let registry = registry.trim_end_matches('/');
    if registry.is_empty() {
        format!("{family}:{tag}")
    } else {
        format!("{registry}/{family}:{tag}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_producer_picks_the_family_by_type() {
        assert_eq!(
            family(Target::LoaderProducer, "api_candles_5m"),
            "loader-api-candles"
        );
        assert_eq!(
            family(Target::LoaderProducer, "api_trades"),
            "loader-api-trades"
        );
        assert_eq!(
            family(Target::LoaderProducer, "ws_trades"),
            "loader-ws-trades"
        );
        assert_eq!(
            family(Target::LoaderProducer, "ws_candles_1m"),
            "loader-ws-candles"
        );
        assert_eq!(
            family(Target::LoaderProducer, "ws_orderbook"),
            "loader-ws-orderbook"
        );
        assert_eq!(
            family(Target::LoaderProducer, "api_orderbook"),
            "loader-api-orderbook"
        );
        for generic in ["manual_upload", "json_feed"] {
            assert_eq!(family(Target::LoaderProducer, generic), "loader-generic");
            assert_eq!(family(Target::LoaderGeneric, generic), "loader-generic");
        }
        assert_eq!(
            family(Target::LoaderApiTrades, "api_trades"),
            "loader-api-trades"
        );
    }

    #[test]
    fn arango_connector_picks_the_family_by_type() {
        assert_eq!(
            family(Target::ArangoConnector, "api_candles_1m"),
            "arango-candles"
        );
        assert_eq!(
            family(Target::ArangoConnector, "ws_candles_5m"),
            "arango-candles"
        );
        assert_eq!(
            family(Target::ArangoConnector, "ws_trades"),
            "arango-trades"
        );
        assert_eq!(
            family(Target::ArangoConnector, "api_trades"),
            "arango-trades"
        );
        assert_eq!(
            family(Target::ArangoConnector, "ws_orderbook"),
            "arango-orderbook"
        );
        assert_eq!(
            family(Target::ArangoConnector, "graph_rsi_vol"),
            "arango-graph-prep"
        );
        assert_eq!(
            family(Target::ArangoConnector, "graph_build"),
            "arango-graph-prep"
        );
        assert_eq!(
            family(Target::ArangoConnector, "api_orderbook"),
            "arango-orderbook"
        );
    }

    /// Every image the seed's table names is what some served type resolves to.
    #[test]
    fn every_image_of_the_seed_table_resolves() {
        let seed = [
            (Target::ArangoConnector, "api_candles_1m", "arango-candles"),
            (Target::ArangoConnector, "ws_candles_5m", "arango-candles"),
            (Target::ArangoConnector, "ws_trades", "arango-trades"),
            (Target::ArangoConnector, "api_trades", "arango-trades"),
            (Target::ArangoConnector, "ws_orderbook", "arango-orderbook"),
            (Target::ArangoConnector, "api_orderbook", "arango-orderbook"),
            (Target::ArangoConnector, "graph_build", "arango-graph-prep"),
            (
                Target::ArangoConnector,
                "graph_rsi_vol",
                "arango-graph-prep",
            ),
            (
                Target::LoaderProducer,
                "api_candles_5m",
                "loader-api-candles",
            ),
            (Target::LoaderProducer, "ws_trades", "loader-ws-trades"),
            (
                Target::LoaderProducer,
                "ws_orderbook",
                "loader-ws-orderbook",
            ),
            (Target::LoaderProducer, "api_trades", "loader-api-trades"),
            (Target::LoaderProducer, "manual_upload", "loader-generic"),
            (Target::LoaderProducer, "json_feed", "loader-generic"),
        ];
        for (target, ty, image) in seed {
            assert!(streamforge_api::served::serves(target, ty), "{target} {ty}");
            assert_eq!(family(target, ty), image, "{target} {ty}");
        }
    }

    #[test]
    fn other_targets_are_their_own_family() {
        for t in [
            Target::GnnTrainer,
            Target::GraphBuilder,
            Target::Visualizer,
            Target::DummyService,
            Target::LakeConnector,
        ] {
            assert_eq!(family(t, "anything"), t.as_str());
        }
        assert_eq!(
            image("registry.local/streamforge/", "gnn-trainer", "v1"),
            "registry.local/streamforge/gnn-trainer:v1"
        );
        assert_eq!(image("", "gnn-trainer", "v1"), "gnn-trainer:v1");
    }
}
