//! `timeRange`: `2024-08-01:2024-08-02` (whole UTC days, end exclusive) or two RFC 3339
//! instants separated by `:` or `/` (`2024-08-01T00:00:00Z/2024-08-01T06:00:00Z`).
//!
//! The API server checks the same grammar through the CRD's pattern and CEL rule
//! ([`PATTERN`], [`CEL_START_BEFORE_END`]); this parser is the operator's and workers' view.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};

/// One date or RFC 3339 instant, as a regular expression both RE2 (CEL) and ECMA (OpenAPI) accept.
pub const POINT: &str =
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?";

/// OpenAPI pattern for the whole field.
pub const PATTERN: &str = concat!(
    "^",
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?",
    "[:/]",
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?",
    "$"
);

/// CEL rule, evaluated by the API server on the field: both ends parse and start < end.
/// A bare date means midnight UTC.
pub const CEL_START_BEFORE_END: &str = concat!(
    "self.findAll('",
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?",
    "').size() == 2 && ",
    "timestamp(self.findAll('",
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?",
    "')[0] + (self.findAll('",
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?",
    "')[0].size() == 10 ? 'T00:00:00Z' : '')) < ",
    "timestamp(self.findAll('",
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?",
    "')[1] + (self.findAll('",
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?",
    "')[1].size() == 10 ? 'T00:00:00Z' : ''))"
);

/// Longest accepted `timeRange` (two instants with nanoseconds and offsets); bounds CEL cost.
pub const MAX_LEN: usize = 80;

/// A half-open UTC interval `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Both ends were whole dates (`YYYY-MM-DD`).
    pub whole_days: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeRangeError {
    #[error("timeRange {0:?} is not `START:END` with dates (2024-08-01) or RFC 3339 instants")]
    Malformed(String),
    #[error("timeRange {input:?}: start {start} is not before end {end}")]
    NotIncreasing {
        input: String,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
}

fn parse_point(s: &str) -> Option<(DateTime<Utc>, bool)> {
    if s.len() == 10 {
        let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        return Some((date.and_hms_opt(0, 0, 0)?.and_utc(), true));
    }
    // Require a 'T' separator: RFC 3339 allows a space, the pattern does not.
    if s.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| (t.with_timezone(&Utc), false))
}

impl TimeRange {
    pub fn parse(input: &str) -> Result<Self, TimeRangeError> {
        let malformed = || TimeRangeError::Malformed(input.to_owned());
        if input.len() > MAX_LEN || !input.is_ascii() {
            return Err(malformed());
        }
        // Try each separator position; an instant holds ':' itself, so the split that makes both
        // halves parse is the one meant.
        let found = input
            .char_indices()
            .filter(|&(_, c)| c == ':' || c == '/')
            .find_map(|(i, _)| {
                let (a, b) = (&input[..i], &input[i + 1..]);
                Some((parse_point(a)?, parse_point(b)?))
            });
        let ((start, day_a), (end, day_b)) = found.ok_or_else(malformed)?;
        if start >= end {
            return Err(TimeRangeError::NotIncreasing {
                input: input.to_owned(),
                start,
                end,
            });
        }
        Ok(Self {
            start,
            end,
            whole_days: day_a && day_b,
        })
    }

    /// Length of the range in milliseconds.
    pub fn duration_ms(&self) -> i64 {
        (self.end - self.start).num_milliseconds()
    }
}

impl FromStr for TimeRange {
    type Err = TimeRangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.whole_days {
            write!(
                f,
                "{}:{}",
                self.start.format("%Y-%m-%d"),
                self.end.format("%Y-%m-%d")
            )
        } else {
            write!(
                f,
                "{}/{}",
                self.start
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                self.end
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_whole_utc_days_end_exclusive() {
        let r = TimeRange::parse("2024-08-01:2024-08-02").unwrap();
        assert_eq!(r.start.to_rfc3339(), "2024-08-01T00:00:00+00:00");
        assert_eq!(r.end.to_rfc3339(), "2024-08-02T00:00:00+00:00");
        assert!(r.whole_days);
        assert_eq!(r.duration_ms(), 86_400_000);
        assert_eq!(r.to_string(), "2024-08-01:2024-08-02");
    }

    #[test]
    fn instants_with_colon_or_slash_and_offsets() {
        let a = TimeRange::parse("2024-08-01T00:00:00Z:2024-08-01T06:30:00Z").unwrap();
        let b = TimeRange::parse("2024-08-01T00:00:00Z/2024-08-01T06:30:00Z").unwrap();
        assert_eq!(a, b);
        assert!(!a.whole_days);
        let c = TimeRange::parse("2024-08-01T02:00:00+02:00/2024-08-01T06:30:00.5Z").unwrap();
        assert_eq!(c.start, a.start);
        assert_eq!(c.duration_ms(), 6 * 3_600_000 + 30 * 60_000 + 500);
    }

    #[test]
    fn mixed_date_and_instant() {
        let r = TimeRange::parse("2024-08-01:2024-08-01T12:00:00Z").unwrap();
        assert_eq!(r.duration_ms(), 12 * 3_600_000);
    }

    #[test]
    fn rejects_reversed_and_empty_ranges() {
        assert!(matches!(
            TimeRange::parse("2024-08-02:2024-08-01"),
            Err(TimeRangeError::NotIncreasing { .. })
        ));
        assert!(matches!(
            TimeRange::parse("2024-08-01:2024-08-01"),
            Err(TimeRangeError::NotIncreasing { .. })
        ));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in [
            "",
            ":",
            "2024-08-01",
            "2024-13-01:2024-14-01",
            "2024-08-01 00:00:00Z:2024-08-02",
            "yesterday:today",
            "2024-08-01::2024-08-02",
            "ü2024-08-01:2024-08-02",
            &"9".repeat(500),
        ] {
            assert!(
                matches!(TimeRange::parse(bad), Err(TimeRangeError::Malformed(_))),
                "{bad:?} must be malformed"
            );
        }
    }

    #[test]
    fn pattern_is_built_from_the_point_regex() {
        assert_eq!(PATTERN, format!("^{POINT}[:/]{POINT}$"));
        assert!(CEL_START_BEFORE_END.contains(&POINT.replace('\\', "\\\\")));
    }
}
