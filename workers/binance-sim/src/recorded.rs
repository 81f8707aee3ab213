//! Recorded market data: files in Binance's own response format that the simulator serves
//! instead of generated data, so tests can replay real captures (holes and all).
//!
//! A directory holds `<SYMBOL>-klines-<interval>.json` (an array of kline arrays, as
//! `GET /api/v3/klines` returns them) and `<SYMBOL>-aggTrades.json` (an array of aggregate
//! trade objects, as `GET /api/v3/aggTrades` returns them). Rows may come from several
//! responses concatenated; they are sorted and de-duplicated on load.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

#[derive(Clone, Debug, Default)]
pub struct Recorded {
    /// (symbol, interval) → open time → kline row.
    pub klines: HashMap<(String, String), BTreeMap<i64, Value>>,
    /// symbol → aggregate trade id → trade object.
    pub agg_trades: HashMap<String, BTreeMap<i64, Value>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordedError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a JSON array of Binance rows: {reason}")]
    Format { path: String, reason: String },
}

impl Recorded {
    /// Load every recognised file in `dir`; other files are ignored.
    pub fn load(dir: &Path) -> Result<Self, RecordedError> {
        let mut out = Recorded::default();
        let entries = std::fs::read_dir(dir).map_err(|source| RecordedError::Read {
            path: dir.display().to_string(),
            source,
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            let shown = path.display().to_string();
            let read = || -> Result<Vec<Value>, RecordedError> {
                let text =
                    std::fs::read_to_string(&path).map_err(|source| RecordedError::Read {
                        path: shown.clone(),
                        source,
                    })?;
                let v: Value = serde_json::from_str(&text).map_err(|e| RecordedError::Format {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
                v.as_array().cloned().ok_or_else(|| RecordedError::Format {
                    path: shown.clone(),
                    reason: "not an array".into(),
                })
            };
            if let Some((symbol, interval)) = name.split_once("-klines-") {
                let rows = read()?;
                let map = out
                    .klines
                    .entry((symbol.to_owned(), interval.to_owned()))
                    .or_default();
                for row in rows {
                    let open = row.get(0).and_then(Value::as_i64).ok_or_else(|| {
                        RecordedError::Format {
                            path: shown.clone(),
                            reason: "a kline without an integer open time".into(),
                        }
                    })?;
                    map.insert(open, row);
                }
            } else if let Some(symbol) = name.strip_suffix("-aggTrades") {
                let rows = read()?;
                let map = out.agg_trades.entry(symbol.to_owned()).or_default();
                for row in rows {
                    let id = row.get("a").and_then(Value::as_i64).ok_or_else(|| {
                        RecordedError::Format {
                            path: shown.clone(),
                            reason: "an aggTrade without an integer id \"a\"".into(),
                        }
                    })?;
                    map.insert(id, row);
                }
            }
        }
        Ok(out)
    }

    /// Recorded klines of `symbol`/`interval` with open time in `[start, end]`, at most `limit`.
    pub fn klines(
        &self,
        symbol: &str,
        interval: &str,
        start: i64,
        end: i64,
        limit: usize,
    ) -> Option<Vec<Value>> {
        let map = self.klines.get(&(symbol.to_owned(), interval.to_owned()))?;
        Some(
            map.range(start..=end)
                .take(limit)
                .map(|(_, v)| v.clone())
                .collect(),
        )
    }

    /// Recorded aggregate trades of `symbol` from id `from`, at most `limit`, with trade time in
    /// `[start, end]`.
    pub fn agg_trades(
        &self,
        symbol: &str,
        from: i64,
        start: i64,
        end: i64,
        limit: usize,
    ) -> Option<Vec<Value>> {
        let map = self.agg_trades.get(symbol)?;
        Some(
            map.range(from..)
                .map(|(_, v)| v)
                .filter(|v| {
                    v.get("T")
                        .and_then(Value::as_i64)
                        .is_some_and(|t| t >= start && t <= end)
                })
                .take(limit)
                .cloned()
                .collect(),
        )
    }
}
