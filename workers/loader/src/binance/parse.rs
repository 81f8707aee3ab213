//! Wire → domain: Binance JSON payloads into records. Nothing here panics on bad input.

use serde_json::Value;

use crate::records::{CandleRecord, LiveTradeRecord, TradeRecord};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unexpected Binance payload: {0}")]
pub struct ParseError(pub String);

fn s(v: &Value, what: &str) -> Result<String, ParseError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| ParseError(format!("{what} is not a string")))
}

fn i(v: &Value, what: &str) -> Result<i64, ParseError> {
    v.as_i64()
        .ok_or_else(|| ParseError(format!("{what} is not an integer")))
}

/// One kline array: `[openTime, "o", "h", "l", "c", "v", closeTime, "q", trades, "V", "Q", "0"]`.
pub fn kline(symbol: &str, interval: &str, row: &Value) -> Result<CandleRecord, ParseError> {
    let a = row
        .as_array()
        .filter(|a| a.len() >= 11)
        .ok_or_else(|| ParseError("kline is not an array of 11+ fields".into()))?;
    Ok(CandleRecord {
        symbol: symbol.to_owned(),
        interval: interval.to_owned(),
        open_time: i(&a[0], "open time")?,
        open: s(&a[1], "open")?,
        high: s(&a[2], "high")?,
        low: s(&a[3], "low")?,
        close: s(&a[4], "close")?,
        volume: s(&a[5], "volume")?,
        close_time: i(&a[6], "close time")?,
        quote_volume: s(&a[7], "quote volume")?,
        trades: i(&a[8], "trades")?,
        taker_buy_base: s(&a[9], "taker buy base")?,
        taker_buy_quote: s(&a[10], "taker buy quote")?,
    })
}

/// One aggregate trade object: `{"a","p","q","f","l","T","m","M"}`.
pub fn agg_trade(symbol: &str, v: &Value) -> Result<TradeRecord, ParseError> {
    let get = |k: &str| {
        v.get(k)
            .ok_or_else(|| ParseError(format!("aggTrade has no {k:?}")))
    };
    Ok(TradeRecord {
        symbol: symbol.to_owned(),
        agg_id: i(get("a")?, "a")?,
        price: s(get("p")?, "p")?,
        qty: s(get("q")?, "q")?,
        first_trade_id: i(get("f")?, "f")?,
        last_trade_id: i(get("l")?, "l")?,
        time: i(get("T")?, "T")?,
        buyer_maker: get("m")?
            .as_bool()
            .ok_or_else(|| ParseError("m is not a bool".into()))?,
    })
}

/// A `<symbol>@trade` stream event: `{"e":"trade","E","s","t","p","q","T","m","M"}`.
pub fn trade_event(v: &Value) -> Result<LiveTradeRecord, ParseError> {
    let get = |k: &str| {
        v.get(k)
            .ok_or_else(|| ParseError(format!("trade event has no {k:?}")))
    };
    Ok(LiveTradeRecord {
        symbol: s(get("s")?, "s")?,
        trade_id: i(get("t")?, "t")?,
        price: s(get("p")?, "p")?,
        qty: s(get("q")?, "q")?,
        time: i(get("T")?, "T")?,
        buyer_maker: get("m")?
            .as_bool()
            .ok_or_else(|| ParseError("m is not a bool".into()))?,
    })
}

/// A `<symbol>@kline_<interval>` stream event: the candle, and whether it has closed (`x`).
pub fn kline_event(v: &Value) -> Result<(CandleRecord, bool), ParseError> {
    let k = v
        .get("k")
        .ok_or_else(|| ParseError("kline event has no \"k\"".into()))?;
    let get = |f: &str| {
        k.get(f)
            .ok_or_else(|| ParseError(format!("kline has no {f:?}")))
    };
    let candle = CandleRecord {
        symbol: s(get("s")?, "s")?,
        interval: s(get("i")?, "i")?,
        open_time: i(get("t")?, "t")?,
        close_time: i(get("T")?, "T")?,
        open: s(get("o")?, "o")?,
        high: s(get("h")?, "h")?,
        low: s(get("l")?, "l")?,
        close: s(get("c")?, "c")?,
        volume: s(get("v")?, "v")?,
        quote_volume: s(get("q")?, "q")?,
        trades: i(get("n")?, "n")?,
        taker_buy_base: s(get("V")?, "V")?,
        taker_buy_quote: s(get("Q")?, "Q")?,
    };
    let closed = get("x")?
        .as_bool()
        .ok_or_else(|| ParseError("x is not a bool".into()))?;
    Ok((candle, closed))
}

/// Symbols `exchangeInfo` lists, with their status.
pub fn symbols(info: &Value) -> Result<Vec<(String, String)>, ParseError> {
    let arr = info
        .get("symbols")
        .and_then(Value::as_array)
        .ok_or_else(|| ParseError("exchangeInfo has no symbols".into()))?;
    arr.iter()
        .map(|s| {
            let name = s
                .get("symbol")
                .and_then(Value::as_str)
                .ok_or_else(|| ParseError("symbol without a name".into()))?;
            let status = s.get("status").and_then(Value::as_str).unwrap_or("UNKNOWN");
            Ok((name.to_owned(), status.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_documented_kline_example() {
        // The example row from Binance's "Kline/Candlestick data" documentation.
        let row = json!([
            1499040000000i64,
            "0.01634790",
            "0.80000000",
            "0.01575800",
            "0.01577100",
            "148976.11427815",
            1499644799999i64,
            "2434.19055334",
            308,
            "1756.87402397",
            "28.46694368",
            "0"
        ]);
        let c = kline("LTCBTC", "1d", &row).unwrap();
        assert_eq!(c.open_time, 1499040000000);
        assert_eq!(c.close, "0.01577100");
        assert_eq!(c.trades, 308);
        assert_eq!(c.key(), "LTCBTC|1d|1499040000000");
    }

    #[test]
    fn parses_the_documented_agg_trade_example() {
        let v = json!({"a": 26129, "p": "0.01633102", "q": "4.70443515", "f": 27781, "l": 27781, "T": 1498793709153i64, "m": true, "M": true});
        let t = agg_trade("LTCBTC", &v).unwrap();
        assert_eq!(
            (t.agg_id, t.time, t.buyer_maker),
            (26129, 1498793709153, true)
        );
    }

    #[test]
    fn bad_payloads_are_errors() {
        assert!(kline("X", "1m", &json!({"not": "an array"})).is_err());
        assert!(kline("X", "1m", &json!([1, 2, 3])).is_err());
        assert!(
            kline(
                "X",
                "1m",
                &json!(["x", "1", "1", "1", "1", "1", 2, "1", 1, "1", "1"])
            )
            .is_err()
        );
        assert!(agg_trade("X", &json!({"a": 1})).is_err());
        assert!(symbols(&json!({})).is_err());
    }
}
