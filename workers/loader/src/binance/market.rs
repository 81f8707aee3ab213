//! Typed market-data calls over [`RestClient`].
//!
//! Reference: Binance spot API, "Market Data endpoints": `exchangeInfo`, `klines`, `aggTrades`,
//! `depth`.

use serde_json::Value;

use super::limits::{WEIGHT_AGG_TRADES, WEIGHT_EXCHANGE_INFO, WEIGHT_KLINES, depth_weight};
use super::parse::{self, ParseError};
use super::rest::{RestClient, RestError};
use crate::book::Snapshot;
use crate::records::{CandleRecord, TradeRecord};

/// Most rows Binance returns per klines or aggTrades request.
pub const PAGE: i64 = 1000;
/// Longest `startTime`..`endTime` span `aggTrades` accepts.
pub const AGG_TRADES_SPAN_MS: i64 = 3_600_000;

#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("symbol {0} is not listed on the exchange")]
    UnknownSymbol(String),
    #[error("symbol {symbol} is not trading (status {status})")]
    NotTrading { symbol: String, status: String },
}

/// Check that `symbol` exists and trades.
pub async fn check_symbol(rest: &RestClient, symbol: &str) -> Result<(), MarketError> {
    let info = match rest
        .get(
            "/api/v3/exchangeInfo",
            &[("symbol", symbol.to_owned())],
            WEIGHT_EXCHANGE_INFO,
        )
        .await
    {
        Ok(v) => v,
        Err(RestError::Api { code: -1121, .. }) => {
            return Err(MarketError::UnknownSymbol(symbol.into()));
        }
        Err(e) => return Err(e.into()),
    };
    let symbols = parse::symbols(&info)?;
    match symbols.iter().find(|(s, _)| s == symbol) {
        None => Err(MarketError::UnknownSymbol(symbol.into())),
        Some((_, status)) if status != "TRADING" => Err(MarketError::NotTrading {
            symbol: symbol.into(),
            status: status.clone(),
        }),
        Some(_) => Ok(()),
    }
}

/// The order book of `symbol`, `limit` levels a side (`GET /api/v3/depth`), charged the weight
/// Binance documents for that limit.
pub async fn depth(rest: &RestClient, symbol: &str, limit: u32) -> Result<Snapshot, MarketError> {
    let v = rest
        .get(
            "/api/v3/depth",
            &[("symbol", symbol.to_owned()), ("limit", limit.to_string())],
            depth_weight(limit),
        )
        .await?;
    serde_json::from_value(v).map_err(|e| MarketError::Parse(ParseError(e.to_string())))
}

/// GET one page from `path` and parse each row with `parse`.
async fn page<T>(
    rest: &RestClient,
    path: &str,
    query: &[(&str, String)],
    weight: u32,
    parse: impl Fn(&Value) -> Result<T, ParseError>,
) -> Result<Vec<T>, MarketError> {
    let v = rest.get(path, query, weight).await?;
    let rows = v
        .as_array()
        .ok_or_else(|| ParseError("expected a JSON array".into()))?;
    Ok(rows.iter().map(parse).collect::<Result<_, _>>()?)
}

/// Up to [`PAGE`] klines with open time in `[start, end]`.
pub async fn klines(
    rest: &RestClient,
    symbol: &str,
    interval: &str,
    start: i64,
    end: i64,
) -> Result<Vec<CandleRecord>, MarketError> {
    let query = [
        ("symbol", symbol.to_owned()),
        ("interval", interval.to_owned()),
        ("startTime", start.to_string()),
        ("endTime", end.to_string()),
        ("limit", PAGE.to_string()),
    ];
    page(rest, "/api/v3/klines", &query, WEIGHT_KLINES, |r| {
        parse::kline(symbol, interval, r)
    })
    .await
}

/// Up to [`PAGE`] aggregate trades from id `from_id`.
pub async fn agg_trades_from(
    rest: &RestClient,
    symbol: &str,
    from_id: i64,
) -> Result<Vec<TradeRecord>, MarketError> {
    let query = [
        ("symbol", symbol.to_owned()),
        ("fromId", from_id.to_string()),
        ("limit", PAGE.to_string()),
    ];
    page(rest, "/api/v3/aggTrades", &query, WEIGHT_AGG_TRADES, |r| {
        parse::agg_trade(symbol, r)
    })
    .await
}

/// Up to [`PAGE`] aggregate trades in `[start, end]` (at most an hour apart).
pub async fn agg_trades_between(
    rest: &RestClient,
    symbol: &str,
    start: i64,
    end: i64,
) -> Result<Vec<TradeRecord>, MarketError> {
    let query = [
        ("symbol", symbol.to_owned()),
        ("startTime", start.to_string()),
        (
            "endTime",
            end.min(start + AGG_TRADES_SPAN_MS - 1).to_string(),
        ),
        ("limit", PAGE.to_string()),
    ];
    page(rest, "/api/v3/aggTrades", &query, WEIGHT_AGG_TRADES, |r| {
        parse::agg_trade(symbol, r)
    })
    .await
}
