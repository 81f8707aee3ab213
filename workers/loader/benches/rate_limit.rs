//! Historical candles through the exchange simulator under a real 6,000 weight/minute limit:
//! candles per second reached against the physical limit, and 429s drawn, at the production
//! default budget (`DEFAULT_BUDGET_FRACTION`, 90%) and at the best budget measured (97%), one
//! after the other, each against a fresh simulator.
//!
//! Run: `cargo bench -p streamforge-loader --bench rate_limit` (takes about 5 minutes: each
//! budget must span whole one-minute weight windows). `RATE_LIMIT_BENCH_SECS` changes the length
//! of each, `WEIGHT_BUDGET_FRACTIONS` (comma-separated) the budgets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use streamforge_loader::binance::limits::{
    DEFAULT_BUDGET_FRACTION, WEIGHT_KLINES, WEIGHT_LIMIT_1M,
};
use streamforge_loader::binance::rest::RestClient;
use streamforge_loader::datatype::Interval;
use streamforge_loader::historical::{self, Progress};
use streamforge_loader::sink::{RecordSink, SinkError};
use tokio::sync::watch;

/// Counts records and drops them: this measures the exchange side only.
struct Count(u64);
impl RecordSink for Count {
    fn write(&mut self, _key: String, _payload: Vec<u8>) -> BoxFuture<'_, Result<(), SinkError>> {
        self.0 += 1;
        Box::pin(async { Ok(()) })
    }
    fn flush(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async { Ok(()) })
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The best budget measured: the highest that draws no 429 over whole windows.
const BEST_BUDGET_FRACTION: f64 = 0.97;

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let secs: u64 = std::env::var("RATE_LIMIT_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let fractions: Vec<f64> = std::env::var("WEIGHT_BUDGET_FRACTIONS")
        .ok()
        .map(|v| v.split(',').map(|f| f.trim().parse().unwrap()).collect())
        .unwrap_or_else(|| vec![DEFAULT_BUDGET_FRACTION, BEST_BUDGET_FRACTION]);
    for fraction in fractions {
        let label = if (fraction - DEFAULT_BUDGET_FRACTION).abs() < 1e-9 {
            " (the production default)"
        } else {
            ""
        };
        println!("== budget {:.0}%{label}", fraction * 100.0);
        measure(fraction, secs).await;
    }
}

async fn measure(budget_fraction: f64, secs: u64) {
    let (addr, state, task) = binance_sim::serve(
        "127.0.0.1:0".parse().unwrap(),
        binance_sim::Config::default(),
    )
    .await
    .unwrap();
    let budget = (f64::from(WEIGHT_LIMIT_1M) * budget_fraction) as u32;
    let rest = RestClient::new(&format!("http://{addr}"), budget).unwrap();
    let (tx, rx) = watch::channel(Progress::default());
    let mut sink = Count(0);
    // 1s candles from 2024-01-01: far more than a run can load at the budget's pace.
    let start = 1_704_067_200_000;
    let interval = Interval::parse("1s").unwrap();

    // Measure whole windows only: sample the count at each minute boundary.
    let sampler = tokio::spawn(async move {
        let mut marks = vec![];
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            let to_boundary = 60_000 - now_ms().rem_euclid(60_000);
            tokio::time::sleep(Duration::from_millis(to_boundary as u64)).await;
            marks.push((Instant::now(), rx.borrow().records));
        }
        marks
    });
    let load = historical::candles(
        &rest,
        &mut sink,
        "BTCUSDT",
        interval,
        start,
        now_ms(),
        now_ms(),
        None,
        &tx,
    );
    let marks = tokio::select! {
        m = sampler => m.unwrap(),
        r = load => panic!("the range ran out before the measurement ended: {r:?}"),
    };
    assert!(
        marks.len() >= 2,
        "RATE_LIMIT_BENCH_SECS={secs} spans no whole one-minute window"
    );
    let (t0, c0) = marks[0];
    let (t1, c1) = *marks.last().unwrap();
    let rate = (c1 - c0) as f64 / (t1 - t0).as_secs_f64();
    let limit = f64::from(WEIGHT_LIMIT_1M) / f64::from(WEIGHT_KLINES) * 1000.0 / 60.0;
    let stats = rest.stats();
    let server = binance_sim::server::stats(&state);
    println!(
        "budget: {budget} of {WEIGHT_LIMIT_1M} weight/minute ({:.0}%)",
        budget_fraction * 100.0
    );
    println!("windows measured: {}", marks.len() - 1);
    println!(
        "candles/s over whole windows: {rate:.0} = {:.1}% of the physical limit {limit:.0}",
        rate / limit * 100.0
    );
    println!(
        "requests: {}, 429 drawn: {} (server counted {}), 418: {}",
        stats.requests, stats.throttled_429, server["throttled_429"], server["banned_418"]
    );
    task.abort();
}
