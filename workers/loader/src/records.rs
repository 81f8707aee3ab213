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

/// One trade from the live `<symbol>@trade` stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveTradeRecord {
    pub symbol: String,
    pub trade_id: i64,
    pub price: String,
    pub qty: String,
    pub time: i64,
    pub buyer_maker: bool,
}

impl LiveTradeRecord {
    /// `BTCUSDT|123456789`
    pub fn key(&self) -> String {
        format!("{}|{}", self.symbol, self.trade_id)
    }
}

/// Order book records: a full snapshot, or one applied diff. A consumer rebuilds the book from
/// the latest snapshot and the diffs with `final_update_id` above its `last_update_id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BookRecord {
    Snapshot {
        symbol: String,
        last_update_id: i64,
        bids: Vec<[String; 2]>,
        asks: Vec<[String; 2]>,
        /// When the snapshot was taken (ms, the loader's clock when the answer arrived): set by
        /// `api_orderbook`, whose records are a series in time; absent from `ws_orderbook`'s,
        /// which the diffs around them place. Older records without it still read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time: Option<i64>,
    },
    Diff {
        symbol: String,
        first_update_id: i64,
        final_update_id: i64,
        event_time: i64,
        bids: Vec<[String; 2]>,
        asks: Vec<[String; 2]>,
    },
}

impl BookRecord {
    /// `BTCUSDT|snapshot|<lastUpdateId>` or `BTCUSDT|diff|<u>`.
    pub fn key(&self) -> String {
        match self {
            BookRecord::Snapshot {
                symbol,
                last_update_id,
                ..
            } => format!("{symbol}|snapshot|{last_update_id}"),
            BookRecord::Diff {
                symbol,
                final_update_id,
                ..
            } => format!("{symbol}|diff|{final_update_id}"),
        }
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

    #[test]
    fn a_snapshot_time_is_optional_on_the_wire() {
        let old = r#"{"kind":"snapshot","symbol":"BTCUSDT","last_update_id":7,"bids":[["1.0","2.0"]],"asks":[]}"#;
        let rec: BookRecord = serde_json::from_str(old).unwrap();
        assert!(matches!(rec, BookRecord::Snapshot { time: None, .. }));
        assert_eq!(rec.key(), "BTCUSDT|snapshot|7");
        // Without a time it is written as before; with one, as a `time` field (the lake places
        // a record by `time`).
        assert_eq!(serde_json::to_string(&rec).unwrap(), old);
        let BookRecord::Snapshot {
            symbol,
            last_update_id,
            bids,
            asks,
            ..
        } = rec
        else {
            unreachable!()
        };
        let timed = BookRecord::Snapshot {
            symbol,
            last_update_id,
            bids,
            asks,
            time: Some(1_722_470_400_000),
        };
        let v = serde_json::to_value(&timed).unwrap();
        assert_eq!(v["time"], 1_722_470_400_000i64);
        assert_eq!(v["kind"], "snapshot");
    }
}
