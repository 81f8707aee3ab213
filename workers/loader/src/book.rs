//! A local order book kept by Binance's documented procedure (pure; no I/O):
//!
//! 1. buffer diff events from the stream;
//! 2. take a REST snapshot;
//! 3. if the snapshot is older than the first buffered event (`lastUpdateId < U - 1`), take
//!    another;
//! 4. drop buffered events with `u <= lastUpdateId`;
//! 5. the first applied event must have `U <= lastUpdateId + 1 <= u`;
//! 6. after that every event's `U` must be the previous `u + 1`, else the book has a gap and is
//!    rebuilt from step 2.
//!
//! Quantities are absolute; 0 removes the level.
//!
//! Reference: Binance spot "How to manage a local order book correctly".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A decimal price as an integer number of 1e-8 units, so levels sort numerically.
pub type Ticks = i128;

/// Parse a Binance decimal string (up to 8 places) into ticks.
pub fn ticks(s: &str) -> Option<Ticks> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 8
        || int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut v: i128 = int.parse().ok()?;
    for i in 0..8 {
        v = v.checked_mul(10)?;
        if let Some(d) = frac.as_bytes().get(i) {
            v += i128::from(d - b'0');
        }
    }
    Some(v)
}

/// One `depthUpdate` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DepthEvent {
    #[serde(rename = "E")]
    pub event_time: i64,
    #[serde(rename = "U")]
    pub first_update_id: i64,
    #[serde(rename = "u")]
    pub final_update_id: i64,
    #[serde(rename = "b")]
    pub bids: Vec<[String; 2]>,
    #[serde(rename = "a")]
    pub asks: Vec<[String; 2]>,
}

/// A REST depth snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(rename = "lastUpdateId")]
    pub last_update_id: i64,
    pub bids: Vec<[String; 2]>,
    pub asks: Vec<[String; 2]>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    #[error("snapshot {snapshot} is older than the first buffered event (U={first}); take another")]
    SnapshotTooOld { snapshot: i64, first: i64 },
    #[error("gap in the diff stream: expected U={expected}, got U={got}; rebuild from a snapshot")]
    Gap { expected: i64, got: i64 },
    #[error("level {0:?} is not a decimal price/quantity")]
    BadLevel([String; 2]),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrderBook {
    pub last_update_id: i64,
    /// Price ticks → (price text, quantity text), as the exchange wrote them.
    pub bids: BTreeMap<Ticks, (String, String)>,
    pub asks: BTreeMap<Ticks, (String, String)>,
}

fn apply_levels(
    side: &mut BTreeMap<Ticks, (String, String)>,
    levels: &[[String; 2]],
) -> Result<(), BookError> {
    for l in levels {
        let price = ticks(&l[0]).ok_or_else(|| BookError::BadLevel(l.clone()))?;
        let qty = ticks(&l[1]).ok_or_else(|| BookError::BadLevel(l.clone()))?;
        if qty == 0 {
            side.remove(&price);
        } else {
            side.insert(price, (l[0].clone(), l[1].clone()));
        }
    }
    Ok(())
}

impl OrderBook {
    pub fn from_snapshot(s: &Snapshot) -> Result<Self, BookError> {
        let mut b = OrderBook {
            last_update_id: s.last_update_id,
            ..OrderBook::default()
        };
        apply_levels(&mut b.bids, &s.bids)?;
        apply_levels(&mut b.asks, &s.asks)?;
        Ok(b)
    }

    /// Apply the next event of a synced book. An event entirely older than the book is
    /// ignored (`Ok(false)`); one that does not continue it is a [`BookError::Gap`].
    pub fn apply(&mut self, e: &DepthEvent) -> Result<bool, BookError> {
        if e.final_update_id <= self.last_update_id {
            return Ok(false);
        }
        let expected = self.last_update_id + 1;
        if e.first_update_id > expected {
            return Err(BookError::Gap {
                expected,
                got: e.first_update_id,
            });
        }
        apply_levels(&mut self.bids, &e.bids)?;
        apply_levels(&mut self.asks, &e.asks)?;
        self.last_update_id = e.final_update_id;
        Ok(true)
    }

    pub fn best_bid(&self) -> Option<&(String, String)> {
        self.bids.values().next_back()
    }

    pub fn best_ask(&self) -> Option<&(String, String)> {
        self.asks.values().next()
    }

    /// The book as a snapshot (bids high to low, asks low to high).
    pub fn to_snapshot(&self) -> Snapshot {
        Snapshot {
            last_update_id: self.last_update_id,
            bids: self
                .bids
                .values()
                .rev()
                .map(|(p, q)| [p.clone(), q.clone()])
                .collect(),
            asks: self
                .asks
                .values()
                .map(|(p, q)| [p.clone(), q.clone()])
                .collect(),
        }
    }
}

/// Steps 3–5: a book from `snapshot` and the buffered events, or why it cannot be built.
/// Returns the book and the buffered events that were applied.
pub fn sync(snapshot: &Snapshot, buffered: &[DepthEvent]) -> Result<(OrderBook, usize), BookError> {
    if let Some(first) = buffered.first()
        && snapshot.last_update_id < first.first_update_id - 1
    {
        return Err(BookError::SnapshotTooOld {
            snapshot: snapshot.last_update_id,
            first: first.first_update_id,
        });
    }
    let mut book = OrderBook::from_snapshot(snapshot)?;
    let mut applied = 0;
    for e in buffered {
        if book.apply(e)? {
            applied += 1;
        }
    }
    Ok((book, applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(p: &str, q: &str) -> [String; 2] {
        [p.into(), q.into()]
    }

    fn ev(u0: i64, u1: i64, bids: Vec<[String; 2]>, asks: Vec<[String; 2]>) -> DepthEvent {
        DepthEvent {
            event_time: 0,
            first_update_id: u0,
            final_update_id: u1,
            bids,
            asks,
        }
    }

    fn snap(id: i64) -> Snapshot {
        Snapshot {
            last_update_id: id,
            bids: vec![lv("100.00", "1.0"), lv("99.50", "2.0")],
            asks: vec![lv("100.50", "1.5"), lv("101.00", "3.0")],
        }
    }

    #[test]
    fn ticks_parse_decimal_text_exactly() {
        assert_eq!(ticks("0.00000001"), Some(1));
        assert_eq!(ticks("100.5"), Some(10_050_000_000));
        assert_eq!(ticks("100"), Some(10_000_000_000));
        assert_eq!(ticks("1.123456789"), None);
        assert_eq!(ticks("-1"), None);
        assert_eq!(ticks("1e5"), None);
        assert_eq!(ticks(""), None);
    }

    #[test]
    fn the_documented_procedure_drops_old_events_and_applies_the_rest() {
        let buffered = vec![
            ev(95, 100, vec![lv("98.00", "9.0")], vec![]), // older than the snapshot: dropped
            ev(
                101,
                103,
                vec![lv("100.00", "0.00000000")],
                vec![lv("100.25", "4.0")],
            ),
            ev(104, 104, vec![], vec![lv("101.00", "0")]),
        ];
        let (book, applied) = sync(&snap(102), &buffered).unwrap();
        assert_eq!(applied, 2, "101..103 straddles the snapshot and applies");
        assert_eq!(book.last_update_id, 104);
        assert_eq!(book.best_bid().unwrap().0, "99.50");
        assert_eq!(book.best_ask().unwrap().0, "100.25");
        assert!(!book.bids.contains_key(&ticks("98.00").unwrap()));
        assert_eq!(book.asks.len(), 2);
    }

    #[test]
    fn a_snapshot_older_than_the_buffer_is_refused() {
        let buffered = vec![ev(200, 210, vec![], vec![])];
        assert_eq!(
            sync(&snap(150), &buffered),
            Err(BookError::SnapshotTooOld {
                snapshot: 150,
                first: 200
            })
        );
        assert!(sync(&snap(199), &buffered).is_ok());
    }

    #[test]
    fn a_gap_is_detected() {
        let (mut book, _) = sync(&snap(10), &[]).unwrap();
        assert!(book.apply(&ev(11, 12, vec![], vec![])).unwrap());
        assert_eq!(
            book.apply(&ev(14, 15, vec![], vec![])),
            Err(BookError::Gap {
                expected: 13,
                got: 14
            })
        );
        assert_eq!(
            book.apply(&ev(5, 12, vec![], vec![])),
            Ok(false),
            "a repeat is ignored"
        );
    }

    #[test]
    fn bad_levels_are_errors_not_panics() {
        let (mut book, _) = sync(&snap(1), &[]).unwrap();
        assert!(matches!(
            book.apply(&ev(2, 2, vec![lv("abc", "1")], vec![])),
            Err(BookError::BadLevel(_))
        ));
        let round = OrderBook::from_snapshot(&book.to_snapshot()).unwrap();
        assert_eq!(round.bids, book.bids);
    }
}
