//! Where a record lands in the lake: a Hive-style directory per symbol, type and time period,
//! and a file name made of the topic and the Kafka partitions and offset ranges of the batch it
//! came from. The same records always get the same name, so a replay overwrites a file instead
//! of adding one.
//!
//! The period's length, the [`Grain`], follows the data type, so that files hold megabytes:
//! a month for candles, a day for trades (and any other type), an hour for order books.
//!
//! ```text
//! <prefix>/symbol=BTCUSDT/type=api_candles_5m/month=2024-08/<topic>-p0-0-4999_p1-0-5120.parquet
//! <prefix>/symbol=BTCUSDT/type=ws_trades/date=2024-08-01/<topic>-p0-0-4999.parquet
//! <prefix>/symbol=BTCUSDT/type=ws_orderbook/date=2024-08-01/hour=13/<topic>-p0-0-4999.parquet
//! <prefix>/_streamforge/intents/<topic>/p0/00000000000000000000-00000000000000004999.json
//! ```

use std::borrow::Cow;

use crate::core::Record;

/// Fields that give a record's time, in order of preference (milliseconds since the epoch).
const TIME_FIELDS: [&str; 3] = ["open_time", "time", "event_time"];

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// How much time one directory holds. Chosen by the data type so that a directory gathers
/// enough rows for files of megabytes: a month of 1m candles is 44,640 rows (about 1 MB of
/// Parquet), a day of a busy symbol's trades millions, an hour of order-book diffs tens of
/// thousands of rows with their price levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grain {
    /// `month=YYYY-MM`: candles (`*candles*`, `*kline*`).
    Month,
    /// `date=YYYY-MM-DD`: trades and any type not named otherwise.
    Day,
    /// `date=YYYY-MM-DD/hour=HH`: order books (`*orderbook*`, `*depth*`).
    Hour,
}

impl Grain {
    /// The grain of a Queue's data type.
    pub fn of(kind: &str) -> Grain {
        let k = kind.to_ascii_lowercase();
        if k.contains("candle") || k.contains("kline") {
            Grain::Month
        } else if k.contains("orderbook") || k.contains("depth") {
            Grain::Hour
        } else {
            Grain::Day
        }
    }

    /// The columns of this grain's path, left out of the files (the usual Hive convention, so
    /// a dataset reader does not see them twice).
    pub fn path_columns(self) -> &'static [&'static str] {
        match self {
            Grain::Month => &["symbol", "type", "month"],
            Grain::Day => &["symbol", "type", "date"],
            Grain::Hour => &["symbol", "type", "date", "hour"],
        }
    }

    /// The period a millisecond time falls in: months, days or hours since 1970-01-01 UTC.
    pub fn period(self, ms: i64) -> i64 {
        match self {
            Grain::Month => {
                let (y, m, _) = civil_from_days(ms.div_euclid(DAY_MS));
                y * 12 + i64::from(m) - 1
            }
            Grain::Day => ms.div_euclid(DAY_MS),
            Grain::Hour => ms.div_euclid(HOUR_MS),
        }
    }

    /// The first millisecond of a period.
    pub fn start_ms(self, period: i64) -> i64 {
        match self {
            Grain::Month => {
                let (y, m) = (period.div_euclid(12), period.rem_euclid(12) + 1);
                days_from_civil(y, m, 1).saturating_mul(DAY_MS)
            }
            Grain::Day => period.saturating_mul(DAY_MS),
            Grain::Hour => period.saturating_mul(HOUR_MS),
        }
    }

    /// The path segments of a period (`None`: a record without a time).
    fn segments(self, period: Option<i64>) -> String {
        let date = |ms: i64| utc_date(ms).unwrap_or_else(|| "unknown".into());
        match (self, period) {
            (Grain::Month, Some(p)) => format!(
                "month={}",
                date(self.start_ms(p)).get(..7).unwrap_or("unknown")
            ),
            (Grain::Month, None) => "month=unknown".into(),
            (Grain::Day, p) => format!(
                "date={}",
                p.map_or("unknown".into(), |p| date(self.start_ms(p)))
            ),
            (Grain::Hour, Some(p)) => {
                let ms = self.start_ms(p);
                match utc_date(ms) {
                    Some(d) => format!("date={d}/hour={:02}", ms.rem_euclid(DAY_MS) / HOUR_MS),
                    None => "date=unknown/hour=unknown".into(),
                }
            }
            (Grain::Hour, None) => "date=unknown/hour=unknown".into(),
        }
    }

    /// The period a directory name of this grain's first time level stands for
    /// (`month=2024-08`, `date=2024-08-01`), for readers that look for the latest.
    pub fn parse_segment(self, name: &str) -> Option<i64> {
        let (key, value) = name.split_once('=')?;
        let num = |s: &str| s.parse::<i64>().ok();
        let mut parts = value.split('-');
        let (y, m) = (num(parts.next()?)?, num(parts.next()?)?);
        if !(1..=12).contains(&m) {
            return None;
        }
        match (self, key) {
            (Grain::Month, "month") if parts.next().is_none() => Some(y * 12 + m - 1),
            (Grain::Day | Grain::Hour, "date") => {
                let d = num(parts.next()?)?;
                (parts.next().is_none() && (1..=31).contains(&d))
                    .then(|| Grain::Day.period(days_from_civil(y, m, d) * DAY_MS))
            }
            _ => None,
        }
    }
}

/// The directory a record belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionDir {
    pub symbol: String,
    pub kind: String,
    pub grain: Grain,
    /// The time period ([`Grain::period`]); `None` for records without a time.
    pub period: Option<i64>,
}

impl PartitionDir {
    /// `symbol` comes from the record (else `fallback_symbol`), the period from its time field,
    /// else from the Kafka message timestamp (order book snapshots carry no time of their own).
    pub fn of(record: &Record, fallback_symbol: &str, kind: &str) -> Self {
        let (symbol, time) = Self::symbol_and_time(record);
        Self::new(symbol.as_deref(), time, fallback_symbol, kind)
    }

    /// What places a record: its symbol, if it has one, and its time in milliseconds, if it
    /// has one.
    pub fn symbol_and_time(record: &Record) -> (Option<Cow<'_, str>>, Option<i64>) {
        let time = TIME_FIELDS
            .iter()
            .find_map(|f| record.i64_field(f))
            .or(record.timestamp);
        (record.str_field("symbol"), time)
    }

    /// The directory of a record of `kind` with this symbol and time (ms).
    pub fn new(symbol: Option<&str>, time: Option<i64>, fallback_symbol: &str, kind: &str) -> Self {
        let grain = Grain::of(kind);
        Self::in_period(
            symbol.unwrap_or(fallback_symbol),
            kind,
            grain,
            time.map(|t| grain.period(t)),
        )
    }

    pub fn in_period(symbol: &str, kind: &str, grain: Grain, period: Option<i64>) -> Self {
        Self {
            symbol: symbol.to_owned(),
            kind: kind.to_owned(),
            grain,
            period,
        }
    }

    /// The directories of `symbol`'s `kind` records with times in `[start, end)` ms, oldest
    /// first.
    pub fn covering(symbol: &str, kind: &str, start: i64, end: i64) -> Vec<Self> {
        if end <= start {
            return vec![];
        }
        let grain = Grain::of(kind);
        (grain.period(start)..=grain.period(end - 1))
            .map(|p| Self::in_period(symbol, kind, grain, Some(p)))
            .collect()
    }

    /// The `[start, end)` ms of this directory's period.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        self.period
            .map(|p| (self.grain.start_ms(p), self.grain.start_ms(p + 1)))
    }

    pub fn path(&self, prefix: &str) -> String {
        join(
            prefix,
            &format!(
                "symbol={}/type={}/{}",
                segment(&self.symbol),
                segment(&self.kind),
                self.grain.segments(self.period)
            ),
        )
    }
}

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

/// A proleptic Gregorian date to days since 1970-01-01 (the inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

/// The name of part `part` (from 0) of a file split in `parts` because its directory got more
/// rows in one batch than a file may hold: `<name>.parquet` when whole, else
/// `<name>-part<part>of<parts>.parquet` (so the set of parts is as deterministic as the name).
pub fn part_name(name: &str, part: usize, parts: usize) -> String {
    if parts <= 1 {
        return name.to_owned();
    }
    let stem = name.strip_suffix(".parquet").unwrap_or(name);
    format!("{stem}-part{part}of{parts}.parquet")
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
    fn the_grain_follows_the_data_type() {
        assert_eq!(Grain::of("api_candles_1m"), Grain::Month);
        assert_eq!(Grain::of("ws_candles_1h"), Grain::Month);
        assert_eq!(Grain::of("api_trades"), Grain::Day);
        assert_eq!(Grain::of("ws_trades"), Grain::Day);
        assert_eq!(Grain::of("api_manual_upload"), Grain::Day);
        assert_eq!(Grain::of("ws_orderbook"), Grain::Hour);
    }

    #[test]
    fn periods_start_where_their_names_say() {
        let aug1 = 1_722_470_400_000; // 2024-08-01 00:00 UTC
        for grain in [Grain::Month, Grain::Day, Grain::Hour] {
            for ms in [0, -1, aug1, aug1 - 1, 951_782_400_000, 4_102_444_800_000] {
                let p = grain.period(ms);
                assert!(
                    grain.start_ms(p) <= ms && ms < grain.start_ms(p + 1),
                    "{grain:?} {ms}"
                );
            }
        }
        assert_eq!(
            Grain::Month.start_ms(Grain::Month.period(aug1 + 5 * DAY_MS)),
            aug1
        );
        assert_eq!(Grain::Month.period(aug1), 2024 * 12 + 7);
        // Leap February: 29 days.
        let feb = Grain::Month.period(951_782_400_000);
        assert_eq!(
            Grain::Month.start_ms(feb + 1) - Grain::Month.start_ms(feb),
            29 * DAY_MS
        );
        assert_eq!(
            Grain::Month.parse_segment("month=2024-08"),
            Some(2024 * 12 + 7)
        );
        assert_eq!(
            Grain::Day.parse_segment("date=2024-08-01"),
            Some(aug1 / DAY_MS)
        );
        assert_eq!(Grain::Month.parse_segment("date=2024-08-01"), None);
        assert_eq!(Grain::Day.parse_segment("date=2024-13-01"), None);
        assert_eq!(Grain::Day.parse_segment("date=unknown"), None);
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
            "lake/symbol=BTCUSDT/type=api_candles_5m/month=2024-08"
        );
        assert_eq!(d.time_range(), Some((1_722_470_400_000, 1_725_148_800_000)));
        let trade = record(r#"{"symbol": "BTCUSDT", "time": 1722470400000}"#, None);
        let d = PartitionDir::of(&trade, "X", "ws_trades");
        assert_eq!(d.path(""), "symbol=BTCUSDT/type=ws_trades/date=2024-08-01");
        let snapshot = record(
            r#"{"kind": "snapshot", "symbol": "ETHUSDT"}"#,
            Some(1_722_556_800_000 + 13 * HOUR_MS + 5),
        );
        let d = PartitionDir::of(&snapshot, "X", "ws_orderbook");
        assert_eq!(
            d.path("l"),
            "l/symbol=ETHUSDT/type=ws_orderbook/date=2024-08-02/hour=13"
        );
        let bare = record("{}", None);
        let d = PartitionDir::of(&bare, "SOLUSDT", "ws_trades");
        assert_eq!(d.path("/"), "symbol=SOLUSDT/type=ws_trades/date=unknown");
        let d = PartitionDir::of(&bare, "SOLUSDT", "api_candles_1m");
        assert_eq!(
            d.path("/"),
            "symbol=SOLUSDT/type=api_candles_1m/month=unknown"
        );
    }

    #[test]
    fn the_directories_of_a_range() {
        let aug1 = 1_722_470_400_000;
        let paths = |kind: &str, start: i64, end: i64| -> Vec<String> {
            PartitionDir::covering("BTCUSDT", kind, start, end)
                .iter()
                .map(|d| d.path(""))
                .collect()
        };
        assert_eq!(
            paths("api_candles_1m", aug1 - 1, aug1 + 40 * DAY_MS),
            [
                "symbol=BTCUSDT/type=api_candles_1m/month=2024-07",
                "symbol=BTCUSDT/type=api_candles_1m/month=2024-08",
                "symbol=BTCUSDT/type=api_candles_1m/month=2024-09",
            ]
        );
        assert_eq!(paths("ws_trades", aug1, aug1 + DAY_MS).len(), 1);
        assert_eq!(paths("ws_orderbook", aug1, aug1 + DAY_MS).len(), 24);
        assert!(paths("ws_trades", aug1, aug1).is_empty());
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
        assert_eq!(part_name("t-p0-1-9.parquet", 0, 1), "t-p0-1-9.parquet");
        assert_eq!(
            part_name("t-p0-1-9.parquet", 1, 3),
            "t-p0-1-9-part1of3.parquet"
        );
    }
}
