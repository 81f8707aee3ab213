//! A deterministic order book for the depth endpoints: update `n` changes one price level as a
//! pure function of `n`, so the book at any update id can be recomputed (tests compare a
//! client's local book with it), and a diff event is the net change over a range of ids.
//!
//! Reference: Binance spot "Diff. Depth Stream" (`U` first and `u` final update id in an
//! event; quantities are absolute, 0 removes the level) and "Order Book" (`lastUpdateId`).

use std::collections::BTreeMap;

use crate::market::{Market, mix};

/// Mid price (ticks of 0.01) the depth book is built around, per symbol.
pub fn mid_of(m: &Market) -> i64 {
    m.trade(0).price_cents
}

/// Levels per side at update id 0. Updates only touch the [`UPDATE_BAND`] nearest the mid, so
/// the levels beyond it always rest there, as a real book is deep: a depth request for up to
/// `INITIAL_LEVELS - UPDATE_BAND` levels is always answered in full.
pub const INITIAL_LEVELS: i64 = 100;
/// Updates set levels at most this many ticks from the mid.
pub const UPDATE_BAND: i64 = 30;
/// One update every this many ms of simulated time.
pub const UPDATE_EVERY_MS: i64 = 20;

/// Which side a level is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Bid,
    Ask,
}

/// Prices are integer ticks of 0.01; quantities are in 1e-6.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Book {
    pub last_update_id: i64,
    pub bids: BTreeMap<i64, i64>,
    pub asks: BTreeMap<i64, i64>,
}

/// The level update `n` (from 1) sets: side, price tick, quantity (0 removes).
pub fn update(mid: i64, n: i64) -> (Side, i64, i64) {
    let h = mix(n as u64);
    let side = if h & 1 == 0 { Side::Bid } else { Side::Ask };
    let offset = 1 + (h >> 1) as i64 % UPDATE_BAND;
    let price = match side {
        Side::Bid => mid - offset,
        Side::Ask => mid + offset,
    };
    let qty = if (h >> 20).is_multiple_of(4) {
        0
    } else {
        1_000 + (h >> 24) as i64 % 2_000_000
    };
    (side, price, qty)
}

impl Book {
    pub fn initial(mid: i64) -> Self {
        let mut b = Book::default();
        for i in 1..=INITIAL_LEVELS {
            b.bids.insert(mid - i, 500_000 + i * 1_000);
            b.asks.insert(mid + i, 500_000 + i * 1_000);
        }
        b
    }

    pub fn set(&mut self, side: Side, price: i64, qty: i64) {
        let levels = match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        };
        if qty == 0 {
            levels.remove(&price);
        } else {
            levels.insert(price, qty);
        }
    }

    /// Apply updates up to and including `id`.
    pub fn advance_to(&mut self, mid: i64, id: i64) {
        while self.last_update_id < id {
            self.last_update_id += 1;
            let (side, price, qty) = update(mid, self.last_update_id);
            self.set(side, price, qty);
        }
    }

    /// The book at update id `id`, replayed from the start.
    pub fn at(mid: i64, id: i64) -> Self {
        let mut b = Book::initial(mid);
        b.advance_to(mid, id);
        b
    }
}

/// Net changes of updates `first..=last`: per level, its quantity after `last`.
pub fn diff(mid: i64, first: i64, last: i64) -> BTreeMap<(Side, i64), i64> {
    let mut out = BTreeMap::new();
    for n in first..=last {
        let (side, price, qty) = update(mid, n);
        out.insert((side, price), qty);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_compose_into_the_replayed_book() {
        let mid = 6_000_000;
        let mut b = Book::at(mid, 100);
        for ((side, price), qty) in diff(mid, 101, 250) {
            b.set(side, price, qty);
        }
        b.last_update_id = 250;
        assert_eq!(b, Book::at(mid, 250));
    }

    #[test]
    fn the_levels_beyond_the_update_band_always_rest() {
        let mid = 6_000_000;
        let mut b = Book::initial(mid);
        let full = (INITIAL_LEVELS - UPDATE_BAND) as usize;
        for id in (0..20_000).step_by(97) {
            b.advance_to(mid, id);
            assert!(b.bids.len() >= full && b.asks.len() >= full, "at {id}");
        }
    }
}
