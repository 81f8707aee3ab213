//! Candles → graph, without I/O: what nodes exist, that labels come from the future and
//! features from the past only, and how edges are drawn.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use streamforge_graph::{EdgeKind, Graph};
use streamforge_graph_builder::build::{BuildError, BuildSettings, build_graph};
use streamforge_graph_builder::candles::SymbolCandles;
use streamforge_graph_builder::edges::pearson;
use streamforge_graph_builder::features::{FEATURES, WARM_UP};
use streamforge_graph_builder::synthetic::market;

const T0: i64 = 1_722_470_400_000;
const MIN: i64 = 60_000;

fn settings(window: usize, threshold: f64) -> BuildSettings {
    BuildSettings {
        graph_name: "g".into(),
        source_type: "api_candles_1m".into(),
        time_range: "2024-08-01:2024-08-02".into(),
        interval_ms: MIN,
        correlation_window: window,
        correlation_threshold: threshold,
        label_horizon: 1,
        features: &streamforge_graph_builder::features::FEATURES,
        created_at: "2024-08-02T00:00:00Z".into(),
        extra_parameters: BTreeMap::new(),
    }
}

fn node_at(g: &Graph, symbol: &str, t: i64) -> Option<usize> {
    (0..g.nodes.len()).find(|&i| g.nodes.symbol[i] == symbol && g.nodes.window_start[i] == t)
}

fn features_of(g: &Graph, i: usize) -> Vec<f64> {
    g.nodes.features.iter().map(|(_, v)| v[i]).collect()
}

fn labels_of(g: &Graph, i: usize) -> Vec<Option<i64>> {
    g.nodes.labels.iter().map(|(_, v)| v[i]).collect()
}

#[test]
fn nodes_start_after_the_warm_up_and_the_graph_is_valid() {
    let data = market(&["BTCUSDT", "ETHUSDT", "SOLUSDT"], T0, MIN, 200, 7);
    let g = build_graph(&settings(24, 0.3), &data).unwrap();
    g.validate().unwrap();
    assert_eq!(g.nodes.len(), 3 * (200 - WARM_UP));
    assert_eq!(g.nodes.window_start[0], T0 + WARM_UP as i64 * MIN);
    assert_eq!(g.manifest.features, FEATURES);
    assert_eq!(g.manifest.labels, ["price_up", "future_volatility"]);
    assert_eq!(g.manifest.symbols, ["BTCUSDT", "ETHUSDT", "SOLUSDT"]);
    assert_eq!(g.manifest.parameters["correlation_window"], 24);
    assert_eq!(g.manifest.feature_definitions.len(), FEATURES.len() + 2);
    // Only each symbol's last window lacks a future.
    let nulls = g
        .nodes
        .label("price_up")
        .unwrap()
        .iter()
        .filter(|v| v.is_none())
        .count();
    assert_eq!(nulls, 3);
    let last = node_at(&g, "ETHUSDT", T0 + 199 * MIN).unwrap();
    assert_eq!(labels_of(&g, last), [None, None]);
    // future_volatility splits each symbol's nodes at their median.
    let fv = g.nodes.label("future_volatility").unwrap();
    let ones = fv.iter().filter(|v| **v == Some(1)).count();
    let defined = fv.iter().filter(|v| v.is_some()).count();
    assert!(
        (ones as f64 / defined as f64 - 0.5).abs() < 0.02,
        "{ones}/{defined}"
    );
}

/// Change one candle and see which nodes' features and labels move.
fn changed_at(data: &[SymbolCandles], k: usize) -> Vec<SymbolCandles> {
    let mut d = data.to_vec();
    let c = &mut d[0].candles[k];
    c.close *= 1.05;
    c.high = c.high.max(c.close);
    d
}

#[test]
fn labels_come_from_the_future_and_features_from_the_past() {
    let data = market(&["BTCUSDT", "ETHUSDT"], T0, MIN, 120, 11);
    let s = settings(24, 0.5);
    let base = build_graph(&s, &data).unwrap();
    let k = 80; // the candle changed
    let t = T0 + k as i64 * MIN;
    let changed = build_graph(&s, &changed_at(&data, k)).unwrap();
    assert_eq!(base.nodes.len(), changed.nodes.len());
    for i in 0..base.nodes.len() {
        let (sym, ws) = (&base.nodes.symbol[i], base.nodes.window_start[i]);
        let (f0, f1) = (features_of(&base, i), features_of(&changed, i));
        if sym != "BTCUSDT" || ws < t {
            // A window before the change (or another symbol): its features cannot see it.
            assert_eq!(
                f0, f1,
                "features of {sym} at {ws} moved with a later candle"
            );
        }
        if sym == "BTCUSDT" && ws == t {
            assert_ne!(f0, f1, "the window's own candle moves its features");
        }
        if sym != "BTCUSDT" || ws < t - MIN || ws > t {
            // The labels of a window read only its own close and the next window's.
            // (future_volatility compares with a median over the symbol, which may move, so
            // only price_up is compared for BTCUSDT.)
            let l = if sym == "BTCUSDT" { 1 } else { 2 };
            assert_eq!(
                &labels_of(&base, i)[..l],
                &labels_of(&changed, i)[..l],
                "labels of {sym} at {ws}"
            );
        }
    }
    // The window before the change: same features, but its future (the changed close) moved
    // up by 5 %, which turns price_up on.
    let before = node_at(&base, "BTCUSDT", t - MIN).unwrap();
    assert_eq!(features_of(&base, before), features_of(&changed, before));
    assert_eq!(changed.nodes.label("price_up").unwrap()[before], Some(1));
    // A change in the past moves a window's features (its history), not its price_up label.
    let after = node_at(&base, "BTCUSDT", t + 5 * MIN).unwrap();
    assert_ne!(features_of(&base, after), features_of(&changed, after));
    assert_eq!(
        base.nodes.label("price_up").unwrap()[after],
        changed.nodes.label("price_up").unwrap()[after]
    );
}

#[test]
fn temporal_edges_go_forward_one_window_and_gaps_restart_the_warm_up() {
    let mut data = market(&["BTCUSDT"], T0, MIN, 100, 3);
    data[0].candles.remove(60); // a missing candle
    let g = build_graph(&settings(24, 0.5), &data).unwrap();
    g.validate().unwrap();
    for i in 0..g.edges.len() {
        assert_eq!(g.edges.kind[i], EdgeKind::Temporal);
        let (s, d) = (g.edges.src[i] as usize, g.edges.dst[i] as usize);
        assert_eq!(
            g.nodes.window_start[d] - g.nodes.window_start[s],
            MIN,
            "next window only"
        );
    }
    // Run 1: candles 0..60 → nodes 20..60; run 2: candles 61..100 → nodes 81..100.
    assert_eq!(g.nodes.len(), 40 + 19);
    assert_eq!(g.edges.len(), 39 + 18);
    assert!(
        node_at(&g, "BTCUSDT", T0 + 80 * MIN).is_none(),
        "warm-up after the gap"
    );
    let before_gap = node_at(&g, "BTCUSDT", T0 + 59 * MIN).unwrap();
    assert_eq!(
        g.nodes.label("price_up").unwrap()[before_gap],
        None,
        "its future is missing"
    );
}

#[test]
fn cross_asset_edges_follow_the_correlation_threshold_both_ways() {
    let data = market(&["A", "B", "C", "D"], T0, MIN, 150, 5);
    let window = 24;
    let loose = build_graph(&settings(window, 0.0), &data).unwrap();
    let strict = build_graph(&settings(window, 0.6), &data).unwrap();
    let cross = |g: &Graph| {
        (0..g.edges.len())
            .filter(|&i| g.edges.kind[i] == EdgeKind::CrossAsset)
            .map(|i| {
                (
                    g.edges.src[i] as usize,
                    g.edges.dst[i] as usize,
                    g.edges.weight[i],
                )
            })
            .collect::<Vec<_>>()
    };
    let (all, some) = (cross(&loose), cross(&strict));
    assert!(
        !some.is_empty() && some.len() < all.len(),
        "{} of {}",
        some.len(),
        all.len()
    );
    // With threshold 0 every pair in every window with a full correlation window is joined:
    // windows 24..150 (returns from candle 1, so the first full window ends at candle 24).
    assert_eq!(all.len(), (150 - window) * 4 * 3);
    let g = &strict;
    for &(s, d, w) in &some {
        assert!(w.abs() >= 0.6);
        assert_eq!(g.nodes.window_start[s], g.nodes.window_start[d]);
        assert!(some.contains(&(d, s, w)), "the reverse edge is there");
        // ρ recomputed here from the candles' returns over the trailing window.
        let t = g.nodes.window_start[s];
        let returns = |sym: &str| {
            let c = &data.iter().find(|x| x.symbol == sym).unwrap().candles;
            let end = ((t - T0) / MIN) as usize;
            (end + 1 - window..=end)
                .map(|j| c[j].close / c[j - 1].close - 1.0)
                .collect::<Vec<_>>()
        };
        let rho = pearson(&returns(&g.nodes.symbol[s]), &returns(&g.nodes.symbol[d])).unwrap();
        assert!((rho - w).abs() < 1e-12);
    }
}

#[test]
fn windows_without_every_symbol_get_no_cross_asset_edges() {
    let mut data = market(&["A", "B", "C"], T0, MIN, 80, 9);
    data[2].candles.truncate(60); // C stops early
    let g = build_graph(&settings(24, 0.0), &data).unwrap();
    for i in 0..g.edges.len() {
        if g.edges.kind[i] == EdgeKind::CrossAsset {
            assert!(g.nodes.window_start[g.edges.src[i] as usize] < T0 + 60 * MIN);
        }
    }
}

#[test]
fn too_few_candles_and_candles_off_the_grid_are_refused() {
    let data = market(&["A"], T0, MIN, WARM_UP, 1);
    let e = build_graph(&settings(24, 0.5), &data).unwrap_err();
    assert!(matches!(e, BuildError::NoNodes(_)));
    assert!(e.to_string().contains("A 20"), "{e}");
    let mut data = market(&["A", "B"], T0, MIN, 50, 1);
    for c in &mut data[1].candles {
        c.open_time += 1_000;
    }
    let e = build_graph(&settings(24, 0.5), &data).unwrap_err();
    assert!(e.to_string().contains("not on the 60000 ms grid"), "{e}");
}

#[test]
fn an_rsi_vol_graph_keeps_the_same_nodes_and_edges_with_two_features() {
    let data = market(&["BTCUSDT", "ETHUSDT"], T0, MIN, 200, 7);
    let full = build_graph(&settings(24, 0.3), &data).unwrap();
    let mut s = settings(24, 0.3);
    s.features = streamforge_graph_builder::features::for_type("graph_rsi_vol");
    let g = build_graph(&s, &data).unwrap();
    g.validate().unwrap();
    assert_eq!(g.manifest.features, ["volatility", "rsi"]);
    assert_eq!(
        g.manifest.feature_definitions.keys().collect::<Vec<_>>(),
        ["future_volatility", "price_up", "rsi", "volatility"]
    );
    assert_eq!(g.nodes.node_id, full.nodes.node_id);
    assert_eq!(g.nodes.window_start, full.nodes.window_start);
    assert_eq!(g.edges.len(), full.edges.len());
    for name in ["volatility", "rsi"] {
        let kept = &g.nodes.features.iter().find(|(n, _)| n == name).unwrap().1;
        let all = &full
            .nodes
            .features
            .iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1;
        assert_eq!(kept, all, "{name}");
    }
    assert_eq!(g.nodes.labels, full.nodes.labels);
}
