//! SMA, EMA, RSI and VWAP against TA-Lib on the same candles: relative difference at most 1e-9
//! after each indicator's warm-up, and undefined exactly during it. The comparison is
//! `benches/talib_compare.py --check-only`, run through `STREAMFORGE_TEST_PYTHON` (its venv has
//! TA-Lib, `e2e/lake/setup.sh`) on a CSV of candles and our values, both written here; VWAP, which
//! TA-Lib lacks, is compared with the script's numpy reference.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::json;
use streamforge_indicators::{ema, rsi_wilder, sma, vwap};
use streamforge_kit::testing::{TEST_PYTHON, required_env};

struct Candles {
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

/// A deterministic geometric random walk: trends, a jump, single candles without volume and a
/// stretch of 60 without any (VWAP falls back to the mean typical price there). An odd length,
/// so that a last unpaired position is computed too.
fn series(n: usize) -> Candles {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut c = Candles {
        high: Vec::new(),
        low: Vec::new(),
        close: Vec::new(),
        volume: Vec::new(),
    };
    let mut close: f64 = 250.0;
    for i in 0..n {
        let open = close;
        let drift = if (1000..1400).contains(&i) {
            0.0004
        } else {
            0.0
        };
        close = if i == 2000 {
            open * 0.8
        } else {
            open * (1.0 + drift + (next() - 0.5) * 0.004)
        };
        c.high.push(open.max(close) * (1.0 + next() * 0.001));
        c.low.push(open.min(close) * (1.0 - next() * 0.001));
        c.close.push(close);
        let quiet = i % 23 == 0 || (1500..1560).contains(&i);
        c.volume.push(if quiet {
            0.0
        } else {
            (next() * 4.0).exp() * 3.0
        });
    }
    c
}

fn write_csv(path: &Path, c: &Candles) {
    let mut text = String::from("high,low,close,volume\n");
    for i in 0..c.close.len() {
        // `{:?}` writes the shortest text that reads back as the same f64.
        writeln!(
            text,
            "{:?},{:?},{:?},{:?}",
            c.high[i], c.low[i], c.close[i], c.volume[i]
        )
        .unwrap();
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn indicators_match_talib_after_the_warm_up() {
    let Some(py) = required_env(
        "indicators_match_talib_after_the_warm_up",
        TEST_PYTHON,
        "a Python with TA-Lib",
    ) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("streamforge-talib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = series(3001);
    let csv = dir.join("candles.csv");
    write_csv(&csv, &c);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/talib_compare.py");
    let mut failures = Vec::new();
    for period in [2, 14, 30] {
        let ours = json!({
            "n": c.close.len(),
            "period": period,
            "sma": sma(&c.close, period),
            "ema": ema(&c.close, period),
            "rsi": rsi_wilder(&c.close, period),
            "vwap": vwap(&c.high, &c.low, &c.close, &c.volume, period),
        });
        let ours_path = dir.join(format!("ours-{period}.json"));
        std::fs::write(&ours_path, ours.to_string()).unwrap();
        let out = Command::new(&py)
            .arg(script)
            .arg("--check-only")
            .arg("--period")
            .arg(period.to_string())
            .arg("--csv")
            .arg(&csv)
            .arg("--compare")
            .arg(&ours_path)
            .output()
            .expect("run the TA-Lib comparison");
        let report = format!(
            "period {period}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{report}");
        if !out.status.success() {
            failures.push(report);
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
