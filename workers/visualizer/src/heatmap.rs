//! The Heatmap Levels tab: order-book depth over time from `ws_orderbook` records, the book
//! rebuilt the way `docs/schemas.md` says the loader writes it: start from a snapshot, apply
//! every diff whose `final_update_id` is above the book's, quantities absolute, `"0"` removes a
//! level. A diff that skips ids (`first_update_id` beyond the book's next id) is a gap: the
//! book is unknown until the next snapshot, and those buckets stay empty.
//!
//! Records may come from several partitions (keys differ per record), so they are put in
//! update-id order first: a diff at id `u` before a snapshot at `u`, which already holds it.
//! Time is the record's broker timestamp for both kinds (snapshots carry no exchange time; a
//! diff's `event_time` is used only without one), so the two share one clock.
//!
//! The result is a grid: `buckets` equal time slices (the book as it stood at each slice's
//! end) by `levels` equal price bins over the prices seen (2nd to 98th percentile, widened to
//! every mid price), the quantity resting in each bin per side.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::topic_read::TopicRecord;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Heatmap {
    pub symbol: String,
    /// Each bucket's end, ms since the epoch.
    pub times: Vec<i64>,
    /// Bin centres, ascending.
    pub prices: Vec<f64>,
    /// `bids[t][level]`: quantity resting in the bin at time bucket `t`.
    pub bids: Vec<Vec<f64>>,
    pub asks: Vec<Vec<f64>>,
    /// Mid price at each bucket's end, `None` while the book is unknown.
    pub mid: Vec<Option<f64>>,
    pub snapshots: u64,
    pub diffs: u64,
    /// Diffs that skipped update ids (the book was unknown until the next snapshot).
    pub gaps: u64,
    /// Diffs before the first snapshot, which cannot be applied.
    pub before_snapshot: u64,
    /// Records that were not order-book records of the symbol (or not valid ones).
    pub ignored: u64,
}

#[derive(Default, Clone)]
struct Book {
    bids: HashMap<String, (f64, f64)>,
    asks: HashMap<String, (f64, f64)>,
    last_update_id: u64,
}

fn levels(v: &Value) -> Option<Vec<(String, f64, f64)>> {
    v.as_array()?
        .iter()
        .map(|l| {
            let price = l.get(0)?.as_str()?;
            let qty = l.get(1)?.as_str()?;
            Some((
                price.to_owned(),
                price.trim().parse().ok()?,
                qty.trim().parse().ok()?,
            ))
        })
        .collect()
}

fn apply(side: &mut HashMap<String, (f64, f64)>, lv: Vec<(String, f64, f64)>) {
    for (key, price, qty) in lv {
        if qty == 0.0 {
            side.remove(&key);
        } else {
            side.insert(key, (price, qty));
        }
    }
}

impl Book {
    fn mid(&self) -> Option<f64> {
        let bid = self.bids.values().map(|l| l.0).fold(f64::NAN, f64::max);
        let ask = self.asks.values().map(|l| l.0).fold(f64::NAN, f64::min);
        (bid.is_finite() && ask.is_finite()).then(|| (bid + ask) / 2.0)
    }
}

enum Step {
    Snapshot {
        id: u64,
        bids: Vec<(String, f64, f64)>,
        asks: Vec<(String, f64, f64)>,
    },
    Diff {
        first: u64,
        last: u64,
        bids: Vec<(String, f64, f64)>,
        asks: Vec<(String, f64, f64)>,
    },
}

fn step(r: &TopicRecord, symbol: &str) -> Option<(i64, Step)> {
    let v = &r.value;
    if !v.get("symbol")?.as_str()?.eq_ignore_ascii_case(symbol) {
        return None;
    }
    let bids = levels(v.get("bids")?)?;
    let asks = levels(v.get("asks")?)?;
    match v.get("kind")?.as_str()? {
        "snapshot" => Some((
            r.timestamp_ms?,
            Step::Snapshot {
                id: v.get("last_update_id")?.as_u64()?,
                bids,
                asks,
            },
        )),
        "diff" => Some((
            r.timestamp_ms
                .or_else(|| v.get("event_time").and_then(Value::as_i64))?,
            Step::Diff {
                first: v.get("first_update_id")?.as_u64()?,
                last: v.get("final_update_id")?.as_u64()?,
                bids,
                asks,
            },
        )),
        _ => None,
    }
}

/// The depth heatmap of `symbol` from `records` (any order).
pub fn build(records: &[TopicRecord], symbol: &str, buckets: usize, bins: usize) -> Heatmap {
    let mut out = Heatmap {
        symbol: symbol.to_owned(),
        ..Heatmap::default()
    };
    let mut steps: Vec<(i64, Step)> = Vec::with_capacity(records.len());
    for r in records {
        match step(r, symbol) {
            Some(s) => steps.push(s),
            None => out.ignored += 1,
        }
    }
    steps.sort_by_key(|(_, s)| match s {
        Step::Snapshot { id, .. } => (*id, 1),
        Step::Diff { last, .. } => (*last, 0),
    });
    let (buckets, bins) = (buckets.clamp(1, 2000), bins.clamp(1, 1000));
    let (Some(t0), Some(t1)) = (
        steps.iter().map(|(t, _)| *t).min(),
        steps.iter().map(|(t, _)| *t).max(),
    ) else {
        return out;
    };
    let span = (t1 - t0).max(1);
    let bucket_of = |t: i64| (((t - t0) as f64 / span as f64) * buckets as f64) as usize;
    // The book at each bucket's end: `None` for a bucket without records, `Some(None)` while
    // the book is unknown.
    let mut filed: Vec<Option<Option<Book>>> = vec![None; buckets];
    let mut book: Option<Book> = None;
    // Books are rebuilt in id order; each state is filed under the bucket of its record's time,
    // once: when the next record falls in another bucket (one copy per bucket, not per record).
    let mut open: Option<usize> = None;
    for (t, s) in steps {
        let k = bucket_of(t).min(buckets - 1);
        if let Some(prev) = open.filter(|&p| p != k) {
            filed[prev] = Some(book.clone());
        }
        open = Some(k);
        match s {
            Step::Snapshot { id, bids, asks } => {
                out.snapshots += 1;
                let mut b = Book {
                    last_update_id: id,
                    ..Book::default()
                };
                apply(&mut b.bids, bids);
                apply(&mut b.asks, asks);
                book = Some(b);
            }
            Step::Diff {
                first,
                last,
                bids,
                asks,
            } => {
                out.diffs += 1;
                match &mut book {
                    None => out.before_snapshot += 1,
                    Some(b) if last <= b.last_update_id => {}
                    Some(b) if first > b.last_update_id + 1 => {
                        out.gaps += 1;
                        book = None;
                    }
                    Some(b) => {
                        apply(&mut b.bids, bids);
                        apply(&mut b.asks, asks);
                        b.last_update_id = last;
                    }
                }
            }
        }
    }
    if let Some(k) = open {
        filed[k] = Some(book.clone());
    }
    // A bucket without records shows the book as the bucket before left it.
    let mut frames: Vec<Option<Book>> = Vec::with_capacity(buckets);
    for f in filed {
        let previous = frames.last().cloned().flatten();
        frames.push(f.unwrap_or(previous));
    }
    let mids: Vec<Option<f64>> = frames
        .iter()
        .map(|f| f.as_ref().and_then(Book::mid))
        .collect();
    let mut seen: Vec<f64> = frames
        .iter()
        .flatten()
        .flat_map(|b| b.bids.values().chain(b.asks.values()).map(|l| l.0))
        .collect();
    if seen.is_empty() {
        out.times = (0..buckets)
            .map(|k| t0 + span * (k as i64 + 1) / buckets as i64)
            .collect();
        out.mid = mids;
        return out;
    }
    seen.sort_by(f64::total_cmp);
    let pick = |q: f64| seen[((seen.len() - 1) as f64 * q).round() as usize];
    let mut lo = pick(0.02);
    let mut hi = pick(0.98);
    for m in mids.iter().flatten() {
        lo = lo.min(*m);
        hi = hi.max(*m);
    }
    if hi <= lo {
        hi = lo + lo.abs().max(1.0) * 1e-6;
    }
    let width = (hi - lo) / bins as f64;
    out.prices = (0..bins).map(|i| lo + width * (i as f64 + 0.5)).collect();
    let bin_of = |p: f64| {
        let i = ((p - lo) / width).floor();
        (0.0..bins as f64).contains(&i).then_some(i as usize)
    };
    for f in &frames {
        let (mut bids, mut asks) = (vec![0.0; bins], vec![0.0; bins]);
        if let Some(b) = f {
            for (price, qty) in b.bids.values() {
                if let Some(i) = bin_of(*price) {
                    bids[i] += qty;
                }
            }
            for (price, qty) in b.asks.values() {
                if let Some(i) = bin_of(*price) {
                    asks[i] += qty;
                }
            }
        }
        out.bids.push(bids);
        out.asks.push(asks);
    }
    out.times = (0..buckets)
        .map(|k| t0 + span * (k as i64 + 1) / buckets as i64)
        .collect();
    out.mid = mids;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(ts: i64, v: Value) -> TopicRecord {
        TopicRecord {
            partition: 0,
            offset: ts,
            timestamp_ms: Some(ts),
            key: None,
            value: v,
        }
    }

    fn snapshot(ts: i64, id: u64, bids: Value, asks: Value) -> TopicRecord {
        rec(
            ts,
            json!({"kind": "snapshot", "symbol": "BTCUSDT", "last_update_id": id, "bids": bids, "asks": asks}),
        )
    }

    fn diff(ts: i64, first: u64, last: u64, bids: Value, asks: Value) -> TopicRecord {
        rec(
            ts,
            json!({"kind": "diff", "symbol": "BTCUSDT", "first_update_id": first,
            "final_update_id": last, "event_time": ts, "bids": bids, "asks": asks}),
        )
    }

    #[test]
    fn snapshot_then_diffs_rebuild_the_book_in_update_order() {
        // Out of order on purpose (records of one symbol come from several partitions).
        let records = vec![
            diff(300, 103, 104, json!([["99", "0"]]), json!([])),
            snapshot(
                100,
                100,
                json!([["99", "1"], ["98", "2"]]),
                json!([["101", "3"]]),
            ),
            diff(200, 99, 102, json!([["98", "5"]]), json!([["102", "4"]])),
            rec(250, json!({"kind": "diff", "symbol": "ETHUSDT"})),
        ];
        let h = build(&records, "BTCUSDT", 2, 4);
        assert_eq!((h.snapshots, h.diffs, h.gaps, h.ignored), (1, 2, 0, 1));
        assert_eq!(h.times.len(), 2);
        // The price range spans 98..=102: bins of width 1.
        assert_eq!(h.prices, vec![98.5, 99.5, 100.5, 101.5]);
        // At the end: bids 98 → 5 (99 removed); asks 101 → 3, 102 → 4 (102 is the range's top
        // edge, outside the last bin).
        assert_eq!(h.bids[1], vec![5.0, 0.0, 0.0, 0.0]);
        assert_eq!(h.asks[1], vec![0.0, 0.0, 0.0, 3.0]);
        assert_eq!(h.mid[1], Some((98.0 + 101.0) / 2.0));
        // The first bucket (t in [100, 200)) holds the snapshot as sent.
        assert_eq!(h.bids[0], vec![2.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn a_gap_leaves_the_book_unknown_until_the_next_snapshot() {
        let records = vec![
            snapshot(0, 10, json!([["99", "1"]]), json!([["101", "1"]])),
            diff(100, 15, 16, json!([["99", "2"]]), json!([])),
            snapshot(200, 20, json!([["99", "3"]]), json!([["101", "1"]])),
        ];
        let h = build(&records, "BTCUSDT", 3, 2);
        assert_eq!(h.gaps, 1);
        assert_eq!(h.mid[0], Some(100.0));
        assert_eq!(h.mid[1], None, "unknown after the gap");
        assert_eq!(h.mid[2], Some(100.0));
    }

    #[test]
    fn diffs_before_any_snapshot_and_bad_records_are_counted_not_applied() {
        let records = vec![
            diff(0, 1, 2, json!([["99", "1"]]), json!([])),
            rec(
                1,
                json!({"kind": "snapshot", "symbol": "BTCUSDT", "bids": "x"}),
            ),
        ];
        let h = build(&records, "BTCUSDT", 4, 4);
        assert_eq!((h.before_snapshot, h.ignored), (1, 1));
        assert!(h.prices.is_empty());
        assert!(h.mid.iter().all(Option::is_none));
        assert!(build(&[], "BTCUSDT", 4, 4).times.is_empty());
    }
}
