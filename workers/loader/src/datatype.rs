//! The loader's data types, parsed from `TYPE`: `api_candles_<interval>`, `api_trades`,
//! `ws_candles_<interval>`, `ws_trades`, `ws_orderbook`.

use std::fmt;

/// Kline intervals Binance documents, with their fixed length in ms. `1M` (calendar month) is
/// not fixed-length and is refused: completeness cannot be checked against it.
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    ApiCandles(Interval),
    ApiTrades,
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
        "type {0} is not a loader type (api_candles_<interval>, api_trades, ws_candles_<interval>, ws_trades, ws_orderbook)"
    )]
    Unknown(String),
}

impl DataKind {
    pub fn parse(data_type: &str) -> Result<Self, TypeError> {
        let interval = |rest: &str| {
            Interval::parse(rest).ok_or_else(|| TypeError::Interval {
                data_type: data_type.to_owned(),
                interval: rest.to_owned(),
            })
        };
        if let Some(rest) = data_type.strip_prefix("api_candles_") {
            return Ok(DataKind::ApiCandles(interval(rest)?));
        }
        if let Some(rest) = data_type.strip_prefix("ws_candles_") {
            return Ok(DataKind::WsCandles(interval(rest)?));
        }
        match data_type {
            "api_trades" => Ok(DataKind::ApiTrades),
            "ws_trades" => Ok(DataKind::WsTrades),
            "ws_orderbook" => Ok(DataKind::WsOrderbook),
            other => Err(TypeError::Unknown(other.to_owned())),
        }
    }

    pub fn is_historical(self) -> bool {
        matches!(self, DataKind::ApiCandles(_) | DataKind::ApiTrades)
    }
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataKind::ApiCandles(i) => write!(f, "api_candles_{}", i.name),
            DataKind::ApiTrades => f.write_str("api_trades"),
            DataKind::WsCandles(i) => write!(f, "ws_candles_{}", i.name),
            DataKind::WsTrades => f.write_str("ws_trades"),
            DataKind::WsOrderbook => f.write_str("ws_orderbook"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_family() {
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
        assert!(DataKind::parse("api_trades").unwrap().is_historical());
        assert!(!DataKind::parse("ws_orderbook").unwrap().is_historical());
    }

    #[test]
    fn clear_errors() {
        let e = DataKind::parse("api_candles_7m").unwrap_err();
        assert!(
            e.to_string().starts_with("unknown kline interval \"7m\""),
            "{e}"
        );
        assert!(DataKind::parse("api_candles_1M").is_err());
        assert!(matches!(
            DataKind::parse("graph_build"),
            Err(TypeError::Unknown(_))
        ));
    }
}
