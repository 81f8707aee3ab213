//! Technical indicators as pure functions over slices (oldest first), one output per input
//! position. A position without enough history is `NaN`; every value at position `i` depends
//! only on inputs `0..=i` (its own window and its past), never on a later one. graph-builder's
//! node features and the visualizer's Indicators tab both use these: one implementation.
//!
//! Definitions (also in `docs/graph-features.md`):
//!
//! | function | value at `i` | first defined `i` |
//! |---|---|---|
//! | [`simple_returns`] | `c[i] / c[i-1] - 1` | 1 |
//! | [`log_returns`] | `ln(c[i] / c[i-1])` | 1 |
//! | [`rolling_std`] | sample std (n - 1) of `x[i-n+1..=i]` | first `i` with `n` defined values |
//! | [`sma`] | mean of `x[i-n+1..=i]` | `n - 1` |
//! | [`ema`] | `α x[i] + (1 - α) ema[i-1]`, `α = 2 / (n + 1)`, seeded with `sma` at `n - 1` | `n - 1` |
//! | [`rsi_wilder`] | `100 - 100 / (1 + avg_gain / avg_loss)`, Wilder's smoothing | `n` |
//! | [`vwap`] | `Σ tp·v / Σ v` over `[i-n+1, i]`, `tp = (h + l + c) / 3` | `n - 1` |
//! | [`momentum`] | `c[i] / c[i-n] - 1` | `n` |
//! | [`gap`] | `c[i] / reference[i] - 1` | where the reference is |

/// `c[i] / c[i-1] - 1`.
pub fn simple_returns(close: &[f64]) -> Vec<f64> {
    lagged(close, 1, |now, then| now / then - 1.0)
}

/// `ln(c[i] / c[i-1])`.
pub fn log_returns(close: &[f64]) -> Vec<f64> {
    lagged(close, 1, |now, then| (now / then).ln())
}

/// `c[i] / c[i-n] - 1` (rate of change over `n` steps).
pub fn momentum(close: &[f64], n: usize) -> Vec<f64> {
    lagged(close, n, |now, then| now / then - 1.0)
}

fn lagged(x: &[f64], n: usize, f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            if i >= n && n > 0 {
                f(x[i], x[i - n])
            } else {
                f64::NAN
            }
        })
        .collect()
}

/// Sample standard deviation (divisor `n - 1`) of the last `n` values; `NaN` while any of them
/// is `NaN` or `n < 2`. Two passes per window (mean, then squares about it): exact enough for
/// returns, whose mean is near zero, and `n` is small.
pub fn rolling_std(x: &[f64], n: usize) -> Vec<f64> {
    windows(x, n, |w| {
        if n < 2 {
            return f64::NAN;
        }
        let mean = w.iter().sum::<f64>() / n as f64;
        let ss: f64 = w.iter().map(|v| (v - mean) * (v - mean)).sum();
        (ss / (n - 1) as f64).sqrt()
    })
}

/// Mean of the last `n` values, by a running sum (the changes `x[i] - x[i-n]` added in, as
/// TA-Lib's `SMA` does); `NaN` while the window holds a `NaN`.
pub fn sma(x: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    if n == 0 || x.len() < n {
        return out;
    }
    let inv = 1.0 / n as f64;
    // The finite part of the window's sum and how many `NaN`s it holds, without a branch.
    let finite = |v: f64| if v.is_nan() { 0.0 } else { v };
    let nan = |v: f64| isize::from(v.is_nan());
    let (mut sum, mut missing) = (0.0, 0isize);
    for &v in &x[..n] {
        sum += finite(v);
        missing += nan(v);
    }
    let mean = |sum: f64, missing: isize| if missing == 0 { sum * inv } else { f64::NAN };
    out[n - 1] = mean(sum, missing);
    // Two positions at a time, so that one add per pair is on the dependency chain through
    // `sum`: `sum[i+2] = sum[i] + (d[i+1] + d[i+2])`, and `sum[i+1]` branches off it.
    let mut pairs = out[n..].chunks_exact_mut(2);
    let mut new_pairs = x[n..].chunks_exact(2);
    let old_pairs = x[..x.len() - n].chunks_exact(2);
    for ((o, new), old) in (&mut pairs).zip(&mut new_pairs).zip(old_pairs) {
        let (d1, d2) = (
            finite(new[0]) - finite(old[0]),
            finite(new[1]) - finite(old[1]),
        );
        let (m1, m2) = (nan(new[0]) - nan(old[0]), nan(new[1]) - nan(old[1]));
        o[0] = mean(sum + d1, missing + m1);
        sum += d1 + d2;
        missing += m1 + m2;
        o[1] = mean(sum, missing);
    }
    if let ([o], [new]) = (pairs.into_remainder(), new_pairs.remainder()) {
        let old = x[x.len() - 1 - n];
        sum += finite(*new) - finite(old);
        missing += nan(*new) - nan(old);
        *o = mean(sum, missing);
    }
    out
}

/// A sum over a sliding window that may hold `NaN`s: the finite part and how many are not.
#[derive(Default)]
struct RunningSum {
    sum: f64,
    missing: usize,
}

impl RunningSum {
    fn add(&mut self, v: f64) {
        if v.is_nan() {
            self.missing += 1;
        } else {
            self.sum += v;
        }
    }

    fn remove(&mut self, v: f64) {
        if v.is_nan() {
            self.missing -= 1;
        } else {
            self.sum -= v;
        }
    }

    /// The sum, `None` while a `NaN` is in the window.
    fn value(&self) -> Option<f64> {
        (self.missing == 0).then_some(self.sum)
    }
}

/// `f` of each full window `x[i-n+1..=i]`; `NaN` before the first one and while a window holds a
/// `NaN` (which `f` would see).
fn windows(x: &[f64], n: usize, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            if n == 0 || i + 1 < n {
                return f64::NAN;
            }
            let w = &x[i + 1 - n..=i];
            if w.iter().any(|v| v.is_nan()) {
                f64::NAN
            } else {
                f(w)
            }
        })
        .collect()
}

/// Exponential moving average with `α = 2 / (n + 1)`, seeded with the simple mean of the first
/// `n` values (at position `n - 1`), as most charting references do.
pub fn ema(x: &[f64], n: usize) -> Vec<f64> {
    if n == 0 || x.len() < n {
        return vec![f64::NAN; x.len()];
    }
    let a = 2.0 / (n as f64 + 1.0);
    let b = 1.0 - a;
    let (ab, bb) = (a * b, b * b);
    let mut out = vec![f64::NAN; x.len()];
    let mut e = x[..n].iter().sum::<f64>() / n as f64;
    out[n - 1] = e;
    // Two steps at a time: `e[i+2] = a x[i+2] + a b x[i+1] + b² e[i]` leaves one multiply and
    // one add per pair on the dependency chain through `e`; `e[i+1]` branches off it.
    let mut outs = out[n..].chunks_exact_mut(2);
    let mut ins = x[n..].chunks_exact(2);
    for (o, p) in (&mut outs).zip(&mut ins) {
        o[0] = a * p[0] + b * e;
        e = (a * p[1] + ab * p[0]) + bb * e;
        o[1] = e;
    }
    for (o, &v) in outs.into_remainder().iter_mut().zip(ins.remainder()) {
        e = a * v + b * e;
        *o = e;
    }
    out
}

/// Wilder's relative strength index over `n` changes, in 0..=100. The first averages of gains
/// and losses are simple means of the first `n` changes (at position `n`); after that
/// `avg = avg · (n - 1) / n + current / n`. No losses gives 100, no change at all 50.
pub fn rsi_wilder(close: &[f64], n: usize) -> Vec<f64> {
    if n == 0 || close.len() <= n {
        return vec![f64::NAN; close.len()];
    }
    let k = n as f64;
    let (mut gain, mut loss) = (0.0, 0.0);
    for w in close[..=n].windows(2) {
        let d = w[1] - w[0];
        gain += d.max(0.0);
        loss += (-d).max(0.0);
    }
    gain /= k;
    loss /= k;
    let mut out = vec![f64::NAN; close.len()];
    out[n] = rsi(gain, loss);
    // Multiplications by constants rather than a division on the chain through the averages.
    let (keep, share) = ((k - 1.0) / k, 1.0 / k);
    for (o, w) in out[n + 1..].iter_mut().zip(close[n..].windows(2)) {
        let d = w[1] - w[0];
        gain = gain * keep + d.max(0.0) * share;
        loss = loss * keep + (-d).max(0.0) * share;
        *o = rsi(gain, loss);
    }
    out
}

/// `100 · gain / (gain + loss)` (`100 - 100 / (1 + gain / loss)` with one division, and exact
/// near 0); 50 when both are 0.
fn rsi(gain: f64, loss: f64) -> f64 {
    let total = gain + loss;
    if total > 0.0 {
        100.0 * (gain / total)
    } else {
        50.0
    }
}

/// Volume-weighted average of the typical price `(h + l + c) / 3` over the last `n` candles,
/// by running sums. Where those candles traded nothing, the plain mean of the typical price.
pub fn vwap(high: &[f64], low: &[f64], close: &[f64], volume: &[f64], n: usize) -> Vec<f64> {
    let len = close.len().min(high.len()).min(low.len()).min(volume.len());
    let mut out = vec![f64::NAN; len];
    if n == 0 {
        return out;
    }
    let tp = |j: usize| (high[j] + low[j] + close[j]) / 3.0;
    let (mut pv, mut v, mut tp_sum) = (
        RunningSum::default(),
        RunningSum::default(),
        RunningSum::default(),
    );
    // Candles in the window that traded: a running sum of volumes may not return to exactly 0.
    let mut traded = 0usize;
    for i in 0..len {
        pv.add(tp(i) * volume[i]);
        v.add(volume[i]);
        tp_sum.add(tp(i));
        traded += usize::from(volume[i] > 0.0);
        if i >= n {
            let j = i - n;
            pv.remove(tp(j) * volume[j]);
            v.remove(volume[j]);
            tp_sum.remove(tp(j));
            traded -= usize::from(volume[j] > 0.0);
        }
        if i + 1 >= n {
            out[i] = match (pv.value(), v.value(), tp_sum.value()) {
                (Some(pv), Some(v), _) if traded > 0 => pv / v,
                (Some(_), Some(_), Some(t)) => t / n as f64,
                _ => f64::NAN,
            };
        }
    }
    out
}

/// `c[i] / reference[i] - 1`: how far the close is above (positive) or below a reference level.
pub fn gap(close: &[f64], reference: &[f64]) -> Vec<f64> {
    close
        .iter()
        .zip(reference)
        .map(|(c, r)| c / r - 1.0)
        .collect()
}

/// `(h - l) / c`: the candle's range relative to its close.
pub fn range_ratio(high: &[f64], low: &[f64], close: &[f64]) -> Vec<f64> {
    high.iter()
        .zip(low)
        .zip(close)
        .map(|((h, l), c)| (h - l) / c)
        .collect()
}

/// `(c - l) / (h - l)`: where the close lies in the candle's range, 0 (low) to 1 (high); 0.5
/// for a candle without range.
pub fn close_location(high: &[f64], low: &[f64], close: &[f64]) -> Vec<f64> {
    high.iter()
        .zip(low)
        .zip(close)
        .map(|((h, l), c)| if h > l { (c - l) / (h - l) } else { 0.5 })
        .collect()
}

/// `ln(1 + v)`.
pub fn log1p(x: &[f64]) -> Vec<f64> {
    x.iter().map(|v| v.ln_1p()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close_to(a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x.is_nan() && y.is_nan()) || (x - y).abs() <= tol,
                "at {i}: {x} vs {y}"
            );
        }
    }

    #[test]
    fn small_cases_by_hand() {
        let c = [10.0, 11.0, 9.9, 9.9];
        close_to(&simple_returns(&c), &[f64::NAN, 0.1, -0.1, 0.0], 1e-12);
        close_to(&sma(&c, 2), &[f64::NAN, 10.5, 10.45, 9.9], 1e-12);
        close_to(
            &momentum(&c, 2),
            &[f64::NAN, f64::NAN, -0.01, 0.9 - 1.0],
            1e-12,
        );
        // EMA(3): seed mean(10, 11, 9.9) = 10.3; then 0.5 * 9.9 + 0.5 * 10.3.
        close_to(&ema(&c, 3), &[f64::NAN, f64::NAN, 10.3, 10.1], 1e-12);
        close_to(
            &rolling_std(&[1.0, 2.0, 3.0, 5.0], 3),
            &[f64::NAN, f64::NAN, 1.0, 1.5275252316519468],
            1e-12,
        );
        close_to(
            &close_location(&[2.0, 1.0], &[1.0, 1.0], &[1.5, 1.0]),
            &[0.5, 0.5],
            0.0,
        );
        // No volume: the plain mean of the typical price.
        close_to(
            &vwap(&[3.0, 6.0], &[0.0, 0.0], &[0.0, 3.0], &[0.0, 0.0], 2),
            &[f64::NAN, 2.0],
            1e-12,
        );
        close_to(
            &vwap(&[3.0, 6.0], &[0.0, 0.0], &[0.0, 3.0], &[1.0, 3.0], 2),
            &[f64::NAN, 2.5],
            1e-12,
        );
    }

    #[test]
    fn rsi_edges() {
        let flat = [5.0; 20];
        assert_eq!(rsi_wilder(&flat, 14)[14], 50.0);
        let up: Vec<f64> = (0..20).map(f64::from).collect();
        assert_eq!(rsi_wilder(&up, 14)[19], 100.0);
        assert!(rsi_wilder(&up, 14)[13].is_nan());
    }

    #[test]
    fn paired_steps_match_the_one_at_a_time_definitions() {
        let x: Vec<f64> = (0..13)
            .map(|i| {
                if i == 6 {
                    f64::NAN
                } else {
                    10.0 + f64::from(i * 7 % 5)
                }
            })
            .collect();
        for len in 0..=x.len() {
            let x = &x[..len];
            for n in 1..=5 {
                let want_sma = windows(x, n, |w| w.iter().sum::<f64>() / n as f64);
                close_to(&sma(x, n), &want_sma, 1e-12);
                let clean: Vec<f64> = x
                    .iter()
                    .map(|v| if v.is_nan() { 11.0 } else { *v })
                    .collect();
                let mut want_ema = vec![f64::NAN; len];
                if len >= n {
                    let a = 2.0 / (n as f64 + 1.0);
                    want_ema[n - 1] = clean[..n].iter().sum::<f64>() / n as f64;
                    for i in n..len {
                        want_ema[i] = a * clean[i] + (1.0 - a) * want_ema[i - 1];
                    }
                }
                close_to(&ema(&clean, n), &want_ema, 1e-12);
            }
        }
    }

    #[test]
    fn a_nan_in_the_window_keeps_the_window_undefined() {
        let x = [1.0, f64::NAN, 3.0, 4.0, 5.0];
        let s = sma(&x, 2);
        assert!(s[1].is_nan() && s[2].is_nan());
        assert_eq!(s[3], 3.5);
    }
}
