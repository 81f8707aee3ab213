//! Batching by size and time (pure): a batch closes when it holds `max_records`, or when its
//! first record has waited `max_wait`. A re-delivered key within one batch keeps its last
//! version, so a batch never writes one key twice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::record::Record;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub records: Vec<Record>,
    /// Next offset to commit per partition once this batch is stored.
    pub commit: HashMap<i32, i64>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.commit.is_empty()
    }

    /// Smallest and largest key written, for the final report.
    pub fn key_range(&self) -> Option<(&str, &str)> {
        let min = self.records.iter().map(|r| r.key.as_str()).min()?;
        let max = self.records.iter().map(|r| r.key.as_str()).max()?;
        Some((min, max))
    }
}

#[derive(Debug)]
pub struct Batcher {
    max_records: usize,
    max_wait: Duration,
    current: Batch,
    /// Positions in `current.records`, found by key.
    index: hashbrown::HashTable<usize>,
    hasher: ahash::RandomState,
    opened: Option<Instant>,
}

impl Batcher {
    pub fn new(max_records: usize, max_wait: Duration) -> Self {
        Self {
            max_records: max_records.max(1),
            max_wait,
            current: Batch::default(),
            index: hashbrown::HashTable::new(),
            hasher: ahash::RandomState::new(),
            opened: None,
        }
    }

    /// Add a record; returns a full batch when this one filled it.
    pub fn push(&mut self, r: Record, now: Instant) -> Option<Batch> {
        self.opened.get_or_insert(now);
        self.advance(r.partition, r.offset);
        let hash = self.hasher.hash_one(&r.key);
        let records = &mut self.current.records;
        match self.index.find(hash, |&i| records[i].key == r.key) {
            Some(&i) => records[i] = r,
            None => {
                let hasher = &self.hasher;
                self.index
                    .insert_unique(hash, records.len(), |&i| hasher.hash_one(&records[i].key));
                records.push(r);
            }
        }
        (self.current.records.len() >= self.max_records).then(|| self.take())
    }

    /// A message that will not be stored (sent to the dead-letter topic) still moves the
    /// commit position, so it is not consumed again.
    pub fn skip(&mut self, partition: i32, offset: i64, now: Instant) {
        self.opened.get_or_insert(now);
        self.advance(partition, offset);
    }

    fn advance(&mut self, partition: i32, offset: i64) {
        let next = self.current.commit.entry(partition).or_insert(offset + 1);
        *next = (*next).max(offset + 1);
    }

    /// The open batch if it has waited long enough.
    pub fn due(&mut self, now: Instant) -> Option<Batch> {
        let opened = self.opened?;
        (now.duration_since(opened) >= self.max_wait).then(|| self.take())
    }

    /// When the open batch becomes due.
    pub fn deadline(&self) -> Option<Instant> {
        self.opened.map(|t| t + self.max_wait)
    }

    /// Close the open batch now (on shutdown or end of input).
    pub fn take(&mut self) -> Batch {
        self.index.clear();
        self.opened = None;
        std::mem::take(&mut self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &str, p: i32, o: i64) -> Record {
        crate::core::record::parse(Some(key.as_bytes()), Some(b"{}"), p, o, None).unwrap()
    }

    #[test]
    fn closes_by_size_and_keeps_the_last_version_of_a_key() {
        let mut b = Batcher::new(3, Duration::from_secs(10));
        let t = Instant::now();
        assert!(b.push(rec("a", 0, 1), t).is_none());
        assert!(b.push(rec("a", 0, 2), t).is_none(), "same key replaces");
        assert!(b.push(rec("b", 1, 9), t).is_none());
        let full = b.push(rec("c", 0, 3), t).unwrap();
        assert_eq!(
            full.records
                .iter()
                .map(|r| r.key.as_str())
                .collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(full.records[0].offset, 2);
        assert_eq!(full.commit[&0], 4);
        assert_eq!(full.commit[&1], 10);
        assert_eq!(full.key_range(), Some(("a", "c")));
        assert!(b.take().is_empty());
    }

    #[test]
    fn closes_by_time_and_counts_skipped_messages_for_commits() {
        let mut b = Batcher::new(100, Duration::from_millis(500));
        let t = Instant::now();
        b.skip(2, 41, t);
        b.push(rec("x", 0, 5), t + Duration::from_millis(100));
        assert!(b.due(t + Duration::from_millis(499)).is_none());
        assert_eq!(b.deadline(), Some(t + Duration::from_millis(500)));
        let batch = b.due(t + Duration::from_millis(500)).unwrap();
        assert_eq!(batch.records.len(), 1);
        assert_eq!(batch.commit[&2], 42);
        assert_eq!(b.deadline(), None);
    }
}
