//! The lake's plan for a write (pure): which records are repeats of ones already stored, which
//! directories are stored now and which are held back for the next write, which file each
//! stored record goes to, and the intents that list the files. The sink ([`super::sink`]) does
//! the I/O the plan asks for.
//!
//! Holding back: a directory whose period is still open (no later period of its symbol seen
//! yet) is kept for the next write, so a month of candles becomes one file however the
//! batches cut it; see [`Planner::plan`] for what stores it anyway.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::layout::{self, Grain, OffsetRange, PartitionDir};
use super::recovery::Intent;
use crate::core::{Batch, Record};

/// Highest key position per partition and key prefix.
pub(crate) type Positions = HashMap<i32, HashMap<String, i64, ahash::RandomState>>;

/// The latest period seen per symbol and partition.
pub(crate) type Latest = HashMap<String, HashMap<i32, i64>>;

/// A record's directory as found in its payload: the symbol and the time period.
type DirKey<'r> = (Option<Cow<'r, str>>, Option<i64>);

/// The most key prefixes one partition may have written while records are held back: the
/// written positions travel in the offset commit's metadata, which brokers cap at 4 KiB by
/// default (`offset.metadata.max.bytes`). A partition with more stores every directory.
pub(super) const MAX_PREFIXES_HELD: usize = 64;

/// The records one write plans over: those held back by earlier writes, then the batch's.
/// Row `i` is `held[i]` below `held.len()`, the batch's record `i - held.len()` above.
#[derive(Clone)]
pub(super) struct Rows {
    pub(super) held: Arc<Vec<Record>>,
    pub(super) batch: Arc<Batch>,
}

impl Rows {
    pub(super) fn len(&self) -> usize {
        self.held.len() + self.batch.records.len()
    }

    pub(super) fn get(&self, i: usize) -> &Record {
        match self.held.get(i) {
            Some(r) => r,
            None => &self.batch.records[i - self.held.len()],
        }
    }
}

/// What storing one write takes.
pub(super) struct Plan {
    pub(super) intents: Vec<Intent>,
    pub(super) files: Vec<FilePlan>,
    /// The highest key positions of the records stored, which count as written once every file
    /// is stored (not before: a write retried after an outage must not find its own records
    /// repeated).
    pub(super) positions: Positions,
    /// Records dropped as repeats of ones already stored or held.
    pub(super) repeats: u64,
    /// The records held back for the next write, in (partition, offset) order.
    pub(super) held: Vec<Record>,
    /// The latest period per symbol and partition, with this write's records.
    pub(super) latest: Latest,
    /// Every partition with rows in this write, held or new, in order.
    pub(super) partitions: Vec<i32>,
}

/// One file to store: its path and the rows (of [`Rows`]) in it, in offset order.
pub(super) struct FilePlan {
    pub(super) path: String,
    pub(super) rows: Vec<usize>,
}

/// What a plan depends on besides the records: where files go and what was stored before.
pub(super) struct Planner<'a> {
    /// Path prefix inside the bucket or directory ("" for its root).
    pub(super) prefix: &'a str,
    pub(super) topic: &'a str,
    /// The `type=` directory.
    pub(super) kind: &'a str,
    /// The symbol for records that carry none.
    pub(super) symbol: &'a str,
    /// The most rows one file holds; a directory with more rows in a write gets several.
    pub(super) max_file_rows: usize,
    /// Highest position written per partition and key prefix.
    pub(super) written_up_to: &'a Positions,
    /// The most records held back after this write; 0 holds nothing.
    pub(super) hold_records: usize,
    /// Store every directory, holding nothing back (the end of a run, or records held long
    /// enough).
    pub(super) flush: bool,
    /// The next offset per partition consumed so far, which names the intents of a write that
    /// stores only held records.
    pub(super) consumed: &'a HashMap<i32, i64>,
    /// The latest period per symbol and partition of earlier writes.
    pub(super) latest: &'a Latest,
    /// The topic's partitions, as far as known.
    pub(super) partitions: &'a [i32],
}

/// A record's key prefix and position: `SYMBOL|5m|<open time>` is (`SYMBOL|5m`, open time).
fn key_position(r: &Record) -> Option<(&str, i64)> {
    let (prefix, pos) = r.key.rsplit_once('|')?;
    Some((prefix, pos.parse().ok()?))
}

impl Planner<'_> {
    /// Is `r` a re-delivery of a record stored or held before? Record keys end with a position
    /// (`SYMBOL|5m|<open time>`, `SYMBOL|<trade id>`) that grows within a key prefix, and one
    /// key always lands in one partition; so a key whose position is not above the highest one
    /// stored (`written_up_to`) or held (`held_tops`) for its prefix in its partition is a
    /// duplicate (a producer retry, or a loader that sent it again). Files are immutable, so it
    /// is dropped rather than overwritten. Repeats within one batch are already merged by the
    /// batcher.
    fn is_repeat(&self, partition: i32, prefix: &str, pos: i64, held_tops: &Positions) -> bool {
        [self.written_up_to, held_tops].iter().any(|tops| {
            tops.get(&partition)
                .and_then(|m| m.get(prefix))
                .is_some_and(|top| pos <= *top)
        })
    }

    /// The intents and files of a write. Rows are grouped by directory, each directory's rows
    /// of every partition in (partition, offset) order. A directory is complete once every
    /// partition of the topic (`partitions`, and any seen) has reached a later period of its
    /// symbol: a symbol's keys spread over the partitions, which are read at different paces,
    /// one after another at times. Complete directories are stored once they hold a quarter of
    /// `hold_records` together (each write costs an intent per partition). The others are held
    /// back for the next write unless: `hold_records` is 0 or
    /// `flush` is set; their rows fill a file; their period is unknown; a partition has written
    /// more than [`MAX_PREFIXES_HELD`] key prefixes; or, to keep at most `hold_records` held,
    /// they are among the largest. One intent per partition of the batch lists the
    /// files; a write of held records alone names its intents after the consumed offsets,
    /// with an empty range (`start` = next offset, `end` = `start` - 1). Pure: what counts as
    /// written changes only once the files are stored.
    pub(super) fn plan(&self, rows: &Rows) -> Plan {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| (rows.get(i).partition, rows.get(i).offset));
        let mut ranges: Vec<OffsetRange> = vec![];
        let mut held_tops = Positions::new();
        let mut repeats = 0;
        // Records of one symbol and period share a directory: found once per pair, by the
        // symbol as it lies in the payload.
        let grain = Grain::of(self.kind);
        let mut dirs: Vec<(PartitionDir, Vec<usize>)> = vec![];
        let mut dir_of: HashMap<DirKey<'_>, usize, ahash::RandomState> = HashMap::default();
        let mut partitions: Vec<i32> = vec![];
        // The key prefixes per partition, which decide whether anything may be held.
        let holding = !self.flush && self.hold_records > 0;
        let mut prefixes: HashMap<i32, HashSet<&str>> = HashMap::new();
        for i in order {
            let r = rows.get(i);
            if partitions.last() != Some(&r.partition) {
                partitions.push(r.partition);
            }
            let key = key_position(r);
            if let (true, Some((prefix, _))) = (holding, key) {
                prefixes.entry(r.partition).or_default().insert(prefix);
            }
            let held = i < rows.held.len();
            if !held {
                match ranges.last_mut() {
                    Some(last) if last.partition == r.partition => last.end = r.offset,
                    _ => ranges.push(OffsetRange {
                        partition: r.partition,
                        start: r.offset,
                        end: r.offset,
                    }),
                }
                if key.is_some_and(|(prefix, pos)| {
                    self.is_repeat(r.partition, prefix, pos, &held_tops)
                }) {
                    repeats += 1;
                    continue;
                }
            } else if let Some((prefix, pos)) = key {
                raise(&mut held_tops, r.partition, prefix, pos);
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
        for (dir, rows_of) in dirs {
            by_dir.entry(dir).or_default().extend(rows_of);
        }
        for rows_of in by_dir.values_mut() {
            rows_of.sort_by_key(|&i| (rows.get(i).partition, rows.get(i).offset));
        }
        let mut latest = self.latest.clone();
        for (dir, rows_of) in &by_dir {
            let Some(period) = dir.period else { continue };
            let seen = latest.entry(dir.symbol.clone()).or_default();
            for &i in rows_of {
                let top = seen.entry(rows.get(i).partition).or_insert(period);
                *top = (*top).max(period);
            }
        }
        let hold = if holding {
            self.held_back(&prefixes, &by_dir, &latest)
        } else {
            vec![]
        };
        let mut positions = Positions::new();
        let mut held = vec![];
        let mut stored: Vec<(&PartitionDir, &Vec<usize>)> = vec![];
        for (dir, rows_of) in &by_dir {
            if hold.contains(&dir) {
                held.extend(rows_of.iter().map(|&i| rows.get(i).clone()));
                continue;
            }
            for &i in rows_of {
                let r = rows.get(i);
                if let Some((prefix, pos)) = key_position(r) {
                    raise(&mut positions, r.partition, prefix, pos);
                }
            }
            stored.push((dir, rows_of));
        }
        held.sort_by_key(|r| (r.partition, r.offset));
        if rows.batch.records.is_empty() {
            // Held records alone: an empty range at each partition's consumed offset.
            let mut parts: Vec<i32> = stored
                .iter()
                .flat_map(|(_, rows_of)| rows_of.iter().map(|&i| rows.get(i).partition))
                .collect();
            parts.sort_unstable();
            parts.dedup();
            ranges = parts
                .into_iter()
                .filter_map(|p| {
                    let next = *self.consumed.get(&p)?;
                    Some(OffsetRange {
                        partition: p,
                        start: next,
                        end: next - 1,
                    })
                })
                .collect();
        }
        let name = layout::file_name(self.topic, &ranges);
        let per_file = self.max_file_rows.max(1);
        let mut files: Vec<FilePlan> = vec![];
        for (dir, rows_of) in stored {
            let path = dir.path(self.prefix);
            let parts = rows_of.len().div_ceil(per_file);
            for (part, chunk) in rows_of.chunks(per_file).enumerate() {
                files.push(FilePlan {
                    path: format!("{path}/{}", layout::part_name(&name, part, parts)),
                    rows: chunk.to_vec(),
                });
            }
        }
        let intents = if files.is_empty() {
            vec![]
        } else {
            ranges
                .iter()
                .map(|r| Intent {
                    topic: self.topic.to_owned(),
                    partition: r.partition,
                    start: r.start,
                    end: r.end,
                    files: files.iter().map(|f| f.path.clone()).collect(),
                    batch: ranges.clone(),
                })
                .collect()
        };
        Plan {
            intents,
            files,
            positions,
            repeats,
            held,
            latest,
            partitions,
        }
    }

    /// The directories to hold back (see [`Planner::plan`]), given the key prefixes of every
    /// row per partition.
    fn held_back<'d>(
        &self,
        prefixes: &HashMap<i32, HashSet<&str>>,
        by_dir: &'d BTreeMap<PartitionDir, Vec<usize>>,
        latest: &Latest,
    ) -> Vec<&'d PartitionDir> {
        let too_many = prefixes.iter().any(|(p, new)| {
            let known = self.written_up_to.get(p);
            let more = new
                .iter()
                .filter(|k| known.is_none_or(|m| !m.contains_key(**k)))
                .count();
            known.map_or(0, HashMap::len) + more > MAX_PREFIXES_HELD
        });
        if too_many {
            return vec![];
        }
        // Directories not complete yet, if their period is known and their rows do not fill a
        // file.
        let mut known: Vec<i32> = self.partitions.to_vec();
        known.extend(latest.values().flat_map(|parts| parts.keys().copied()));
        known.sort_unstable();
        known.dedup();
        let complete = |dir: &PartitionDir| {
            dir.period.is_some_and(|period| {
                latest.get(&dir.symbol).is_some_and(|parts| {
                    known
                        .iter()
                        .all(|p| parts.get(p).is_some_and(|&top| top > period))
                })
            })
        };
        // Complete directories wait too while they are few (a write costs an intent per
        // partition): they go once they hold a quarter of `hold_records`.
        let complete_rows: usize = by_dir
            .iter()
            .filter(|(dir, _)| complete(dir))
            .map(|(_, rows_of)| rows_of.len())
            .sum();
        let hold_complete = complete_rows < self.hold_records / 4;
        let mut open: Vec<(&PartitionDir, usize)> = vec![];
        for (dir, rows_of) in by_dir {
            if dir.period.is_none() || rows_of.len() >= self.max_file_rows {
                continue;
            }
            if hold_complete || !complete(dir) {
                open.push((dir, rows_of.len()));
            }
        }
        // The smallest first, up to `hold_records`: the largest are the nearest to a full file.
        open.sort_by_key(|&(_, n)| n);
        let mut total = 0;
        open.into_iter()
            .take_while(|&(_, n)| {
                total += n;
                total <= self.hold_records
            })
            .map(|(dir, _)| dir)
            .collect()
    }
}

fn raise(tops: &mut Positions, partition: i32, prefix: &str, pos: i64) {
    let tops = tops.entry(partition).or_default();
    match tops.get_mut(prefix) {
        Some(top) => *top = (*top).max(pos),
        None => {
            tops.insert(prefix.to_owned(), pos);
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

    fn batch(messages: &[(i32, i64, &str, &str)]) -> Rows {
        Rows {
            held: Arc::default(),
            batch: Arc::new(batch_of(messages)),
        }
    }

    fn batch_of(messages: &[(i32, i64, &str, &str)]) -> Batch {
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
            hold_records: 0,
            flush: false,
            consumed: &NOTHING_CONSUMED,
            latest: &NOTHING_SEEN,
            partitions: &[],
        }
    }

    static NOTHING_CONSUMED: std::sync::LazyLock<HashMap<i32, i64>> =
        std::sync::LazyLock::new(HashMap::new);
    static NOTHING_SEEN: std::sync::LazyLock<Latest> = std::sync::LazyLock::new(HashMap::new);

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

    /// 1m candles of `symbols`, interleaved minute by minute from `from_minute`, at offsets
    /// from `offset`; a key's partition is its minute modulo 3, so every symbol spreads over
    /// three partitions as keys hash.
    fn candles(symbols: &[&str], from_minute: i64, minutes: i64, offset: i64) -> Vec<Record> {
        // 1722470400000 is 2024-08-01 00:00 UTC.
        let mut out = vec![];
        let mut o = offset;
        for m in from_minute..from_minute + minutes {
            for sym in symbols {
                let t = 1_722_470_400_000 + m * 60_000;
                let key = format!("{sym}|1m|{t}");
                let payload = format!(r#"{{"symbol":"{sym}","open_time":{t}}}"#);
                out.push(
                    record::parse(
                        Some(key.as_bytes()),
                        Some(payload.as_bytes()),
                        m.rem_euclid(3) as i32,
                        o,
                        None,
                    )
                    .unwrap(),
                );
                o += 1;
            }
        }
        out
    }

    fn rows_of(held: Vec<Record>, batch: Vec<Record>) -> Rows {
        Rows {
            held: Arc::new(held),
            batch: Arc::new(Batch {
                records: batch,
                commit: HashMap::new(),
            }),
        }
    }

    fn holding(written_up_to: &Positions, hold_records: usize) -> Planner<'_> {
        let mut p = planner(written_up_to);
        p.kind = "api_candles_1m";
        p.hold_records = hold_records;
        p
    }

    fn months(plan: &Plan) -> Vec<&str> {
        plan.files
            .iter()
            .map(|f| f.path.split('/').nth(3).unwrap())
            .collect()
    }

    #[test]
    fn a_symbols_open_period_is_held_and_stored_whole_once_a_later_one_arrives() {
        let none = Positions::new();
        // July 31st's last 10 minutes and August's first 10 of two symbols.
        let first = candles(&["BTCUSDT", "ETHUSDT"], -10, 20, 0);
        let plan = holding(&none, 40).plan(&rows_of(vec![], first));
        assert_eq!(months(&plan), ["month=2024-07", "month=2024-07"]);
        assert!(plan.files.iter().all(|f| f.rows.len() == 10));
        assert_eq!(plan.held.len(), 20, "August is held");
        assert_eq!(
            plan.intents.len(),
            3,
            "one intent per partition of the batch"
        );
        // What counts as written is July alone.
        let top = (0..3).map(|p| plan.positions[&p]["BTCUSDT|1m"]).max();
        assert_eq!(top, Some(1_722_470_400_000 - 60_000));

        // The next batch: the rest of August, then September's first minutes, one in each
        // partition (until then a partition may still bring August).
        let mut written = Positions::new();
        mark_written(&mut written, plan.positions);
        let aug_minutes = 31 * 1440;
        let next = candles(&["BTCUSDT", "ETHUSDT"], 10, aug_minutes - 10 + 3, 100_000);
        let held = plan.held;
        let mut p = holding(&written, 100_000);
        let latest = plan.latest;
        p.latest = &latest;
        let plan = p.plan(&rows_of(held, next));
        assert_eq!(
            months(&plan),
            ["month=2024-08", "month=2024-08"],
            "each symbol's August in one file: the held rows and the batch's"
        );
        assert!(
            plan.files
                .iter()
                .all(|f| f.rows.len() == aug_minutes as usize)
        );
        assert_eq!(plan.held.len(), 6, "September's first minutes are held");
        assert_eq!(plan.repeats, 0);
    }

    #[test]
    fn a_period_is_complete_only_once_every_partition_reached_a_later_one() {
        let none = Positions::new();
        // August's last minutes in every partition, then September's first in partition 0
        // alone: partitions 1 and 2 may still bring August.
        let aug_minutes = 31 * 1440;
        let mut batch = candles(&["BTCUSDT"], aug_minutes - 6, 6, 0);
        batch.extend(candles(&["BTCUSDT"], aug_minutes, 1, 6));
        let plan = holding(&none, 20).plan(&rows_of(vec![], batch));
        assert!(plan.files.is_empty(), "August is not complete yet");
        assert_eq!(plan.held.len(), 7);
        // The topic has a fourth partition that has not been read yet: it counts too.
        let mut p = holding(&none, 20);
        let four = [0, 1, 2, 3];
        p.partitions = &four;
        let september = candles(&["BTCUSDT"], aug_minutes + 1, 2, 7);
        let plan = p.plan(&rows_of(plan.held, september.clone()));
        assert!(
            plan.files.is_empty(),
            "partition 3 has not reached September"
        );
        let plan = holding(&none, 20).plan(&rows_of(plan.held, september));
        assert_eq!(
            months(&plan),
            ["month=2024-08"],
            "every partition is in September"
        );
    }

    #[test]
    fn complete_directories_wait_until_they_hold_a_quarter_of_the_limit() {
        let none = Positions::new();
        // July's last 3 minutes (complete) and August's first 3 of one symbol.
        let batch = candles(&["BTCUSDT"], -3, 6, 0);
        let plan = holding(&none, 100).plan(&rows_of(vec![], batch.clone()));
        assert!(plan.files.is_empty(), "3 complete rows < 100 / 4");
        assert_eq!(plan.held.len(), 6);
        let plan = holding(&none, 12).plan(&rows_of(vec![], batch));
        assert_eq!(months(&plan), ["month=2024-07"], "3 complete rows = 12 / 4");
        assert_eq!(plan.held.len(), 3);
    }

    #[test]
    fn a_batch_record_at_or_below_a_held_position_is_a_repeat() {
        let none = Positions::new();
        let first = candles(&["BTCUSDT"], 0, 5, 0);
        let plan = holding(&none, 1_000).plan(&rows_of(vec![], first.clone()));
        assert!(plan.files.is_empty() && plan.intents.is_empty());
        assert_eq!(plan.held.len(), 5);
        // A producer retry delivers minute 3 again, then minute 5 is new.
        let mut again = candles(&["BTCUSDT"], 3, 3, 5);
        again.remove(1);
        let plan = holding(&none, 1_000).plan(&rows_of(plan.held, again));
        assert_eq!(plan.repeats, 1);
        assert_eq!(plan.held.len(), 6);
    }

    #[test]
    fn flushing_stores_everything_held_under_empty_ranges_at_the_consumed_offsets() {
        let none = Positions::new();
        let held = candles(&["BTCUSDT", "ETHUSDT"], 0, 5, 0);
        let consumed = HashMap::from([(0, 10), (1, 10), (2, 10), (3, 10)]);
        let mut p = holding(&none, 1_000);
        p.flush = true;
        p.consumed = &consumed;
        let plan = p.plan(&rows_of(held, vec![]));
        assert_eq!(plan.files.len(), 2);
        assert!(plan.held.is_empty());
        let ranges: Vec<(i32, i64, i64)> = plan
            .intents
            .iter()
            .map(|i| (i.partition, i.start, i.end))
            .collect();
        assert_eq!(
            ranges,
            [(0, 10, 9), (1, 10, 9), (2, 10, 9)],
            "partitions held"
        );
        assert!(
            plan.files[0]
                .path
                .ends_with("q-data-p0-10-9_p1-10-9_p2-10-9.parquet"),
            "{}",
            plan.files[0].path
        );
        assert_eq!(
            plan.positions[&1]["ETHUSDT|1m"],
            1_722_470_400_000 + 4 * 60_000
        );
        assert_eq!(
            plan.positions[&2]["ETHUSDT|1m"],
            1_722_470_400_000 + 2 * 60_000
        );
    }

    #[test]
    fn at_most_hold_records_are_held_the_largest_directories_stored_first() {
        let none = Positions::new();
        let mut batch = candles(&["BTCUSDT"], 0, 30, 0);
        batch.extend(candles(&["ETHUSDT"], 0, 10, 30));
        batch.extend(candles(&["SOLUSDT"], 0, 20, 40));
        let plan = holding(&none, 30).plan(&rows_of(vec![], batch.clone()));
        let stored: Vec<&str> = plan
            .files
            .iter()
            .map(|f| f.path.split('/').nth(1).unwrap())
            .collect();
        assert_eq!(
            stored,
            ["symbol=BTCUSDT"],
            "30 + 20 + 10 > 30: the largest goes"
        );
        assert_eq!(plan.held.len(), 30);
        let plan = holding(&none, 0).plan(&rows_of(vec![], batch));
        assert_eq!(plan.files.len(), 3, "holding off: everything stored");
        assert!(plan.held.is_empty());
    }

    #[test]
    fn a_partition_with_more_prefixes_than_the_commit_metadata_carries_holds_nothing() {
        let mut written = Positions::new();
        let many: HashMap<String, i64, ahash::RandomState> = (0..MAX_PREFIXES_HELD)
            .map(|i| (format!("SYM{i}|1m"), 1))
            .collect();
        written.insert(0, many);
        let plan = holding(&written, 1_000).plan(&rows_of(vec![], candles(&["BTCUSDT"], 0, 5, 0)));
        assert!(plan.held.is_empty());
        assert_eq!(plan.files.len(), 1);
    }
}
