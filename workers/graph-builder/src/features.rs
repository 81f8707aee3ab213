//! The node features of one run of candles (no gaps), from [`streamforge_indicators`]: one column per
//! name in [`FEATURES`], one value per candle. A candle's features use only it and the candles
//! before it; the first [`WARM_UP`] candles of a run lack history and get no node.

use std::collections::BTreeMap;

use crate::candles::Candle;
use streamforge_indicators as ind;

/// Trailing window of `volatility` (log returns).
pub const VOLATILITY_WINDOW: usize = 20;
/// Wilder's RSI period.
pub const RSI_PERIOD: usize = 14;
/// Trailing windows of the VWAP, SMA and EMA gaps.
pub const AVERAGE_WINDOW: usize = 20;
/// Look-back of `momentum`.
pub const MOMENTUM_LAG: usize = 10;
/// Candles a run needs before its first node: `volatility` needs `VOLATILITY_WINDOW` log
/// returns, so `VOLATILITY_WINDOW + 1` closes; every other feature needs fewer.
pub const WARM_UP: usize = VOLATILITY_WINDOW;

/// Feature names, in column order.
pub const FEATURES: [&str; 11] = [
    "return",
    "log_return",
    "volatility",
    "log_volume",
    "rsi",
    "vwap_gap",
    "sma_gap",
    "ema_gap",
    "momentum",
    "range",
    "close_location",
];

/// The features of a `graph_rsi_vol` graph (the seed's RSI-and-volatility graph), in column
/// order.
pub const RSI_VOL: [&str; 2] = ["volatility", "rsi"];

/// The features a graph of `data_type` keeps: [`RSI_VOL`] for `graph_rsi_vol`, every one of
/// [`FEATURES`] for `graph_build`.
pub fn for_type(data_type: &str) -> &'static [&'static str] {
    if data_type == streamforge_api::datatype::GRAPH_RSI_VOL {
        &RSI_VOL
    } else {
        &FEATURES
    }
}

/// One line per feature: how it is computed (the manifest's `feature_definitions`).
pub fn definitions() -> BTreeMap<String, String> {
    let w = AVERAGE_WINDOW;
    [
        ("return", "close / previous close - 1".to_owned()),
        ("log_return", "ln(close / previous close)".to_owned()),
        (
            "volatility",
            format!("sample std (n-1) of the last {VOLATILITY_WINDOW} log returns, this window's included"),
        ),
        ("log_volume", "ln(1 + volume) (base asset)".to_owned()),
        (
            "rsi",
            format!("Wilder's RSI({RSI_PERIOD}) of closes, 0..100 (no losses: 100; no change: 50)"),
        ),
        (
            "vwap_gap",
            format!("close / VWAP - 1, VWAP = sum(typical price * volume) / sum(volume) over the last {w} windows, typical price = (high + low + close) / 3 (no volume: mean typical price)"),
        ),
        ("sma_gap", format!("close / SMA({w}) of closes - 1")),
        (
            "ema_gap",
            format!("close / EMA({w}) of closes - 1, alpha = 2 / ({w} + 1), seeded with the SMA of the run's first {w} closes"),
        ),
        ("momentum", format!("close / close {MOMENTUM_LAG} windows earlier - 1")),
        ("range", "(high - low) / close".to_owned()),
        (
            "close_location",
            "(close - low) / (high - low), 0.5 when high = low".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The columns of [`FEATURES`] for `run` (candles without gaps), `NaN` where history is short.
pub fn run_features(run: &[Candle]) -> Vec<Vec<f64>> {
    let close: Vec<f64> = run.iter().map(|c| c.close).collect();
    let high: Vec<f64> = run.iter().map(|c| c.high).collect();
    let low: Vec<f64> = run.iter().map(|c| c.low).collect();
    let volume: Vec<f64> = run.iter().map(|c| c.volume).collect();
    let log_returns = ind::log_returns(&close);
    let volatility = ind::rolling_std(&log_returns, VOLATILITY_WINDOW);
    vec![
        ind::simple_returns(&close),
        log_returns,
        volatility,
        ind::log1p(&volume),
        ind::rsi_wilder(&close, RSI_PERIOD),
        ind::gap(
            &close,
            &ind::vwap(&high, &low, &close, &volume, AVERAGE_WINDOW),
        ),
        ind::gap(&close, &ind::sma(&close, AVERAGE_WINDOW)),
        ind::gap(&close, &ind::ema(&close, AVERAGE_WINDOW)),
        ind::momentum(&close, MOMENTUM_LAG),
        ind::range_ratio(&high, &low, &close),
        ind::close_location(&high, &low, &close),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_is_defined_from_the_warm_up_on() {
        let run: Vec<Candle> = (0..40)
            .map(|i| {
                let close = 100.0 + (f64::from(i) * 0.9).sin();
                Candle {
                    open_time: i64::from(i) * 60_000,
                    open: close,
                    high: close + 0.5,
                    low: close - 0.5,
                    close,
                    volume: f64::from(i % 3),
                }
            })
            .collect();
        let cols = run_features(&run);
        assert_eq!(cols.len(), FEATURES.len());
        assert_eq!(definitions().len(), FEATURES.len());
        for (name, col) in FEATURES.iter().zip(&cols) {
            assert!(col[WARM_UP..].iter().all(|v| v.is_finite()), "{name}");
        }
        assert!(
            cols[2][WARM_UP - 1].is_nan(),
            "volatility needs the whole warm-up"
        );
    }

    #[test]
    fn the_rsi_vol_graph_keeps_two_features_in_column_order() {
        assert_eq!(for_type("graph_rsi_vol"), ["volatility", "rsi"]);
        assert_eq!(for_type("graph_build"), FEATURES);
        let order: Vec<usize> = RSI_VOL
            .iter()
            .map(|f| FEATURES.iter().position(|g| g == f).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]));
    }
}
