//! Candles as the builder uses them: numbers parsed from the stored records (prices are decimal
//! strings in the lake and in ArangoDB), one per open time and symbol, in time order.

use std::collections::BTreeMap;

/// One candle's numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candle {
    /// Open time, ms since the epoch: the window's start.
    pub open_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl Candle {
    /// Why this candle cannot be used: prices must be finite and positive (returns divide by
    /// them, logs take them), the volume finite and not negative.
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("open", self.open),
            ("high", self.high),
            ("low", self.low),
            ("close", self.close),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{name} {v} is not a positive price"));
            }
        }
        if !(self.volume.is_finite() && self.volume >= 0.0) {
            return Err(format!("volume {} is not a quantity", self.volume));
        }
        Ok(())
    }
}

/// A number stored as a decimal string (`"64123.45000000"`) or as a JSON number.
pub fn parse_number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// One symbol's candles, ordered by open time, one per open time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SymbolCandles {
    pub symbol: String,
    pub candles: Vec<Candle>,
}

/// Collects candles in any order with repeats (a replayed lake file, two files of one day);
/// a repeated open time keeps the candle seen last.
#[derive(Debug, Default)]
pub struct CandleSet {
    by_time: BTreeMap<i64, Candle>,
    /// Rows offered, repeats included.
    pub rows: u64,
}

impl CandleSet {
    pub fn add(&mut self, c: Candle) {
        self.rows += 1;
        self.by_time.insert(c.open_time, c);
    }

    pub fn len(&self) -> usize {
        self.by_time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_time.is_empty()
    }

    pub fn finish(self, symbol: &str) -> SymbolCandles {
        SymbolCandles {
            symbol: symbol.to_owned(),
            candles: self.by_time.into_values().collect(),
        }
    }
}

/// Runs of candles without a gap (each open time `interval_ms` after the one before). Features
/// and labels are computed within a run: a return never spans a missing candle.
pub fn contiguous_runs(candles: &[Candle], interval_ms: i64) -> Vec<&[Candle]> {
    let mut runs = vec![];
    let mut start = 0;
    for i in 1..=candles.len() {
        if i == candles.len() || candles[i].open_time - candles[i - 1].open_time != interval_ms {
            if i > start {
                runs.push(&candles[start..i]);
            }
            start = i;
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(t: i64, close: f64) -> Candle {
        Candle {
            open_time: t,
            open: close,
            high: close,
            low: close,
            close,
            volume: 1.0,
        }
    }

    #[test]
    fn repeats_collapse_and_order_is_by_time() {
        let mut set = CandleSet::default();
        for x in [c(300, 2.0), c(0, 1.0), c(300, 3.0), c(600, 4.0)] {
            set.add(x);
        }
        assert_eq!(set.rows, 4);
        let s = set.finish("A");
        let closes: Vec<f64> = s.candles.iter().map(|x| x.close).collect();
        assert_eq!(closes, [1.0, 3.0, 4.0], "the last copy of a repeat wins");
    }

    #[test]
    fn runs_break_at_gaps() {
        let xs: Vec<Candle> = [0, 300, 600, 1200, 1500, 2400]
            .iter()
            .map(|&t| c(t, 1.0))
            .collect();
        let runs: Vec<usize> = contiguous_runs(&xs, 300).iter().map(|r| r.len()).collect();
        assert_eq!(runs, [3, 2, 1]);
        assert!(contiguous_runs(&[], 300).is_empty());
    }

    #[test]
    fn bad_numbers_are_named() {
        let mut x = c(0, 1.0);
        x.low = 0.0;
        assert!(x.check().unwrap_err().contains("low"));
        x.low = 1.0;
        x.volume = f64::NAN;
        assert!(x.check().unwrap_err().contains("volume"));
        assert_eq!(
            parse_number(&serde_json::json!("64123.45000000")),
            Some(64123.45)
        );
        assert_eq!(parse_number(&serde_json::json!(2)), Some(2.0));
        assert_eq!(parse_number(&serde_json::json!("x")), None);
    }
}
