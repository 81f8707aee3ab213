//! Node labels, from the future only: a label at position `i` of a run reads candles
//! `i+1..=i+h` (`h` = the label horizon) and nothing before `i` except the close at `i`. Where
//! that future is not in the run (the last `h` candles of the data, or before a gap), the
//! label is null.
//!
//! * `price_up`: `close[i+h] > close[i]` → 1, else 0.
//! * `future_volatility`: realized volatility of the next `h` windows,
//!   `sqrt(mean(ln(close[j] / close[j-1])², j = i+1..=i+h))`, above the median of that
//!   quantity over the symbol's nodes in the graph → 1, else 0.

/// Label names, in column order.
pub const LABELS: [&str; 2] = ["price_up", "future_volatility"];

/// `close[i+h] > close[i]`, null where `i + h` is past the run.
pub fn price_up(close: &[f64], h: usize) -> Vec<Option<i64>> {
    (0..close.len())
        .map(|i| {
            close
                .get(i + h)
                .filter(|_| h > 0)
                .map(|later| i64::from(*later > close[i]))
        })
        .collect()
}

/// Realized volatility of the `h` log returns after position `i`, null where they are past the
/// run.
pub fn future_volatility(close: &[f64], h: usize) -> Vec<Option<f64>> {
    (0..close.len())
        .map(|i| {
            if h == 0 || i + h >= close.len() {
                return None;
            }
            let ss: f64 = (i + 1..=i + h)
                .map(|j| (close[j] / close[j - 1]).ln().powi(2))
                .sum();
            Some((ss / h as f64).sqrt())
        })
        .collect()
}

/// The median of the defined values (mean of the middle two for an even count).
pub fn median(values: &[Option<f64>]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().flatten().copied().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// 1 where a value is above `threshold`, 0 where it is not, null where it is undefined.
pub fn above(values: &[Option<f64>], threshold: f64) -> Vec<Option<i64>> {
    values
        .iter()
        .map(|v| v.map(|x| i64::from(x > threshold)))
        .collect()
}

/// One line per label (the manifest's `feature_definitions`).
pub fn definitions(h: usize) -> [(String, String); 2] {
    [
        (
            "price_up".into(),
            format!(
                "1 if the close {h} window(s) later is above this window's close, else 0; null where that window is not in the data"
            ),
        ),
        (
            "future_volatility".into(),
            format!(
                "1 if sqrt(mean of squared log returns of the next {h} window(s)) is above its median over the symbol's nodes, else 0; null where those windows are not in the data"
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_look_ahead_and_end_in_null() {
        let c = [1.0, 2.0, 1.5, 1.5];
        assert_eq!(price_up(&c, 1), [Some(1), Some(0), Some(0), None]);
        assert_eq!(price_up(&c, 2), [Some(1), Some(0), None, None]);
        let fv = future_volatility(&c, 1);
        assert!((fv[0].unwrap() - 2f64.ln()).abs() < 1e-12);
        assert_eq!(fv[2], Some(0.0));
        assert_eq!(fv[3], None);
        let fv2 = future_volatility(&c, 2);
        let expect = ((2f64.ln().powi(2) + (0.75f64).ln().powi(2)) / 2.0).sqrt();
        assert!((fv2[0].unwrap() - expect).abs() < 1e-12);
    }

    #[test]
    fn median_and_threshold() {
        assert_eq!(median(&[Some(3.0), None, Some(1.0), Some(2.0)]), Some(2.0));
        assert_eq!(
            median(&[Some(4.0), Some(1.0), Some(2.0), Some(3.0)]),
            Some(2.5)
        );
        assert_eq!(median(&[None]), None);
        assert_eq!(
            above(&[Some(3.0), None, Some(2.0)], 2.0),
            [Some(1), None, Some(0)]
        );
    }
}
