//! The lake's plan for a batch (pure): which records are repeats of ones already stored, which
//! file each of the rest goes to, and the intents that list the files. The sink ([`super::sink`])
//! does the I/O the plan asks for.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use super::layout::{self, Grain, OffsetRange, PartitionDir};
use super::recovery::Intent;
use crate::core::{Batch, Record};

/// Highest key position per partition and key prefix.
pub(crate) type Positions = HashMap<i32, HashMap<String, i64, ahash::RandomState>>;

/// A record's directory as found in its payload: the symbol and the time period.
type DirKey<'r> = (Option<Cow<'r, str>>, Option<i64>);

/// What storing one batch takes.
pub(super) struct Plan {
    pub(super) intents: Vec<Intent>,
    pub(super) files: Vec<FilePlan>,
    /// The batch's highest key positions, which count as written once every file is stored
    /// (not before: a batch retried after an outage must not find its own records repeated).
    pub(super) positions: Positions,
    /// Records dropped as repeats of ones already stored.
    pub(super) repeats: u64,
}

/// One file to store: its path and the batch's records in it, in offset order.
pub(super) struct FilePlan {
    pub(super) path: String,
    pub(super) rows: Vec<usize>,
}

/// What a plan depends on besides the batch: where files go and what this run stored before.
pub(super) struct Planner<'a> {
    /// Path prefix inside the bucket or directory ("" for its root).
    pub(super) prefix: &'a str,
    pub(super) topic: &'a str,
    /// The `type=` directory.
    pub(super) kind: &'a str,
    /// The symbol for records that carry none.
    pub(super) symbol: &'a str,
    /// The most rows one file holds; a directory with more rows in a batch gets several.
    pub(super) max_file_rows: usize,
    /// Highest position written per partition and key prefix in this run.
    pub(super) written_up_to: &'a Positions,
}

impl Planner<'_> {
    /// Is `r` a re-delivery of a record an earlier batch of this run stored? Record keys end
    /// with a position (`SYMBOL|5m|<open time>`, `SYMBOL|<trade id>`) that grows within a key
    /// prefix, and one key always lands in one partition; so a key whose position is not above
    /// the highest one earlier batches stored for its prefix in its partition is a duplicate (a
    /// producer retry, or a loader that sent it again). Files are immutable, so it is dropped
    /// rather than overwritten. Repeats within one batch are already merged by the batcher.
    pub(super) fn is_repeat(&self, r: &Record, seen: &mut Positions) -> bool {
        let Some((prefix, pos)) = r.key.rsplit_once('|') else {
            return false;
        };
        let Ok(pos) = pos.parse::<i64>() else {
            return false;
        };
        if self
            .written_up_to
            .get(&r.partition)
            .and_then(|m| m.get(prefix))
            .is_some_and(|top| pos <= *top)
        {
            return true;
        }
        let tops = seen.entry(r.partition).or_default();
        match tops.get_mut(prefix) {
            Some(top) => *top = (*top).max(pos),
            None => {
                tops.insert(prefix.to_owned(), pos);
            }
        }
        false
    }

    /// The intents and files of a batch: one file per directory with the rows of every
    /// partition in it, in (partition, offset) order, and one intent per partition listing all
    /// the files. Pure: what counts as written changes only once the files are stored.
    pub(super) fn plan(&self, batch: &Batch) -> Plan {
        let mut order: Vec<usize> = (0..batch.records.len()).collect();
        order.sort_by_key(|&i| (batch.records[i].partition, batch.records[i].offset));
        let mut ranges: Vec<OffsetRange> = vec![];
        let mut seen = Positions::new();
        let mut repeats = 0;
        // Records of one symbol and period share a directory: found once per pair, by the
        // symbol as it lies in the payload.
        let grain = Grain::of(self.kind);
        let mut dirs: Vec<(PartitionDir, Vec<usize>)> = vec![];
        let mut dir_of: HashMap<DirKey<'_>, usize, ahash::RandomState> = HashMap::default();
        for i in order {
            let r = &batch.records[i];
            match ranges.last_mut() {
                Some(last) if last.partition == r.partition => last.end = r.offset,
                _ => ranges.push(OffsetRange {
                    partition: r.partition,
                    start: r.offset,
                    end: r.offset,
                }),
            }
            if self.is_repeat(r, &mut seen) {
                repeats += 1;
                continue;
            }
            let (symbol, time) = PartitionDir::symbol_and_time(r);
            let period = time.map(|t| grain.period(t));
            let d = match dir_of.get(&(symbol.clone(), period)) {
                Some(&d) => d,
                None => {
                    let dir = PartitionDir::in_period(
                        symbol.as_deref().unwrap_or(self.symbol),
                        self.kind,
                        grain,
                        period,
                    );
                    dirs.push((dir, vec![]));
                    dir_of.insert((symbol, period), dirs.len() - 1);
                    dirs.len() - 1
                }
            };
            dirs[d].1.push(i);
        }
        // Different keys may still name one directory: a record without a symbol and one whose
        // symbol is the Queue's, or two without a time.
        let mut by_dir: BTreeMap<PartitionDir, Vec<usize>> = BTreeMap::new();
        for (dir, rows) in dirs {
            by_dir.entry(dir).or_default().extend(rows);
        }
        for rows in by_dir.values_mut() {
            rows.sort_by_key(|&i| (batch.records[i].partition, batch.records[i].offset));
        }
        let name = layout::file_name(self.topic, &ranges);
        let per_file = self.max_file_rows.max(1);
        let mut files: Vec<FilePlan> = vec![];
        for (dir, rows) in by_dir {
            let path = dir.path(self.prefix);
            let parts = rows.len().div_ceil(per_file);
            for (part, chunk) in rows.chunks(per_file).enumerate() {
                files.push(FilePlan {
                    path: format!("{path}/{}", layout::part_name(&name, part, parts)),
                    rows: chunk.to_vec(),
                });
            }
        }
        let intents = ranges
            .iter()
            .map(|r| Intent {
                topic: self.topic.to_owned(),
                partition: r.partition,
                start: r.start,
                end: r.end,
                files: files.iter().map(|f| f.path.clone()).collect(),
                batch: ranges.clone(),
            })
            .collect();
        Plan {
            intents,
            files,
            positions: seen,
            repeats,
        }
    }
}

/// Count a stored batch's highest key positions as written.
pub(super) fn mark_written(written_up_to: &mut Positions, positions: Positions) {
    for (partition, tops) in positions {
        let written = written_up_to.entry(partition).or_default();
        for (prefix, top) in tops {
            let slot = written.entry(prefix).or_insert(top);
            *slot = (*slot).max(top);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record;

    fn batch(messages: &[(i32, i64, &str, &str)]) -> Batch {
        Batch {
            records: messages
                .iter()
                .map(|&(partition, offset, key, payload)| {
                    record::parse(
                        Some(key.as_bytes()),
                        Some(payload.as_bytes()),
                        partition,
                        offset,
                        None,
                    )
                    .unwrap()
                })
                .collect(),
            commit: HashMap::new(),
        }
    }

    fn planner(written_up_to: &Positions) -> Planner<'_> {
        Planner {
            prefix: "lake",
            topic: "q-data",
            kind: "api_candles_5m",
            symbol: "BTCUSDT",
            max_file_rows: 1_000_000,
            written_up_to,
        }
    }

    #[test]
    fn one_file_per_directory_and_one_intent_per_partition() {
        // 1722470400000 is 2024-08-01, 1725148800000 2024-09-01.
        let b = batch(&[
            (
                1,
                7,
                "BTCUSDT|5m|2",
                r#"{"symbol":"BTCUSDT","open_time":1725148800000}"#,
            ),
            (
                0,
                3,
                "BTCUSDT|5m|1",
                r#"{"symbol":"BTCUSDT","open_time":1722470400000}"#,
            ),
            (
                0,
                4,
                "ETHUSDT|5m|1",
                r#"{"symbol":"ETHUSDT","open_time":1722470400000}"#,
            ),
        ]);
        let none = Positions::new();
        let plan = planner(&none).plan(&b);
        let paths: Vec<&str> = plan.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "lake/symbol=BTCUSDT/type=api_candles_5m/month=2024-08/q-data-p0-3-4_p1-7-7.parquet",
                "lake/symbol=BTCUSDT/type=api_candles_5m/month=2024-09/q-data-p0-3-4_p1-7-7.parquet",
                "lake/symbol=ETHUSDT/type=api_candles_5m/month=2024-08/q-data-p0-3-4_p1-7-7.parquet",
            ]
        );
        assert_eq!(plan.files[0].rows, [1]);
        assert_eq!(plan.intents.len(), 2);
        assert!(plan.intents.iter().all(|i| i.files.len() == 3));
        assert_eq!(plan.repeats, 0);
    }

    #[test]
    fn keys_at_or_below_what_was_written_are_repeats() {
        let b = batch(&[
            (0, 10, "BTCUSDT|5m|100", r#"{"open_time":1722470400000}"#),
            (0, 11, "BTCUSDT|5m|101", r#"{"open_time":1722470400000}"#),
        ]);
        let mut written = Positions::new();
        mark_written(&mut written, planner(&Positions::new()).plan(&b).positions);
        assert_eq!(written[&0]["BTCUSDT|5m"], 101);

        let again = batch(&[
            (0, 12, "BTCUSDT|5m|101", r#"{"open_time":1722470400000}"#),
            (0, 13, "BTCUSDT|5m|102", r#"{"open_time":1722470400000}"#),
        ]);
        let plan = planner(&written).plan(&again);
        assert_eq!(plan.repeats, 1);
        assert_eq!(plan.files.len(), 1);
        assert_eq!(plan.files[0].rows, [1]);
        // The intent still covers every offset read, repeats included.
        assert_eq!((plan.intents[0].start, plan.intents[0].end), (12, 13));
    }

    #[test]
    fn a_directory_with_more_rows_than_a_file_holds_gets_several_files() {
        let messages: Vec<(i32, i64, String, String)> = (0..5)
            .map(|i| {
                let t = 1_722_470_400_000 + i * 60_000;
                (
                    0,
                    i,
                    format!("BTCUSDT|1m|{t}"),
                    format!(r#"{{"open_time":{t}}}"#),
                )
            })
            .collect();
        let refs: Vec<(i32, i64, &str, &str)> = messages
            .iter()
            .map(|(p, o, k, v)| (*p, *o, k.as_str(), v.as_str()))
            .collect();
        let b = batch(&refs);
        let none = Positions::new();
        let mut p = planner(&none);
        p.max_file_rows = 2;
        let plan = p.plan(&b);
        let names: Vec<&str> = plan
            .files
            .iter()
            .map(|f| f.path.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "q-data-p0-0-4-part0of3.parquet",
                "q-data-p0-0-4-part1of3.parquet",
                "q-data-p0-0-4-part2of3.parquet"
            ]
        );
        let rows: Vec<Vec<usize>> = plan.files.iter().map(|f| f.rows.clone()).collect();
        assert_eq!(rows, [vec![0, 1], vec![2, 3], vec![4]]);
        assert!(plan.intents[0].files.len() == 3);
    }
}
