//! Deterministic market data: candles and aggregate trades as pure functions of time.
//!
//! Aggregate trade `n` of a symbol happens at `listing + n * trade_step_ms`; a candle is the
//! summary of the trades in its interval, so candles and trades agree with each other.

/// Listing time of every simulated symbol: 2017-08-17T00:00:00Z (ms).
pub const LISTING_MS: i64 = 1_502_928_000_000;

/// Intervals Binance documents for klines, with their length in ms (`1M` is not fixed).
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

pub fn interval_ms(interval: &str) -> Option<i64> {
    INTERVALS
        .iter()
        .find(|(i, _)| *i == interval)
        .map(|(_, ms)| *ms)
}

pub(crate) fn mix(mut x: u64) -> u64 {
    // splitmix64 finalizer: a fixed, well-spread hash of the input.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn symbol_seed(symbol: &str) -> u64 {
    symbol.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One aggregate trade, in Binance's units (prices in hundredths, quantities in 1e-6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    pub id: i64,
    pub time: i64,
    pub price_cents: i64,
    pub qty_micro: i64,
    pub buyer_maker: bool,
}

#[derive(Clone, Debug)]
pub struct Market {
    pub symbol: String,
    seed: u64,
    /// One aggregate trade every this many ms.
    pub trade_step_ms: i64,
}

impl Market {
    pub fn new(symbol: &str, trade_step_ms: i64) -> Self {
        Self {
            symbol: symbol.to_owned(),
            seed: symbol_seed(symbol),
            trade_step_ms: trade_step_ms.max(1),
        }
    }

    fn base_cents(&self) -> i64 {
        1_000_000 + (self.seed % 5_000_000) as i64
    }

    pub fn trade(&self, id: i64) -> Trade {
        let h = mix(self.seed ^ id as u64);
        let wave = ((id / 997) as f64).sin();
        let base = self.base_cents() as f64;
        let price = base * (1.0 + 0.02 * wave) + (h % 2_000) as f64 - 1_000.0;
        Trade {
            id,
            time: LISTING_MS + id * self.trade_step_ms,
            price_cents: price.max(1.0) as i64,
            qty_micro: 1_000 + (h >> 20) as i64 % 5_000_000,
            buyer_maker: h & 1 == 1,
        }
    }

    /// Id of the first trade at or after `time`.
    pub fn first_trade_at(&self, time: i64) -> i64 {
        if time <= LISTING_MS {
            return 0;
        }
        (time - LISTING_MS + self.trade_step_ms - 1) / self.trade_step_ms
    }

    /// The candle of `interval_ms` opening at `open` (aligned), summarising its trades.
    pub fn candle(&self, open: i64, interval_ms: i64) -> Candle {
        let first = self.first_trade_at(open);
        let end = self.first_trade_at(open + interval_ms); // exclusive
        // Long candles would need many trades: sample at most 64 of them.
        let n = (end - first).max(1);
        let stride = (n / 64).max(1);
        let mut high = i64::MIN;
        let mut low = i64::MAX;
        let mut volume = 0i64;
        let mut id = first;
        while id < end.max(first + 1) {
            let t = self.trade(id);
            high = high.max(t.price_cents);
            low = low.min(t.price_cents);
            volume += t.qty_micro;
            id += stride;
        }
        let open_px = self.trade(first).price_cents;
        let close_px = self.trade((end - 1).max(first)).price_cents;
        Candle {
            open_time: open,
            close_time: open + interval_ms - 1,
            open: open_px,
            high: high.max(open_px).max(close_px),
            low: low.min(open_px).min(close_px),
            close: close_px,
            volume_micro: volume * stride,
            trades: (end - first).max(0),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candle {
    pub open_time: i64,
    pub close_time: i64,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub volume_micro: i64,
    pub trades: i64,
}

pub fn cents(v: i64) -> String {
    format!("{}.{:02}000000", v / 100, v % 100)
}

pub fn micro(v: i64) -> String {
    format!("{}.{:06}00", v / 1_000_000, v % 1_000_000)
}

impl Candle {
    /// Binance's kline array: `[openTime, "open", "high", "low", "close", "volume", closeTime,
    /// "quoteAssetVolume", trades, "takerBuyBase", "takerBuyQuote", "0"]`.
    pub fn to_json(&self) -> serde_json::Value {
        let quote = (self.volume_micro as i128 * self.close as i128 / 100) as i64;
        serde_json::json!([
            self.open_time,
            cents(self.open),
            cents(self.high),
            cents(self.low),
            cents(self.close),
            micro(self.volume_micro),
            self.close_time,
            micro(quote),
            self.trades,
            micro(self.volume_micro / 2),
            micro(quote / 2),
            "0"
        ])
    }
}

impl Trade {
    /// Binance's aggregate trade object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "a": self.id,
            "p": cents(self.price_cents),
            "q": micro(self.qty_micro),
            "f": self.id * 3,
            "l": self.id * 3 + 2,
            "T": self.time,
            "m": self.buyer_maker,
            "M": true
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_deterministic_and_consistent() {
        let m = Market::new("BTCUSDT", 250);
        assert_eq!(m.trade(42), Market::new("BTCUSDT", 250).trade(42));
        assert_ne!(
            m.trade(42).price_cents,
            Market::new("ETHUSDT", 250).trade(42).price_cents
        );
        let c = m.candle(LISTING_MS + 60_000, 60_000);
        assert_eq!(c.trades, 240);
        assert!(c.low <= c.open && c.open <= c.high && c.low <= c.close && c.close <= c.high);
        assert_eq!(m.first_trade_at(LISTING_MS + 1), 1);
        assert_eq!(m.first_trade_at(LISTING_MS + 250), 1);
        assert_eq!(
            m.trade(m.first_trade_at(LISTING_MS + 1000)).time,
            LISTING_MS + 1000
        );
        assert_eq!(cents(12345), "123.45000000");
        assert_eq!(micro(1_500_000), "1.50000000");
    }
}
