//! Synthetic candles for tests and the bench: each symbol's log return is a shared market
//! factor times a beta plus its own noise, so pairs of symbols are correlated to different
//! degrees, like real coins. Deterministic for a seed. [`write_lake`] stores them exactly as the
//! lake-connector would (its record parser, encoder and paths).

use std::collections::BTreeMap;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;
use serde_json::json;
use streamforge_sinks::core::record::{self, Record};
use streamforge_sinks::lake::layout::{Grain, OffsetRange, PartitionDir, file_name};
use streamforge_sinks::lake::parquet_file::encode;

use crate::candles::{Candle, SymbolCandles};

/// xorshift64* and Box-Muller: small, fast, reproducible.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// `n` candles per symbol from `start`, every `interval_ms`.
pub fn market(
    symbols: &[&str],
    start: i64,
    interval_ms: i64,
    n: usize,
    seed: u64,
) -> Vec<SymbolCandles> {
    let mut rng = Rng(seed | 1);
    let factor: Vec<f64> = (0..n).map(|_| rng.normal() * 0.002).collect();
    symbols
        .iter()
        .enumerate()
        .map(|(k, symbol)| {
            // Betas from 0.2 to 1.5, noise from 0.001 to 0.003: correlations from weak to strong.
            let beta = 0.2 + 1.3 * (k as f64 / symbols.len().max(2) as f64);
            let noise = 0.001 + 0.002 * ((k * 7 % 5) as f64 / 4.0);
            let mut close = 10.0 + 100.0 * (k + 1) as f64;
            let candles = (0..n)
                .map(|i| {
                    let open = close;
                    close = open * (beta * factor[i] + noise * rng.normal()).exp();
                    let wiggle = open.max(close) * 0.001 * rng.uniform();
                    Candle {
                        open_time: start + i as i64 * interval_ms,
                        open,
                        high: open.max(close) + wiggle,
                        low: open.min(close) - wiggle,
                        close,
                        volume: 1000.0 * rng.uniform(),
                    }
                })
                .collect();
            SymbolCandles {
                symbol: (*symbol).to_owned(),
                candles,
            }
        })
        .collect()
}

/// The candle record the loader sends for a 1-minute candle (prices as decimal strings).
pub fn record_json(symbol: &str, c: &Candle) -> String {
    json!({
        "symbol": symbol, "interval": "1m", "open_time": c.open_time,
        "close_time": c.open_time + 59_999,
        "open": format!("{:.8}", c.open), "high": format!("{:.8}", c.high),
        "low": format!("{:.8}", c.low), "close": format!("{:.8}", c.close),
        "volume": format!("{:.8}", c.volume), "quote_volume": "0.0", "trades": 7,
        "taker_buy_base": "0.0", "taker_buy_quote": "0.0",
    })
    .to_string()
}

/// Write `data` into `store` as the lake-connector would: one file per (symbol, period), as from
/// one batch starting at Kafka offset `offset`, under `prefix`, for data type `kind`. Returns
/// the paths written.
pub async fn write_lake(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
    kind: &str,
    data: &[SymbolCandles],
    offset: i64,
) -> Result<Vec<String>, String> {
    let mut groups: BTreeMap<PartitionDir, Vec<Record>> = BTreeMap::new();
    let mut o = offset;
    for s in data {
        for c in &s.candles {
            let key = format!("{}|1m|{}", s.symbol, c.open_time);
            let payload = record_json(&s.symbol, c);
            let r = record::parse(Some(key.as_bytes()), Some(payload.as_bytes()), 0, o, None)
                .map_err(|e| format!("{key}: {e:?}"))?;
            o += 1;
            groups
                .entry(PartitionDir::of(&r, &s.symbol, kind))
                .or_default()
                .push(r);
        }
    }
    let mut paths = vec![];
    for (dir, records) in groups {
        let refs: Vec<&Record> = records.iter().collect();
        let bytes = encode(&refs, Grain::of(kind).path_columns()).map_err(|e| e.to_string())?;
        let range = OffsetRange {
            partition: 0,
            start: records[0].offset,
            end: records[records.len() - 1].offset,
        };
        let path = format!(
            "{}/{}",
            dir.path(prefix),
            file_name("wf-synthetic-data", &[range])
        );
        store
            .put(&Path::from(path.as_str()), bytes.into())
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        paths.push(path);
    }
    Ok(paths)
}
