//! Which types each target serves (pure): the one table behind the CRD's type rule, the
//! operator's validation, the image table's tests and the facade's catalog.
//!
//! A type is served when a worker of the target runs it to the end; a Queue with any other
//! type is refused at `kubectl apply` with the list of the types its target serves.

use crate::Target;
use crate::datatype::{self, DUMMY, INTERVALS, Interval};

/// The words a dummy type may be built from (`dummy_slow_crash`), as the dummy worker reads them.
pub const DUMMY_WORDS: [&str; 7] = [
    "load",
    "slow",
    "crash",
    "fatal",
    "transient",
    "malformed",
    "ignorestop",
];

/// One shape of served type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeShape {
    /// Exactly this type.
    Exact(&'static str),
    /// This prefix and one of Binance's kline intervals (`api_candles_` + `5m`).
    Candles(&'static str),
    /// `dummy`, or `dummy` followed by `_<word>` parts from [`DUMMY_WORDS`].
    Dummy,
}

use TypeShape::{Candles, Dummy, Exact};

const API_CANDLES: TypeShape = Candles("api_candles_");
const API_TRADES: TypeShape = Exact("api_trades");
const API_ORDERBOOK: TypeShape = Exact("api_orderbook");
const WS_CANDLES: TypeShape = Candles("ws_candles_");
const WS_TRADES: TypeShape = Exact("ws_trades");
const WS_ORDERBOOK: TypeShape = Exact("ws_orderbook");
const MANUAL_UPLOAD: TypeShape = Exact(datatype::MANUAL_UPLOAD);
const JSON_FEED: TypeShape = Exact(datatype::JSON_FEED);
const GRAPH_BUILD: TypeShape = Exact(datatype::GRAPH_BUILD);
const GRAPH_RSI_VOL: TypeShape = Exact(datatype::GRAPH_RSI_VOL);

/// Everything a loader writes to a data topic, which the sinks store.
const LOADED: [TypeShape; 8] = [
    API_CANDLES,
    API_TRADES,
    API_ORDERBOOK,
    WS_CANDLES,
    WS_TRADES,
    WS_ORDERBOOK,
    MANUAL_UPLOAD,
    JSON_FEED,
];

/// The type shapes `target` serves.
pub fn shapes(target: Target) -> &'static [TypeShape] {
    match target {
        Target::LoaderProducer | Target::LakeConnector => &LOADED,
        Target::LoaderApiCandles => &[API_CANDLES],
        Target::LoaderApiTrades => &[API_TRADES],
        Target::LoaderApiOrderbook => &[API_ORDERBOOK],
        Target::LoaderWsCandles => &[WS_CANDLES],
        Target::LoaderWsTrades => &[WS_TRADES],
        Target::LoaderWsOrderbook => &[WS_ORDERBOOK],
        Target::LoaderGeneric => &[MANUAL_UPLOAD, JSON_FEED],
        // The seed's `arango-graph-prep` image: arango-connector's graph types, built by
        // graph-builder's code and written to ArangoDB as a named graph.
        Target::ArangoConnector => &[
            API_CANDLES,
            API_TRADES,
            API_ORDERBOOK,
            WS_CANDLES,
            WS_TRADES,
            WS_ORDERBOOK,
            MANUAL_UPLOAD,
            JSON_FEED,
            GRAPH_BUILD,
            GRAPH_RSI_VOL,
        ],
        Target::GraphBuilder => &[GRAPH_BUILD, GRAPH_RSI_VOL],
        Target::GnnTrainer => &[Exact("gnn_trainer")],
        Target::Visualizer => &[Exact("candles_indicators"), Exact("plot_graph")],
        Target::DummyService => &[Dummy],
    }
}

impl TypeShape {
    pub fn matches(self, data_type: &str) -> bool {
        match self {
            Exact(t) => data_type == t,
            Candles(prefix) => data_type
                .strip_prefix(prefix)
                .is_some_and(|i| Interval::parse(i).is_some()),
            Dummy => data_type.strip_prefix(DUMMY).is_some_and(|rest| {
                rest.is_empty()
                    || rest
                        .strip_prefix('_')
                        .is_some_and(|r| r.split('_').all(|w| DUMMY_WORDS.contains(&w)))
            }),
        }
    }

    /// As a reader writes it: `api_candles_<interval>`.
    pub fn pattern(self) -> String {
        match self {
            Exact(t) => t.to_owned(),
            Candles(prefix) => format!("{prefix}<interval>"),
            Dummy => format!("{DUMMY}_<{}>...", DUMMY_WORDS.join("|")),
        }
    }

    /// As an RE2 alternative (the regular expressions CEL's `matches` takes).
    fn regex(self) -> String {
        let intervals: Vec<&str> = INTERVALS.iter().map(|(i, _)| *i).collect();
        match self {
            Exact(t) => t.to_owned(),
            Candles(prefix) => format!("{prefix}({})", intervals.join("|")),
            Dummy => format!("{DUMMY}(_({}))*", DUMMY_WORDS.join("|")),
        }
    }
}

/// Whether `target` serves `data_type`.
pub fn serves(target: Target, data_type: &str) -> bool {
    shapes(target).iter().any(|s| s.matches(data_type))
}

/// The types `target` serves, for messages: `api_candles_<interval>, api_trades`.
pub fn listed(target: Target) -> String {
    let mut list: Vec<String> = shapes(target).iter().map(|s| s.pattern()).collect();
    if shapes(target).iter().any(|s| matches!(s, Candles(_))) {
        let intervals: Vec<&str> = INTERVALS.iter().map(|(i, _)| *i).collect();
        list.push(format!("(interval: {})", intervals.join(", ")));
    }
    list.join(", ")
}

/// An anchored RE2 expression matching exactly the types `target` serves.
pub fn regex(target: Target) -> String {
    let alternatives: Vec<String> = shapes(target).iter().map(|s| s.regex()).collect();
    format!("^({})$", alternatives.join("|"))
}

fn cel_map(value: impl Fn(Target) -> String) -> String {
    let entries: Vec<String> = Target::ALL
        .iter()
        .map(|&t| format!("'{}': '{}'", t.as_str(), value(t)))
        .collect();
    format!("{{{}}}", entries.join(", "))
}

/// The CRD rule: the Queue's type is one its target serves.
pub fn cel_rule() -> String {
    format!("self.type.matches({}[self.target])", cel_map(regex))
}

/// The rule's message: the type, the target and the types the target serves.
pub fn cel_message() -> String {
    format!(
        "'type ' + self.type + ' is not served by target ' + self.target + '; it serves ' + {}[self.target]",
        cel_map(listed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_serves_its_own_types_and_no_others() {
        assert!(serves(Target::LoaderProducer, "api_candles_5m"));
        assert!(serves(Target::LoaderProducer, "api_orderbook"));
        assert!(serves(Target::LoaderProducer, "manual_upload"));
        assert!(!serves(Target::LoaderProducer, "api_candles_7m"));
        assert!(!serves(Target::LoaderProducer, "api_manual_upload"));
        assert!(!serves(Target::LoaderProducer, "graph_build"));
        assert!(serves(Target::LoaderGeneric, "json_feed"));
        assert!(!serves(Target::LoaderGeneric, "ws_trades"));
        assert!(serves(Target::LoaderApiOrderbook, "api_orderbook"));
        assert!(serves(Target::ArangoConnector, "graph_rsi_vol"));
        assert!(serves(Target::ArangoConnector, "ws_orderbook"));
        assert!(!serves(Target::LakeConnector, "graph_rsi_vol"));
        assert!(serves(Target::GraphBuilder, "graph_rsi_vol"));
        assert!(!serves(Target::GraphBuilder, "graph_other"));
        assert!(serves(Target::GnnTrainer, "gnn_trainer"));
        assert!(serves(Target::Visualizer, "plot_graph"));
        assert!(serves(Target::DummyService, "dummy"));
        assert!(serves(Target::DummyService, "dummy_slow_ignorestop"));
        assert!(!serves(Target::DummyService, "dummy_fly"));
        assert!(!serves(Target::DummyService, "dummyload"));
    }

    #[test]
    fn every_binance_kind_is_served_by_its_loader_and_the_sinks() {
        for (i, _) in INTERVALS {
            for t in [format!("api_candles_{i}"), format!("ws_candles_{i}")] {
                let kind = datatype::DataKind::parse(&t).unwrap();
                assert!(serves(Target::LoaderProducer, &t), "{t}");
                assert!(serves(Target::ArangoConnector, &t), "{t}");
                assert!(serves(Target::LakeConnector, &t), "{t}");
                assert_eq!(kind.to_string(), t);
            }
        }
    }

    #[test]
    fn the_regex_and_the_list_name_the_same_types() {
        assert_eq!(regex(Target::LoaderApiTrades), "^(api_trades)$");
        assert_eq!(
            regex(Target::DummyService),
            "^(dummy(_(load|slow|crash|fatal|transient|malformed|ignorestop))*)$"
        );
        assert!(regex(Target::LoaderApiCandles).starts_with("^(api_candles_(1s|1m|3m|"));
        assert_eq!(listed(Target::LoaderGeneric), "manual_upload, json_feed");
        assert!(
            listed(Target::LoaderApiCandles)
                .starts_with("api_candles_<interval>, (interval: 1s, 1m")
        );
        // Quotes would break the CEL string literals the rule is built from.
        for t in Target::ALL {
            assert!(!regex(t).contains('\'') && !listed(t).contains('\''), "{t}");
        }
    }
}
