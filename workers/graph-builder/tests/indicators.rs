//! The indicators against independent references: a published worked example (Wilder's RSI as
//! StockCharts' "ChartSchool" tabulates it) and a plain-Python implementation written from the
//! definitions (`reference_features.py`, run through `STREAMFORGE_TEST_PYTHON`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use streamforge_graph_builder::candles::Candle;
use streamforge_graph_builder::features::{FEATURES, run_features};
use streamforge_graph_builder::labels::{future_volatility, price_up};
use streamforge_indicators::rsi_wilder;
use streamforge_kit::testing::{TEST_PYTHON, required_env};

/// StockCharts ChartSchool, "Relative Strength Index (RSI)", the spreadsheet example (closes to
/// four decimals) and its RSI(14) rounded to two decimals, the first RSI on the 15th close.
const CLOSES: [f64; 33] = [
    44.3389, 44.0902, 44.1497, 43.6124, 44.2778, 44.9951, 45.1078, 45.4253, 45.8433, 46.0826,
    45.8931, 46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439,
    46.2122, 46.2521, 45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672,
    43.4205, 42.6628, 43.1314,
];
const RSI: [f64; 19] = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99,
    41.46, 41.87, 45.46, 37.30, 33.08, 37.77,
];

#[test]
fn rsi_matches_the_published_stockcharts_worked_example() {
    let rsi = rsi_wilder(&CLOSES, 14);
    assert!(
        rsi[..14].iter().all(|v| v.is_nan()),
        "no RSI before 14 changes"
    );
    for (i, want) in RSI.iter().enumerate() {
        let got = rsi[14 + i];
        assert!(
            (got - want).abs() < 0.006,
            "RSI at close {}: {got:.4}, published {want}",
            15 + i
        );
    }
}

/// A deterministic price path with trends, flat stretches, zero-volume candles and a spike.
fn series(n: usize) -> Vec<Candle> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut close = 100.0;
    (0..n)
        .map(|i| {
            let open = close;
            let step = if (60..70).contains(&i) {
                0.0
            } else {
                (next() - 0.48) * 0.02
            };
            close = if i == 150 {
                open * 1.2
            } else {
                open * (1.0 + step)
            };
            let high = open.max(close) * (1.0 + next() * 0.003);
            let low = open.min(close) * (1.0 - next() * 0.003);
            let volume = if i % 17 == 0 { 0.0 } else { next() * 50.0 };
            Candle {
                open_time: i as i64 * 60_000,
                open,
                high,
                low,
                close,
                volume,
            }
        })
        .collect()
}

fn python(input: &Value) -> Option<Value> {
    let py = required_env(
        "indicators_match_the_python_reference",
        TEST_PYTHON,
        "a Python",
    )?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference_features.py");
    let mut child = Command::new(py)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "reference script failed");
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn indicators_match_the_python_reference() {
    let candles = series(300);
    let col = |f: fn(&Candle) -> f64| candles.iter().map(f).collect::<Vec<f64>>();
    let horizon = 3;
    let input = json!({
        "high": col(|c| c.high), "low": col(|c| c.low), "close": col(|c| c.close),
        "volume": col(|c| c.volume), "horizon": horizon,
    });
    let Some(reference) = python(&input) else {
        return;
    };
    let features = run_features(&candles);
    for (name, ours) in FEATURES.iter().zip(&features) {
        let theirs = reference[name].as_array().unwrap();
        assert_eq!(theirs.len(), ours.len(), "{name}");
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            match b.as_f64() {
                None => assert!(a.is_nan(), "{name}[{i}]: {a}, reference undefined"),
                Some(b) => assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1e-3),
                    "{name}[{i}]: {a} vs reference {b}"
                ),
            }
        }
    }
    let close = col(|c| c.close);
    let up: Vec<Value> = price_up(&close, horizon).iter().map(|v| json!(v)).collect();
    assert_eq!(up, *reference["price_up"].as_array().unwrap());
    for (i, (a, b)) in future_volatility(&close, horizon)
        .iter()
        .zip(reference["future_volatility_raw"].as_array().unwrap())
        .enumerate()
    {
        match (a, b.as_f64()) {
            (None, None) => {}
            (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-12, "future_volatility[{i}]"),
            other => panic!("future_volatility[{i}]: {other:?}"),
        }
    }
}
