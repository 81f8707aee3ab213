//! SMA, EMA, RSI and VWAP of a candle series from a CSV file, with the time each took, as JSON;
//! `benches/talib_compare.py` runs it and compares both against TA-Lib.
//!
//! ```text
//! indicator_series CANDLES.csv --out OUT.json [--period 14] [--repeat 5]
//! ```
//!
//! The CSV has a header line, then `high,low,close,volume` per line. The output is
//! `{"n": len, "period": n, "sma": [...], "ema": [...], "rsi": [...], "vwap": [...],
//! "ns_per_element": {"sma": .., ...}}`, `null` where a value is undefined (`NaN`). Each
//! indicator runs `--repeat` times; its time is the best run's, over the series' length.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use streamforge_indicators::{ema, rsi_wilder, sma, vwap};

struct Args {
    csv: String,
    out: String,
    period: usize,
    repeat: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut csv = None;
    let mut out = None;
    let mut period = 14;
    let mut repeat = 5;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match a.as_str() {
            "--out" => out = Some(value("--out")?),
            "--period" => {
                period = value("--period")?
                    .parse()
                    .map_err(|e| format!("--period: {e}"))?;
            }
            "--repeat" => {
                repeat = value("--repeat")?
                    .parse()
                    .map_err(|e| format!("--repeat: {e}"))?;
            }
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            path if csv.is_none() => csv = Some(path.to_owned()),
            extra => return Err(format!("unexpected argument {extra}")),
        }
    }
    if period == 0 || repeat == 0 {
        return Err("--period and --repeat must be at least 1".into());
    }
    Ok(Args {
        csv: csv.ok_or("the CSV path is missing")?,
        out: out.ok_or("--out is missing")?,
        period,
        repeat,
    })
}

/// The four columns of the CSV, after its header line.
fn read_candles(path: &str) -> Result<[Vec<f64>; 4], String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut cols: [Vec<f64>; 4] = Default::default();
    for (no, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split(',');
        for col in &mut cols {
            let field = fields
                .next()
                .ok_or(format!("{path}:{}: fewer than 4 fields", no + 1))?;
            col.push(
                field
                    .trim()
                    .parse()
                    .map_err(|e| format!("{path}:{}: {field:?}: {e}", no + 1))?,
            );
        }
    }
    Ok(cols)
}

/// `f`'s result and its fastest time over `repeat` runs.
fn best_of<T>(repeat: usize, mut f: impl FnMut() -> T) -> (T, Duration) {
    let mut best = Duration::MAX;
    let mut result = None;
    for _ in 0..repeat {
        let start = Instant::now();
        let r = std::hint::black_box(f());
        best = best.min(start.elapsed());
        result = Some(r);
    }
    match result {
        Some(r) => (r, best),
        None => (f(), Duration::ZERO),
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let [high, low, close, volume] = read_candles(&args.csv)?;
    let (n, r) = (args.period, args.repeat);
    let len = close.len();
    let per = |d: Duration| d.as_nanos() as f64 / len.max(1) as f64;
    let (sma, t_sma) = best_of(r, || sma(&close, n));
    let (ema, t_ema) = best_of(r, || ema(&close, n));
    let (rsi, t_rsi) = best_of(r, || rsi_wilder(&close, n));
    let (vwap, t_vwap) = best_of(r, || vwap(&high, &low, &close, &volume, n));
    let mut times = Map::new();
    for (name, t) in [
        ("sma", t_sma),
        ("ema", t_ema),
        ("rsi", t_rsi),
        ("vwap", t_vwap),
    ] {
        times.insert(name.into(), json!(per(t)));
    }
    // serde_json writes NaN as null.
    let doc = json!({
        "n": len, "period": n, "repeat": r,
        "sma": sma, "ema": ema, "rsi": rsi, "vwap": vwap,
        "ns_per_element": Value::Object(times),
    });
    let text = serde_json::to_string(&doc).map_err(|e| e.to_string())?;
    std::fs::write(&args.out, text).map_err(|e| format!("{}: {e}", args.out))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("indicator_series: {e}");
            ExitCode::FAILURE
        }
    }
}
