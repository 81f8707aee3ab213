//! The data-type vocabulary of a Queue's `type` (pure): the Binance loader's kinds
//! (`api_candles_<interval>`, `api_trades`, `api_orderbook`, `ws_candles_<interval>`,
//! `ws_trades`, `ws_orderbook`), the generic loader's (`manual_upload`, `json_feed`), the graph
//! types (`graph_build`, `graph_rsi_vol`), the kline intervals Binance documents, and the
//! `dummy` type of the test worker. Which target serves which type: [`crate::served`]. The operator's validation and image table and the workers parse types here only.
//!
//! Two levels: [`Family`] reads a type by its shape alone (`api_candles_7m` is a candles type
//! with an unknown interval), which is what choosing an image or a loader target needs;
//! [`DataKind::parse`] also checks the interval, which is what loading data needs.

use std::fmt;

/// Types that load history start with this; they need a `timeRange`.
pub const API_PREFIX: &str = "api_";
/// Types that follow a live stream start with this.
pub const WS_PREFIX: &str = "ws_";
/// The dummy-service's type: `dummy`, or `dummy_<word>_<word>...`.
pub const DUMMY: &str = "dummy";
/// The generic loader's file load: a CSV, JSON-lines or Parquet file from S3 or HTTP(S).
pub const MANUAL_UPLOAD: &str = "manual_upload";
/// The generic loader's feed: a WebSocket or a polled HTTP endpoint of JSON messages.
pub const JSON_FEED: &str = "json_feed";
/// graph-builder's graph with every feature.
pub const GRAPH_BUILD: &str = "graph_build";
/// graph-builder's graph with the RSI and volatility features only.
pub const GRAPH_RSI_VOL: &str = "graph_rsi_vol";
/// The generic loader's types.
pub const GENERIC_TYPES: [&str; 2] = [MANUAL_UPLOAD, JSON_FEED];
/// graph-builder's types.
pub const GRAPH_TYPES: [&str; 2] = [GRAPH_BUILD, GRAPH_RSI_VOL];

const API_CANDLES: &str = "api_candles_";
const WS_CANDLES: &str = "ws_candles_";
const API_TRADES: &str = "api_trades";
const API_ORDERBOOK: &str = "api_orderbook";
const WS_TRADES: &str = "ws_trades";
const WS_ORDERBOOK: &str = "ws_orderbook";

/// Kline intervals Binance documents, with their fixed length in ms. `1M` (calendar month) is
/// not fixed-length and is refused: completeness cannot be checked against it.
///
/// Reference: Binance Spot API, "Kline/Candlestick chart intervals".
pub const INTERVALS: &[(&str, i64)] = &[
    ("1s", 1_000),
    ("1m", 60_000),
    ("3m", 180_000),
    ("5m", 300_000),
    ("15m", 900_000),
    ("30m", 1_800_000),
    ("1h", 3_600_000),
    ("2h", 7_200_000),
    ("4h", 14_400_000),
    ("6h", 21_600_000),
    ("8h", 28_800_000),
    ("12h", 43_200_000),
    ("1d", 86_400_000),
    ("3d", 259_200_000),
    ("1w", 604_800_000),
];

/// Whether `data_type` loads history (an `api_*` type), and so needs a time range.
pub fn loads_history(data_type: &str) -> bool {
    data_type.starts_with(API_PREFIX)
}

/// Whether `data_type` is for a loader at all (`api_*`, `ws_*` or a generic loader type),
/// known kind or not.
pub fn is_loader_type(data_type: &str) -> bool {
    data_type.starts_with(API_PREFIX)
        || data_type.starts_with(WS_PREFIX)
        || is_generic_type(data_type)
}

/// Whether `data_type` is one of the generic loader's (`manual_upload`, `json_feed`).
pub fn is_generic_type(data_type: &str) -> bool {
    GENERIC_TYPES.contains(&data_type)
}

/// Whether `data_type` is one of graph-builder's (`graph_build`, `graph_rsi_vol`).
pub fn is_graph_type(data_type: &str) -> bool {
    GRAPH_TYPES.contains(&data_type)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub name: &'static str,
    pub ms: i64,
}

impl Interval {
    pub fn parse(s: &str) -> Option<Self> {
        INTERVALS
            .iter()
            .find(|(n, _)| *n == s)
            .map(|&(name, ms)| Interval { name, ms })
    }
}

/// A loader kind without its interval, read from the type's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    ApiCandles,
    ApiTrades,
    ApiOrderbook,
    WsCandles,
    WsTrades,
    WsOrderbook,
}

impl Family {
    /// The family of `data_type` by its shape (a candles type's interval is not checked).
    pub fn of(data_type: &str) -> Option<Self> {
        if data_type.starts_with(API_CANDLES) {
            Some(Family::ApiCandles)
        } else if data_type.starts_with(WS_CANDLES) {
            Some(Family::WsCandles)
        } else {
            match data_type {
                API_TRADES => Some(Family::ApiTrades),
                API_ORDERBOOK => Some(Family::ApiOrderbook),
                WS_TRADES => Some(Family::WsTrades),
                WS_ORDERBOOK => Some(Family::WsOrderbook),
                _ => None,
            }
        }
    }

    /// How the family's types are written, for error messages.
    pub fn pattern(self) -> &'static str {
        match self {
            Family::ApiCandles => "api_candles_<interval>",
            Family::ApiTrades => API_TRADES,
            Family::ApiOrderbook => API_ORDERBOOK,
            Family::WsCandles => "ws_candles_<interval>",
            Family::WsTrades => WS_TRADES,
            Family::WsOrderbook => WS_ORDERBOOK,
        }
    }
}

/// A loader kind, with its interval where it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    ApiCandles(Interval),
    ApiTrades,
    /// REST depth snapshots at an interval over the time range.
    ApiOrderbook,
    WsCandles(Interval),
    WsTrades,
    WsOrderbook,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypeError {
    #[error(
        "unknown kline interval {interval:?} in type {data_type}; Binance intervals are 1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w"
    )]
    Interval { data_type: String, interval: String },
    #[error(
        "type {0} is not a Binance loader type (api_candles_<interval>, api_trades, api_orderbook, ws_candles_<interval>, ws_trades, ws_orderbook)"
    )]
    Unknown(String),
}

impl DataKind {
    pub fn parse(data_type: &str) -> Result<Self, TypeError> {
        let interval = |prefix: &str| {
            let rest = data_type.strip_prefix(prefix).unwrap_or_default();
            Interval::parse(rest).ok_or_else(|| TypeError::Interval {
                data_type: data_type.to_owned(),
                interval: rest.to_owned(),
            })
        };
        match Family::of(data_type) {
            Some(Family::ApiCandles) => Ok(DataKind::ApiCandles(interval(API_CANDLES)?)),
            Some(Family::WsCandles) => Ok(DataKind::WsCandles(interval(WS_CANDLES)?)),
            Some(Family::ApiTrades) => Ok(DataKind::ApiTrades),
            Some(Family::ApiOrderbook) => Ok(DataKind::ApiOrderbook),
            Some(Family::WsTrades) => Ok(DataKind::WsTrades),
            Some(Family::WsOrderbook) => Ok(DataKind::WsOrderbook),
            None => Err(TypeError::Unknown(data_type.to_owned())),
        }
    }

    pub fn family(self) -> Family {
        match self {
            DataKind::ApiCandles(_) => Family::ApiCandles,
            DataKind::ApiTrades => Family::ApiTrades,
            DataKind::ApiOrderbook => Family::ApiOrderbook,
            DataKind::WsCandles(_) => Family::WsCandles,
            DataKind::WsTrades => Family::WsTrades,
            DataKind::WsOrderbook => Family::WsOrderbook,
        }
    }

    pub fn is_historical(self) -> bool {
        matches!(self, DataKind::ApiCandles(_) | DataKind::ApiTrades)
    }
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataKind::ApiCandles(i) => write!(f, "{API_CANDLES}{}", i.name),
            DataKind::ApiTrades => f.write_str(API_TRADES),
            DataKind::ApiOrderbook => f.write_str(API_ORDERBOOK),
            DataKind::WsCandles(i) => write!(f, "{WS_CANDLES}{}", i.name),
            DataKind::WsTrades => f.write_str(WS_TRADES),
            DataKind::WsOrderbook => f.write_str(WS_ORDERBOOK),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        assert_eq!(
            DataKind::parse("api_candles_5m").unwrap(),
            DataKind::ApiCandles(Interval {
                name: "5m",
                ms: 300_000
            })
        );
        assert_eq!(
            DataKind::parse("ws_candles_1h").unwrap().to_string(),
            "ws_candles_1h"
        );
        assert_eq!(DataKind::parse("api_trades").unwrap(), DataKind::ApiTrades);
        assert_eq!(DataKind::parse("ws_trades").unwrap(), DataKind::WsTrades);
        assert_eq!(
            DataKind::parse("api_orderbook").unwrap(),
            DataKind::ApiOrderbook
        );
        assert_eq!(
            DataKind::parse("api_orderbook").unwrap().to_string(),
            "api_orderbook"
        );
        assert!(!DataKind::ApiOrderbook.is_historical());
        assert!(DataKind::parse("api_trades").unwrap().is_historical());
        assert!(!DataKind::parse("ws_orderbook").unwrap().is_historical());
        for (name, _) in INTERVALS {
            for prefix in [API_CANDLES, WS_CANDLES] {
                let t = format!("{prefix}{name}");
                assert_eq!(DataKind::parse(&t).unwrap().to_string(), t);
            }
        }
    }

    #[test]
    fn clear_errors() {
        let e = DataKind::parse("api_candles_7m").unwrap_err();
        assert!(
            e.to_string().starts_with("unknown kline interval \"7m\""),
            "{e}"
        );
        assert!(DataKind::parse("api_candles_1M").is_err());
        assert!(DataKind::parse("ws_candles_").is_err());
        assert!(matches!(
            DataKind::parse("graph_build"),
            Err(TypeError::Unknown(_))
        ));
    }

    #[test]
    fn families_by_shape() {
        assert_eq!(Family::of("api_candles_7m"), Some(Family::ApiCandles));
        assert_eq!(Family::of("ws_candles_1m"), Some(Family::WsCandles));
        assert_eq!(Family::of("ws_orderbook"), Some(Family::WsOrderbook));
        assert_eq!(Family::of("api_trades_x"), None);
        assert_eq!(Family::of("api_manual_upload"), None);
        assert_eq!(
            DataKind::parse("ws_candles_5m").unwrap().family(),
            Family::WsCandles
        );
        assert_eq!(Family::ApiCandles.pattern(), "api_candles_<interval>");
        assert_eq!(Family::WsTrades.pattern(), "ws_trades");
    }

    #[test]
    fn history_and_loader_types() {
        assert!(loads_history("api_trades"));
        assert!(loads_history("api_manual_upload"));
        assert!(!loads_history("ws_trades"));
        assert!(is_loader_type("ws_anything"));
        assert!(is_loader_type(MANUAL_UPLOAD) && is_loader_type(JSON_FEED));
        assert!(!loads_history(MANUAL_UPLOAD) && !loads_history(JSON_FEED));
        assert!(!is_loader_type("graph_build"));
        assert!(is_graph_type(GRAPH_RSI_VOL) && !is_graph_type("graph_other"));
        assert!(!is_loader_type(DUMMY));
    }
}
