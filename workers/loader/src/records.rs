//! What the loader writes to the data topic: one JSON record per candle or trade, with a
//! deterministic key so a replay overwrites instead of duplicating (in compacted topics and in
//! every sink that upserts by key).
//!
//! Prices and quantities stay decimal strings exactly as Binance sent them; floats would round.
//! Schemas: `docs/schemas.md`.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandleRecord {
    pub symbol: String,
    pub interval: String,
    pub open_time: i64,
    pub close_time: i64,
    pub open: String,
    pub high: String,
    pub low: String,
    pub close: String,
    pub volume: String,
    pub quote_volume: String,
    pub trades: i64,
    pub taker_buy_base: String,
    pub taker_buy_quote: String,
}

impl CandleRecord {
    /// `BTCUSDT|5m|1722470400000`
    pub fn key(&self) -> String {
        format!("{}|{}|{}", self.symbol, self.interval, self.open_time)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TradeRecord {
    pub symbol: String,
    /// Aggregate trade id (`a`), continuous per symbol.
    pub agg_id: i64,
    pub price: String,
    pub qty: String,
    pub first_trade_id: i64,
    pub last_trade_id: i64,
    /// Trade time, ms.
    pub time: i64,
    pub buyer_maker: bool,
}

impl TradeRecord {
    /// `BTCUSDT|123456789`
    pub fn key(&self) -> String {
        format!("{}|{}", self.symbol, self.agg_id)
    }
}

/// The position a key records: the last `|`-separated field (open time or trade id).
pub fn position_of_key(key: &[u8]) -> Option<i64> {
    std::str::from_utf8(key)
        .ok()?
        .rsplit('|')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deterministic_and_carry_the_position() {
        let t = TradeRecord {
            symbol: "BTCUSDT".into(),
            agg_id: 42,
            price: "1.0".into(),
            qty: "2.0".into(),
            first_trade_id: 1,
            last_trade_id: 3,
            time: 5,
            buyer_maker: false,
        };
        assert_eq!(t.key(), "BTCUSDT|42");
        assert_eq!(
            position_of_key(b"BTCUSDT|5m|1722470400000"),
            Some(1722470400000)
        );
        assert_eq!(position_of_key(b"garbage"), None);
        assert_eq!(position_of_key(b"\xff|1"), None);
    }
}
