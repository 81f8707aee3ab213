//! Synthetic candles for tests and the bench: each symbol's log return is a shared market
//! factor times a beta plus its own noise, so pairs of symbols are correlated to different
//! degrees, like real coins. Deterministic for a seed.

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
