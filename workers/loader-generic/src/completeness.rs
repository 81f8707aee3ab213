//! What a file held against what it should (pure), reported as the Binance loader reports a
//! range ([`Completeness`]): candles are checked per series (symbol and interval) against every
//! window of the interval in the range (TIME_RANGE when set, else the file's first to last
//! candle, and never a window that has not closed yet); trades against aggregate-trade-id
//! continuity from the first id to the last. Rows may come in any order; a row whose key was
//! already loaded is a duplicate and is not sent again.

use std::collections::{BTreeMap, HashSet};

use streamforge_loader::historical::{Completeness, MAX_GAPS_LISTED};

#[derive(Debug, Default)]
struct Series {
    /// Candles: the interval in ms; trades: `None`.
    step: Option<i64>,
    positions: HashSet<i64>,
}

/// The positions loaded so far, per series.
#[derive(Debug, Default)]
pub struct Tracker {
    series: BTreeMap<String, Series>,
    duplicates: u64,
    produced: u64,
}

impl Tracker {
    /// Note `position` of `series`; false when it was there already (a duplicate, counted).
    pub fn admit(&mut self, series: &str, step: Option<i64>, position: i64) -> bool {
        let s = match self.series.get_mut(series) {
            Some(s) => s,
            None => self.series.entry(series.to_owned()).or_insert(Series {
                step,
                positions: HashSet::new(),
            }),
        };
        if s.positions.insert(position) {
            self.produced += 1;
            true
        } else {
            self.duplicates += 1;
            false
        }
    }

    /// Records admitted (not duplicates).
    pub fn produced(&self) -> u64 {
        self.produced
    }

    pub fn series(&self) -> usize {
        self.series.len()
    }

    /// The report: `range` is TIME_RANGE as `[start, end)` ms, `now` bounds closed candles.
    pub fn report(&self, range: Option<(i64, i64)>, now: i64) -> Completeness {
        let mut c = Completeness {
            produced: self.produced,
            duplicates_skipped: self.duplicates,
            ..Completeness::default()
        };
        for s in self.series.values() {
            let mut sorted: Vec<i64> = s.positions.iter().copied().collect();
            sorted.sort_unstable();
            if let (Some(&lo), Some(&hi)) = (sorted.first(), sorted.last()) {
                c.first = Some(c.first.map_or(lo, |f| f.min(lo)));
                c.last = Some(c.last.map_or(hi, |l| l.max(hi)));
            }
            match s.step {
                Some(step) if step > 0 => candles(&mut c, &sorted, step, range, now),
                _ => trades(&mut c, &sorted),
            }
        }
        c
    }
}

fn gap(c: &mut Completeness, from: i64, to: i64, count: u64) {
    c.missing = c.missing.saturating_add(count);
    if c.gaps.len() < MAX_GAPS_LISTED {
        c.gaps.push((from, to));
    }
}

/// The first `t' >= t` with `t' ≡ phase (mod step)`.
fn align_up(t: i64, step: i64, phase: i64) -> i64 {
    t.saturating_add(phase.saturating_sub(t).rem_euclid(step))
}

/// Windows of `step` in `[lo, hi)`.
fn windows(lo: i64, hi: i64, step: i64) -> u64 {
    u64::try_from(hi.saturating_sub(lo) / step).unwrap_or(0)
}

fn candles(c: &mut Completeness, sorted: &[i64], step: i64, range: Option<(i64, i64)>, now: i64) {
    let Some(&first) = sorted.first() else {
        if let Some((start, end)) = range {
            // Nothing at all: every window of the range is missing (epoch-aligned).
            let (lo, hi) = (align_up(start, step, 0), align_up(end.min(now), step, 0));
            if hi > lo {
                c.expected = c.expected.saturating_add(windows(lo, hi, step));
                gap(c, lo, hi, windows(lo, hi, step));
            }
        }
        return;
    };
    // Windows are on the grid of the file's candles (epoch multiples for most intervals,
    // Mondays for weeks).
    let phase = first.rem_euclid(step);
    let closed_end = align_up(now.saturating_sub(step - 1), step, phase);
    let past_last = sorted.last().map_or(first, |l| l.saturating_add(step));
    let (lo, hi) = match range {
        Some((start, end)) => (align_up(start, step, phase), align_up(end, step, phase)),
        None => (first, past_last),
    };
    let hi = hi.min(closed_end.max(past_last));
    if hi <= lo {
        return;
    }
    c.expected = c.expected.saturating_add(windows(lo, hi, step));
    let mut cursor = lo;
    for &p in sorted {
        if p < cursor || p >= hi || p.rem_euclid(step) != phase {
            continue;
        }
        if p > cursor {
            gap(c, cursor, p, windows(cursor, p, step));
        }
        cursor = p.saturating_add(step);
    }
    if cursor < hi {
        gap(c, cursor, hi, windows(cursor, hi, step));
    }
}

fn trades(c: &mut Completeness, sorted: &[i64]) {
    let (Some(&first), Some(&last)) = (sorted.first(), sorted.last()) else {
        return;
    };
    let ids = u64::try_from(i128::from(last) - i128::from(first) + 1).unwrap_or(u64::MAX);
    c.expected = c.expected.saturating_add(ids);
    for w in sorted.windows(2) {
        if let [a, b] = *w
            && b > a.saturating_add(1)
        {
            let missing = u64::try_from(i128::from(b) - i128::from(a) - 1).unwrap_or(u64::MAX);
            gap(c, a + 1, b, missing);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const T0: i64 = 1_722_470_400_000; // 2024-08-01
    const NOW: i64 = T0 + 1000 * H;

    #[test]
    fn candles_in_any_order_with_a_gap_and_a_duplicate() {
        let mut t = Tracker::default();
        for i in [3, 0, 1, 5, 1] {
            t.admit("BTCUSDT|1h", Some(H), T0 + i * H);
        }
        let c = t.report(None, NOW);
        assert_eq!((c.expected, c.produced, c.missing), (6, 4, 2));
        assert_eq!(c.duplicates_skipped, 1);
        assert_eq!(c.gaps, [(T0 + 2 * H, T0 + 3 * H), (T0 + 4 * H, T0 + 5 * H)]);
        assert_eq!((c.first, c.last), (Some(T0), Some(T0 + 5 * H)));
        assert!(!c.is_complete());
    }

    #[test]
    fn the_range_counts_windows_at_both_ends() {
        let mut t = Tracker::default();
        for i in 1..4 {
            t.admit("BTCUSDT|1h", Some(H), T0 + i * H);
        }
        let c = t.report(Some((T0, T0 + 6 * H)), NOW);
        assert_eq!((c.expected, c.missing), (6, 3));
        assert_eq!(c.gaps, [(T0, T0 + H), (T0 + 4 * H, T0 + 6 * H)]);
        // Windows not closed yet are not expected.
        let c = t.report(Some((T0, T0 + 6 * H)), T0 + 4 * H + 5);
        assert_eq!((c.expected, c.missing), (4, 1));
        let mut full = Tracker::default();
        for i in 0..6 {
            full.admit("BTCUSDT|1h", Some(H), T0 + i * H);
        }
        assert!(full.report(Some((T0, T0 + 6 * H)), NOW).is_complete());
    }

    #[test]
    fn extreme_positions_do_not_overflow() {
        let mut t = Tracker::default();
        t.admit("X|1h", Some(H), i64::MAX - 5);
        t.admit("X|1h", Some(H), i64::MIN + 7);
        let _ = t.report(None, NOW);
        let _ = t.report(Some((T0, T0 + H)), i64::MAX);
        let mut t = Tracker::default();
        t.admit("X", None, i64::MIN);
        t.admit("X", None, i64::MAX);
        assert_eq!(t.report(None, NOW).missing, u64::MAX - 1);
    }

    #[test]
    fn trades_by_id_continuity_per_symbol() {
        let mut t = Tracker::default();
        for id in [10, 11, 14, 12] {
            t.admit("BTCUSDT", None, id);
        }
        for id in [1, 2] {
            t.admit("ETHUSDT", None, id);
        }
        let c = t.report(None, NOW);
        assert_eq!((c.expected, c.produced, c.missing), (7, 6, 1));
        assert_eq!(c.gaps, [(13, 14)]);
        assert_eq!(t.series(), 2);
    }
}
