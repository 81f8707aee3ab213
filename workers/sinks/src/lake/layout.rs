//! Where a record lands in the lake: a Hive-style directory per symbol, type and UTC date, and a
//! file name made of the topic and the Kafka partitions and offset ranges of the batch it came
//! from. The same records always get the same name, so a replay overwrites a file instead of
//! adding one.
//!
//! ```text
//! <prefix>/symbol=BTCUSDT/type=api_candles_5m/date=2024-08-01/<topic>-p0-0-4999_p1-0-5120.parquet
//! <prefix>/_streamforge/intents/<topic>/p0/00000000000000000000-00000000000000004999.json
//! ```

use std::borrow::Cow;

use crate::core::Record;

/// The columns that live in the path, not in the files (the usual Hive convention, so a
/// dataset reader does not see them twice).
pub const PATH_COLUMNS: [&str; 3] = ["symbol", "type", "date"];

/// Fields that give a record's time, in order of preference (milliseconds since the epoch).
const TIME_FIELDS: [&str; 3] = ["open_time", "time", "event_time"];

/// The directory a record belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionDir {
    pub symbol: String,
    pub kind: String,
    pub date: String,
}

impl PartitionDir {
    /// `symbol` comes from the record (else `fallback_symbol`), the date from its time field,
    /// else from the Kafka message timestamp (order book snapshots carry no time of their own).
    pub fn of(record: &Record, fallback_symbol: &str, kind: &str) -> Self {
        let (symbol, day) = Self::symbol_and_day(record);
        Self::new(symbol.as_deref(), day, fallback_symbol, kind)
    }

    /// What places a record: its symbol, if it has one, and its UTC day number (days since
    /// 1970-01-01), if it has a time.
    pub fn symbol_and_day(record: &Record) -> (Option<Cow<'_, str>>, Option<i64>) {
        let time = TIME_FIELDS
            .iter()
            .find_map(|f| record.i64_field(f))
            .or(record.timestamp);
        (
            record.str_field("symbol"),
            time.map(|ms| ms.div_euclid(DAY_MS)),
        )
    }

    pub fn new(symbol: Option<&str>, day: Option<i64>, fallback_symbol: &str, kind: &str) -> Self {
        Self {
            symbol: symbol.unwrap_or(fallback_symbol).to_owned(),
            kind: kind.to_owned(),
            date: day
                .and_then(|d| utc_date(d.saturating_mul(DAY_MS)))
                .unwrap_or_else(|| "unknown".into()),
        }
    }

    pub fn path(&self, prefix: &str) -> String {
        join(
            prefix,
            &format!(
                "symbol={}/type={}/date={}",
                segment(&self.symbol),
                segment(&self.kind),
                segment(&self.date)
            ),
        )
    }
}

const DAY_MS: i64 = 86_400_000;

/// `YYYY-MM-DD` of a millisecond timestamp, in UTC.
pub fn utc_date(ms: i64) -> Option<String> {
    let days = ms.div_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    (0..=9999)
        .contains(&y)
        .then(|| format!("{y:04}-{m:02}-{d:02}"))
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A path segment value: letters, digits and `._-` as they are, anything else as `%XX`
/// (Hive's escaping), so a value can never add a directory level.
pub fn segment(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    match out.as_str() {
        // What Hive-style readers take as a null partition value.
        "" => "__HIVE_DEFAULT_PARTITION__".into(),
        "." | ".." => v.bytes().map(|b| format!("%{b:02X}")).collect(),
        _ => out,
    }
}

fn join(prefix: &str, rest: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        rest.to_owned()
    } else {
        format!("{p}/{rest}")
    }
}

/// The offsets `start..=end` of one Kafka partition that a batch holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OffsetRange {
    pub partition: i32,
    pub start: i64,
    pub end: i64,
}

/// Ranges spelled out in a file name, at most; a batch over more partitions is named by its
/// first range and a hash of all of them (names stay far below file system limits).
const NAMED_RANGES: usize = 4;

/// The data file, inside a partition directory, of a batch holding `ranges` (sorted by
/// partition): `<topic>-p0-<start>-<end>_p1-<start>-<end>.parquet`.
pub fn file_name(topic: &str, ranges: &[OffsetRange]) -> String {
    let spell = |r: &OffsetRange| format!("p{}-{}-{}", r.partition, r.start, r.end);
    let body = if ranges.len() <= NAMED_RANGES {
        ranges.iter().map(spell).collect::<Vec<_>>().join("_")
    } else {
        // FNV-1a: stable across releases and platforms, unlike the standard library's hasher.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for r in ranges {
            for b in spell(r).bytes().chain([b'_']) {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!(
            "{}_and-{}-more-{h:016x}",
            spell(&ranges[0]),
            ranges.len() - 1
        )
    };
    format!("{}-{body}.parquet", segment(topic))
}

/// The directory of `topic`/`partition`'s write intents.
pub fn intents_dir(prefix: &str, topic: &str, partition: i32) -> String {
    join(
        prefix,
        &format!("_streamforge/intents/{}/p{partition}", segment(topic)),
    )
}

/// One intent: written before a batch's files, it lists them, so a restart can find files
/// whose offsets were never committed.
pub fn intent_path(prefix: &str, topic: &str, partition: i32, start: i64, end: i64) -> String {
    format!(
        "{}/{start:020}-{end:020}.json",
        intents_dir(prefix, topic, partition)
    )
}

/// The sort key that lists intents from offset `from` on (names sort by start offset).
pub fn intents_from(prefix: &str, topic: &str, partition: i32, from: i64) -> String {
    format!("{}/{from:020}", intents_dir(prefix, topic, partition))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: &str, timestamp: Option<i64>) -> Record {
        crate::core::record::parse(Some(b"k"), Some(payload.as_bytes()), 0, 0, timestamp).unwrap()
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(utc_date(0).unwrap(), "1970-01-01");
        assert_eq!(utc_date(1_722_470_400_000).unwrap(), "2024-08-01");
        assert_eq!(utc_date(1_722_556_799_999).unwrap(), "2024-08-01");
        assert_eq!(utc_date(1_722_556_800_000).unwrap(), "2024-08-02");
        assert_eq!(utc_date(951_782_400_000).unwrap(), "2000-02-29");
        assert_eq!(utc_date(-1).unwrap(), "1969-12-31");
        assert_eq!(utc_date(i64::MAX), None);
    }

    #[test]
    fn directory_from_the_record_then_the_message_time() {
        let candle = record(
            r#"{"symbol": "BTCUSDT", "open_time": 1722470400000}"#,
            Some(0),
        );
        let d = PartitionDir::of(&candle, "X", "api_candles_5m");
        assert_eq!(
            d.path("lake"),
            "lake/symbol=BTCUSDT/type=api_candles_5m/date=2024-08-01"
        );
        let snapshot = record(
            r#"{"kind": "snapshot", "symbol": "ETHUSDT"}"#,
            Some(1_722_556_800_000),
        );
        let d = PartitionDir::of(&snapshot, "X", "ws_orderbook");
        assert_eq!(d.date, "2024-08-02");
        let bare = record("{}", None);
        let d = PartitionDir::of(&bare, "SOLUSDT", "ws_trades");
        assert_eq!(d.path("/"), "symbol=SOLUSDT/type=ws_trades/date=unknown");
    }

    #[test]
    fn segments_cannot_escape_their_directory() {
        assert_eq!(segment("BTCUSDT"), "BTCUSDT");
        assert_eq!(segment("a/b"), "a%2Fb");
        assert_eq!(segment("x=y z"), "x%3Dy%20z");
        assert_eq!(segment(".."), "%2E%2E");
        assert_eq!(segment(""), "__HIVE_DEFAULT_PARTITION__");
    }

    #[test]
    fn names_sort_by_offset() {
        let a = intent_path("lake", "t", 0, 99, 200);
        let b = intent_path("lake", "t", 0, 201, 300);
        assert!(a < b);
        assert!(intents_from("lake", "t", 0, 201) < b);
        assert!(intents_from("lake", "t", 0, 201) > a);
        let r = |partition, start, end| OffsetRange {
            partition,
            start,
            end,
        };
        assert_eq!(
            file_name("wf-x.data", &[r(2, 5, 9)]),
            "wf-x.data-p2-5-9.parquet"
        );
        assert_eq!(
            file_name("t", &[r(0, 0, 16277), r(1, 0, 15622), r(2, 0, 18098)]),
            "t-p0-0-16277_p1-0-15622_p2-0-18098.parquet"
        );
        let many: Vec<_> = (0..12).map(|p| r(p, 1000, 2000)).collect();
        let name = file_name("t", &many);
        assert!(name.starts_with("t-p0-1000-2000_and-11-more-"), "{name}");
        assert!(name.len() < 80);
        assert_eq!(name, file_name("t", &many), "deterministic");
        let mut other = many.clone();
        other[11].end = 2001;
        assert_ne!(name, file_name("t", &other));
    }
}
