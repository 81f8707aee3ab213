//! The type → image table: one image per worker family, as the original multi-image proposal.
//!
//! | target | type | image family |
//! |---|---|---|
//! | loader-producer | api_candles_* / api_trades / ws_candles_* / ws_trades / ws_orderbook / other | loader-api-candles / loader-api-trades / loader-ws-candles / loader-ws-trades / loader-ws-orderbook / loader-generic |
//! | loader-* | any | the target itself |
//! | arango-connector | *candles* / *trades* / *orderbook* / graph_* / other | arango-candles / arango-trades / arango-orderbook / arango-graph-prep / arango-connector |
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
            family(Target::LoaderProducer, "api_manual_upload"),
            "loader-generic"
        );
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
