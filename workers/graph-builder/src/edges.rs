//! The graph's edges, from per-symbol grids of windows (slot `s` is the window opening at
//! `t0 + s · interval`).
//!
//! * temporal: a symbol's node → its node in the next slot (past → future only; the reverse
//!   would carry a window's future, its label, into it). Weight 1.
//! * cross-asset: in a slot where every symbol has a node, symbols `a` and `b` are joined both
//!   ways when the Pearson correlation ρ of their simple returns over the `window` slots ending
//!   at this one (all present for both) has `|ρ| ≥ threshold`. Weight ρ. Only past and present
//!   returns enter ρ.

use streamforge_graph::{EdgeKind, EdgeTable};

/// No node in a slot.
pub const NONE: i64 = -1;

/// Pearson correlation of two equally long samples; `None` when either is constant (or shorter
/// than 2). Two passes, clamped to [-1, 1] against rounding.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let my = y[..n].iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (x[i] - mx, y[i] - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Temporal edges of every symbol: `nodes[k][s]` is symbol `k`'s node in slot `s` or [`NONE`].
pub fn temporal(nodes: &[Vec<i64>], out: &mut EdgeTable) {
    for grid in nodes {
        for s in 1..grid.len() {
            if grid[s - 1] != NONE && grid[s] != NONE {
                out.push(grid[s - 1], grid[s], EdgeKind::Temporal, 1.0);
            }
        }
    }
}

/// Cross-asset edges: `returns[k][s]` is symbol `k`'s simple return in slot `s` (`NaN` where
/// it has none).
pub fn cross_asset(
    nodes: &[Vec<i64>],
    returns: &[Vec<f64>],
    window: usize,
    threshold: f64,
    out: &mut EdgeTable,
) {
    let k = nodes.len();
    let slots = nodes.iter().map(Vec::len).min().unwrap_or(0);
    if k < 2 || window < 2 {
        return;
    }
    for s in window - 1..slots {
        if nodes.iter().any(|g| g[s] == NONE) {
            continue;
        }
        let span = s + 1 - window..=s;
        for a in 0..k {
            let x = &returns[a][span.clone()];
            if x.iter().any(|v| v.is_nan()) {
                continue;
            }
            for b in a + 1..k {
                let y = &returns[b][span.clone()];
                if y.iter().any(|v| v.is_nan()) {
                    continue;
                }
                if let Some(rho) = pearson(x, y).filter(|r| r.abs() >= threshold) {
                    out.push(nodes[a][s], nodes[b][s], EdgeKind::CrossAsset, rho);
                    out.push(nodes[b][s], nodes[a][s], EdgeKind::CrossAsset, rho);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_known_values() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(pearson(&x, &[2.0, 4.0, 6.0, 8.0]), Some(1.0));
        assert_eq!(pearson(&x, &[8.0, 6.0, 4.0, 2.0]), Some(-1.0));
        assert_eq!(pearson(&x, &[1.0, 1.0, 1.0, 1.0]), None);
        // x = 1..5, y = (2, 1, 4, 3, 5): Σdxdy = 8, Σdx² = Σdy² = 10.
        let r = pearson(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 4.0, 3.0, 5.0]).unwrap();
        assert!((r - 0.8).abs() < 1e-12);
    }

    #[test]
    fn temporal_edges_join_consecutive_slots_forward_only() {
        let nodes = vec![vec![0, 1, NONE, 2, 3]];
        let mut e = EdgeTable::default();
        temporal(&nodes, &mut e);
        assert_eq!(e.src, [0, 2]);
        assert_eq!(e.dst, [1, 3]);
    }

    #[test]
    fn cross_asset_edges_need_every_symbol_and_a_full_window() {
        let a = vec![0.01, 0.02, -0.01, 0.03, 0.0];
        let b: Vec<f64> = a.iter().map(|x| x * 2.0).collect();
        let c = vec![0.01, -0.02, 0.01, f64::NAN, 0.02];
        let nodes = vec![
            vec![0, 1, 2, 3, 4],
            vec![5, 6, 7, 8, 9],
            vec![10, 11, 12, 13, NONE],
        ];
        let mut e = EdgeTable::default();
        cross_asset(&nodes, &[a, b, c], 3, 0.5, &mut e);
        // Slot 4: symbol 2 has no node. Slots 2, 3: a~b (ρ = 1) both ways; c only in slot 2,
        // where its window is complete, and only if correlated enough.
        assert!(e.kind.iter().all(|k| *k == EdgeKind::CrossAsset));
        let pairs: Vec<(i64, i64)> = e.src.iter().copied().zip(e.dst.iter().copied()).collect();
        assert!(pairs.contains(&(2, 7)) && pairs.contains(&(7, 2)));
        assert!(pairs.contains(&(3, 8)) && pairs.contains(&(8, 3)));
        assert!(!pairs.iter().any(|(s, _)| *s == 4 || *s == 9));
        assert!(
            !pairs.iter().any(|(s, d)| *s == 13 || *d == 13),
            "c's window at slot 3 has a gap"
        );
        let mut strict = EdgeTable::default();
        cross_asset(
            &nodes,
            &[
                vec![0.01, 0.02, -0.01, 0.03, 0.0],
                vec![0.02, 0.04, -0.02, 0.06, 0.0],
                vec![0.0; 5],
            ],
            3,
            1.0,
            &mut strict,
        );
        assert_eq!(
            strict.len(),
            4,
            "ρ = 1 passes a threshold of 1, a constant series never"
        );
    }
}
