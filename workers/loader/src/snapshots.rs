//! `api_orderbook`: order book snapshots over REST (`GET /api/v3/depth`) on a time grid over
//! the Queue's range, each written as a [`BookRecord::Snapshot`], until the range ends or the
//! run is stopped.
//!
//! ```text
//!   start            start+i          start+2i               end
//!     |---- slot 0 ----|---- slot 1 ----|---- slot 2 ----|---)
//!     ^ request          ^ request         ^ request
//! ```
//!
//! * The grid is `start + k·interval` inside `[start, end)`; grid point `k` owns the slot up to
//!   the next point (or the range's end). A snapshot is requested at its grid point and counts
//!   for the slot its answer arrived in, so one held up (a 429's `Retry-After`, a spent weight
//!   budget) fills a later slot and the slots it passed are missing: one snapshot a slot at
//!   most, and each slot either has one or is reported missing. No wait outlasts the range.
//! * A 418 is waited out (nothing is asked until the ban ends) and an exchange that stays away
//!   (server errors or broken connections after the client's retries) or answers garbage costs
//!   its slot; the series goes on and the report counts what was lost. A refusal (another 4xx)
//!   ends the run: asking again would be refused again.
//! * Grid points already past when the run starts (beyond [`LATE_TOLERANCE_MS`]) are not
//!   expected of it; a range with none left is a permanent error ([`ScheduleError::Over`]).

use std::time::Duration;

use streamforge_api::env;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::binance::limits::{DEPTH_LIMIT_MAX, depth_weight};
use crate::binance::market::{self, MarketError};
use crate::binance::rest::{RestClient, RestError};
use crate::historical::{Completeness, LoadError, Progress};
use crate::records::BookRecord;
use crate::sink::RecordSink;

/// Seconds between two snapshots when `SNAPSHOT_INTERVAL_SECONDS` is unset.
pub const DEFAULT_INTERVAL_SECS: i64 = 60;
/// The longest interval: one snapshot a day.
pub const MAX_INTERVAL_SECS: i64 = 86_400;
/// Levels a side when `DEPTH_LIMIT` is unset (Binance's own default).
pub const DEFAULT_DEPTH_LIMIT: u32 = 100;
/// A grid point this close behind the start of the run is still taken (a moment late) rather
/// than counted as past: the time between the operator's `start` and the first request.
pub const LATE_TOLERANCE_MS: i64 = 1_000;

/// How often and how deep, from `SNAPSHOT_INTERVAL_SECONDS` and `DEPTH_LIMIT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub interval_ms: i64,
    pub depth_limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "{var}={0:?} is not a snapshot interval: a whole number of seconds from 1 to {MAX_INTERVAL_SECS}",
        var = env::SNAPSHOT_INTERVAL_SECONDS
    )]
    Interval(String),
    #[error(
        "{var}={0:?} is not a depth Binance accepts: a whole number of levels from 1 to {DEPTH_LIMIT_MAX}",
        var = env::DEPTH_LIMIT
    )]
    DepthLimit(String),
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            interval_ms: DEFAULT_INTERVAL_SECS * 1000,
            depth_limit: DEFAULT_DEPTH_LIMIT,
        }
    }
}

impl Settings {
    /// The settings as the operator wrote them (`None` or blank: the default).
    pub fn parse(
        interval_secs: Option<&str>,
        depth_limit: Option<&str>,
    ) -> Result<Self, SettingsError> {
        let given = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let interval_secs = match given(interval_secs) {
            None => DEFAULT_INTERVAL_SECS,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|s| (1..=MAX_INTERVAL_SECS).contains(s))
                .ok_or(SettingsError::Interval(v))?,
        };
        let depth_limit = match given(depth_limit) {
            None => DEFAULT_DEPTH_LIMIT,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=DEPTH_LIMIT_MAX).contains(l))
                .ok_or(SettingsError::DepthLimit(v))?,
        };
        Ok(Self {
            interval_ms: interval_secs * 1000,
            depth_limit,
        })
    }

    /// The request weight of one snapshot.
    pub fn weight(&self) -> u32 {
        depth_weight(self.depth_limit)
    }

    /// The request weight these snapshots take in a one-minute window at most.
    pub fn weight_per_minute(&self) -> u64 {
        let per_minute = (60_000 + self.interval_ms - 1) / self.interval_ms.max(1);
        u64::from(self.weight()) * per_minute.max(1) as u64
    }
}

/// The grid of a run: which snapshot times of the range it is to take (pure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub start: i64,
    pub end: i64,
    pub step: i64,
    /// Grid points in `[start, end)`.
    pub points: i64,
    /// The first grid point expected of this run: the earlier ones had passed when it started.
    pub first: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "its last snapshot time ({last_ms} ms since the epoch) passed {}s before this run started; a snapshot of the past cannot be taken",
        (now_ms - last_ms) / 1000
    )]
    Over { last_ms: i64, now_ms: i64 },
}

impl Schedule {
    /// The grid points of `[start, end)` every `step` ms that are not in the past at `now`
    /// (allowing [`LATE_TOLERANCE_MS`]).
    pub fn plan(start: i64, end: i64, step: i64, now: i64) -> Result<Self, ScheduleError> {
        let step = step.max(1);
        let points = ceil_div(end.saturating_sub(start), step).max(0);
        let earliest = now.saturating_sub(LATE_TOLERANCE_MS);
        let first = ceil_div(earliest.saturating_sub(start), step).max(0);
        if first >= points {
            return Err(ScheduleError::Over {
                last_ms: start + (points - 1).max(0) * step,
                now_ms: now,
            });
        }
        Ok(Self {
            start,
            end,
            step,
            points,
            first,
        })
    }

    /// Grid point `k`'s time.
    pub fn time_of(&self, k: i64) -> i64 {
        self.start + k * self.step
    }

    /// The slot time `t` falls in, if it is inside the range.
    pub fn slot_of(&self, t: i64) -> Option<i64> {
        (self.start..self.end)
            .contains(&t)
            .then(|| (t - self.start) / self.step)
    }

    /// The first grid point at or after `t` (`points` when none is left).
    pub fn point_from(&self, t: i64) -> i64 {
        ceil_div(t.saturating_sub(self.start), self.step).clamp(0, self.points)
    }

    /// Snapshots expected of this run.
    pub fn expected(&self) -> u64 {
        (self.points - self.first) as u64
    }
}

fn ceil_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

/// Which slots of a schedule have their snapshot and which are missing, in grid order (pure).
#[derive(Clone, Debug)]
pub struct Tally {
    schedule: Schedule,
    /// Slots before this one are settled: taken or missing.
    next: i64,
    report: Completeness,
}

impl Tally {
    pub fn new(schedule: Schedule) -> Self {
        Self {
            schedule,
            next: schedule.first,
            report: Completeness {
                expected: schedule.expected(),
                passed_before_start: schedule.first as u64,
                ..Completeness::default()
            },
        }
    }

    /// The grid point to take next; `None` once the range is done.
    pub fn next(&self) -> Option<i64> {
        (self.next < self.schedule.points).then_some(self.next)
    }

    /// A snapshot arrived at `t`: the slot it fills (the slots it passed are missing), or `None`
    /// when it came after the range (every slot left is missing).
    pub fn taken(&mut self, t: i64) -> Option<i64> {
        // Never before the point it was asked for, even if the clock stepped back meanwhile.
        let t = t.max(self.schedule.time_of(self.next));
        match self.schedule.slot_of(t) {
            Some(k) => {
                self.miss_to(k);
                self.report.produced(self.schedule.time_of(k));
                self.next = k + 1;
                Some(k)
            }
            None => {
                self.miss_to(self.schedule.points);
                None
            }
        }
    }

    /// No snapshot could be taken for the next slot, nor for any whose grid point comes before
    /// `t` (a ban lasts until then, or `t` is now): those slots are missing.
    pub fn missed_until(&mut self, t: i64) {
        let to = self.schedule.point_from(t).max(self.next + 1);
        self.miss_to(to.min(self.schedule.points));
    }

    fn miss_to(&mut self, k: i64) {
        if k > self.next {
            let s = &self.schedule;
            let (from, to) = (s.time_of(self.next), s.time_of(k).min(s.end));
            self.report.gap(from, to, (k - self.next) as u64);
            self.next = k;
        }
    }

    pub fn progress(&self) -> Progress {
        let done = (self.next - self.schedule.first) as f64;
        Progress {
            records: self.report.produced,
            position: self.report.last,
            fraction: (done / self.report.expected.max(1) as f64).clamp(0.0, 1.0),
        }
    }

    /// The report. A run that reached the end of its range owes every slot; a stopped one only
    /// those it got to.
    pub fn finish(mut self, stopped: bool) -> Completeness {
        if stopped {
            self.report.expected = (self.next - self.schedule.first) as u64;
        } else {
            self.miss_to(self.schedule.points);
        }
        self.report
    }
}

/// One `api_orderbook` run.
pub struct Snapshots<'a> {
    pub rest: &'a RestClient,
    pub sink: &'a mut dyn RecordSink,
    pub symbol: String,
    pub settings: Settings,
    pub schedule: Schedule,
    pub progress: &'a watch::Sender<Progress>,
    /// Set to end the run gracefully (on `stop` or SIGTERM): it flushes and reports.
    pub stop: watch::Receiver<bool>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Resolves when `stop` is set; never when it can no longer be.
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Sleep until `at` (ms, wall clock); `false` when stopped first.
async fn wait_until(at: i64, stop: &mut watch::Receiver<bool>) -> bool {
    loop {
        if *stop.borrow() {
            return false;
        }
        let left = at - now_ms();
        if left <= 0 {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(left as u64)) => {}
            () = stop_requested(stop) => return false,
        }
    }
}

/// Take the schedule's snapshots until its range ends or `stop` is set; flushes and returns
/// the report either way.
pub async fn run(s: Snapshots<'_>) -> Result<Completeness, LoadError> {
    let Snapshots {
        rest,
        sink,
        symbol,
        settings,
        schedule,
        progress,
        mut stop,
    } = s;
    let mut tally = Tally::new(schedule);
    info!(
        expected = schedule.expected(),
        passed_before_start = schedule.first,
        interval_ms = settings.interval_ms,
        depth_limit = settings.depth_limit,
        weight_per_minute = settings.weight_per_minute(),
        "taking order book snapshots"
    );
    let mut stopped = false;
    let mut last_update_id = None;
    while let Some(k) = tally.next() {
        if !wait_until(schedule.time_of(k), &mut stop).await {
            stopped = true;
            break;
        }
        // Past the range's end an answer is of no use: the wait for one (a 429's Retry-After,
        // a spent budget's next window) ends with it.
        let range_left = Duration::from_millis((schedule.end - now_ms()).max(0) as u64);
        let answer = tokio::select! {
            a = market::depth(rest, &symbol, settings.depth_limit) => a,
            () = stop_requested(&mut stop) => {
                stopped = true;
                break;
            }
            () = tokio::time::sleep(range_left) => {
                warn!("no snapshot came before the range ended; the grid points left are missing");
                break;
            }
        };
        let t = now_ms();
        match answer {
            Ok(book) => {
                let Some(slot) = tally.taken(t) else {
                    warn!(
                        at = t,
                        "a snapshot arrived after the range ended; not written"
                    );
                    break;
                };
                if slot > k {
                    warn!(
                        missed = slot - k,
                        "a snapshot came late; the grid points it passed are missing"
                    );
                }
                if last_update_id.is_some_and(|l| book.last_update_id < l) {
                    warn!(
                        last_update_id = book.last_update_id,
                        "the exchange answered with an older book than the one before"
                    );
                }
                last_update_id = Some(book.last_update_id);
                let rec = BookRecord::Snapshot {
                    symbol: symbol.clone(),
                    last_update_id: book.last_update_id,
                    bids: book.bids,
                    asks: book.asks,
                    time: Some(t),
                };
                sink.write(rec.key(), serde_json::to_vec(&rec).unwrap_or_default())
                    .await?;
            }
            Err(MarketError::Rest(RestError::Banned {
                retry_after_secs,
                msg,
            })) => {
                let until = t.saturating_add((retry_after_secs as i64).saturating_mul(1000));
                warn!(retry_after_secs, %msg, "HTTP 418: no snapshot until the ban ends; the grid points meanwhile are missing");
                tally.missed_until(until);
            }
            Err(
                e @ (MarketError::Rest(RestError::Unavailable { .. } | RestError::Body { .. })
                | MarketError::Parse(_)),
            ) => {
                warn!(error = %e, "no snapshot at this grid point; it is missing");
                tally.missed_until(t);
            }
            Err(e) => return Err(e.into()),
        }
        progress.send_replace(tally.progress());
    }
    let report = tally.finish(stopped);
    progress.send_replace(Progress {
        records: report.produced,
        position: report.last,
        fraction: if stopped { 0.0 } else { 1.0 },
    });
    sink.flush().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_722_470_400_000;

    #[test]
    fn settings_default_and_refuse_what_binance_would() {
        assert_eq!(Settings::parse(None, None), Ok(Settings::default()));
        assert_eq!(
            Settings::parse(Some(" 1 "), Some("5000")),
            Ok(Settings {
                interval_ms: 1000,
                depth_limit: 5000
            })
        );
        assert_eq!(Settings::parse(Some(""), Some("")), Ok(Settings::default()));
        for bad in ["0", "-5", "86401", "1.5", "a minute"] {
            let e = Settings::parse(Some(bad), None).unwrap_err();
            assert_eq!(e, SettingsError::Interval(bad.into()));
            assert!(
                e.to_string().starts_with("SNAPSHOT_INTERVAL_SECONDS="),
                "{e}"
            );
        }
        for bad in ["0", "5001", "-1", "deep"] {
            let e = Settings::parse(None, Some(bad)).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "DEPTH_LIMIT={bad:?} is not a depth Binance accepts: a whole number of levels from 1 to 5000"
                )
            );
        }
    }

    #[test]
    fn weight_follows_the_limit_and_the_pace() {
        let s = |i, l| Settings::parse(Some(i), Some(l)).unwrap();
        assert_eq!(s("60", "100").weight(), 5);
        assert_eq!(s("60", "100").weight_per_minute(), 5);
        assert_eq!(s("1", "5000").weight_per_minute(), 60 * 250);
        assert_eq!(s("7", "1000").weight_per_minute(), 9 * 50);
        assert_eq!(s("3600", "500").weight_per_minute(), 25);
    }

    #[test]
    fn the_grid_is_every_interval_from_the_start_inside_the_range() {
        let s = Schedule::plan(T0, T0 + 60_000, 10_000, T0 - 5_000).unwrap();
        assert_eq!((s.points, s.first, s.expected()), (6, 0, 6));
        assert_eq!(s.time_of(5), T0 + 50_000);
        // An end off the grid: the last point is the one before it.
        let s = Schedule::plan(T0, T0 + 25_000, 10_000, T0).unwrap();
        assert_eq!(s.points, 3);
        assert_eq!(s.slot_of(T0 + 24_999), Some(2));
        assert_eq!(s.slot_of(T0 + 25_000), None, "the slot ends with the range");
        assert_eq!(s.slot_of(T0 - 1), None);
    }

    #[test]
    fn points_in_the_past_at_the_start_are_not_expected() {
        // Started 25 s in: 0, 10 and 20 s have passed; 30 s onwards remain.
        let s = Schedule::plan(T0, T0 + 60_000, 10_000, T0 + 25_000).unwrap();
        assert_eq!((s.first, s.expected()), (3, 3));
        // A point a moment behind is still taken.
        let s = Schedule::plan(T0, T0 + 60_000, 10_000, T0 + 20_000 + LATE_TOLERANCE_MS).unwrap();
        assert_eq!(s.first, 2);
        let s = Schedule::plan(T0, T0 + 60_000, 10_000, T0 + 20_001 + LATE_TOLERANCE_MS).unwrap();
        assert_eq!(s.first, 3);
    }

    #[test]
    fn a_range_whose_points_have_all_passed_is_over() {
        let e = Schedule::plan(T0, T0 + 60_000, 10_000, T0 + 120_000).unwrap_err();
        assert_eq!(
            e,
            ScheduleError::Over {
                last_ms: T0 + 50_000,
                now_ms: T0 + 120_000
            }
        );
        assert!(e.to_string().contains("passed 70s before"), "{e}");
        assert!(
            e.to_string()
                .contains("a snapshot of the past cannot be taken")
        );
        // The end is still ahead but its last grid point has passed.
        assert!(Schedule::plan(T0, T0 + 60_000, 10_000, T0 + 59_000).is_err());
    }

    #[test]
    fn snapshots_on_time_fill_every_slot() {
        let s = Schedule::plan(T0, T0 + 3_000, 1_000, T0).unwrap();
        let mut t = Tally::new(s);
        for k in 0..3 {
            assert_eq!(t.next(), Some(k));
            assert_eq!(t.taken(T0 + k * 1_000 + 40), Some(k));
        }
        assert_eq!(t.next(), None);
        let r = t.finish(false);
        assert_eq!((r.expected, r.produced, r.missing), (3, 3, 0));
        assert_eq!((r.first, r.last), (Some(T0), Some(T0 + 2_000)));
        assert!(r.is_complete());
    }

    #[test]
    fn a_late_snapshot_fills_the_slot_it_arrived_in_and_the_passed_ones_are_missing() {
        let s = Schedule::plan(T0, T0 + 5_000, 1_000, T0).unwrap();
        let mut t = Tally::new(s);
        assert_eq!(t.taken(T0 + 10), Some(0));
        // Asked at 1 s, held by a 429 until 3.2 s: it is the 3 s snapshot; 1 s and 2 s are lost.
        assert_eq!(t.taken(T0 + 3_200), Some(3));
        assert_eq!(t.next(), Some(4));
        assert_eq!(t.taken(T0 + 4_010), Some(4));
        let r = t.finish(false);
        assert_eq!((r.expected, r.produced, r.missing), (5, 3, 2));
        assert_eq!(r.gaps, vec![(T0 + 1_000, T0 + 3_000)]);
        assert!(!r.is_complete());
    }

    #[test]
    fn a_failure_costs_its_slot_and_a_ban_every_slot_until_it_ends() {
        let s = Schedule::plan(T0, T0 + 10_000, 1_000, T0).unwrap();
        let mut t = Tally::new(s);
        // The exchange was away for the 0 s point (failed at 0.8 s): next is 1 s.
        t.missed_until(T0 + 800);
        assert_eq!(t.next(), Some(1));
        // Failed late, at 2.5 s: 2 s has passed too.
        t.missed_until(T0 + 2_500);
        assert_eq!(t.next(), Some(3));
        // Banned at 3 s until 6 s: 3, 4 and 5 are lost; 6 is asked.
        t.missed_until(T0 + 6_000);
        assert_eq!(t.next(), Some(6));
        assert_eq!(t.taken(T0 + 6_005), Some(6));
        // A ban past the end loses the rest.
        t.missed_until(T0 + 60_000);
        assert_eq!(t.next(), None);
        let r = t.finish(false);
        assert_eq!((r.expected, r.produced, r.missing), (10, 1, 9));
        assert_eq!(
            r.gaps,
            vec![
                (T0, T0 + 1_000),
                (T0 + 1_000, T0 + 3_000),
                (T0 + 3_000, T0 + 6_000),
                (T0 + 7_000, T0 + 10_000)
            ]
        );
    }

    #[test]
    fn an_answer_after_the_range_loses_the_rest_and_a_stop_owes_nothing_more() {
        let s = Schedule::plan(T0, T0 + 2_500, 1_000, T0).unwrap();
        let mut t = Tally::new(s);
        assert_eq!(t.taken(T0 + 5), Some(0));
        assert_eq!(t.taken(T0 + 2_600), None);
        let r = t.finish(false);
        assert_eq!((r.expected, r.produced, r.missing), (3, 1, 2));
        assert_eq!(r.gaps, vec![(T0 + 1_000, T0 + 2_500)]);

        let mut t = Tally::new(s);
        assert_eq!(t.taken(T0 + 5), Some(0));
        let r = t.finish(true);
        assert_eq!((r.expected, r.produced, r.missing), (1, 1, 0));
    }

    #[test]
    fn a_run_started_late_reports_the_points_it_was_not_given() {
        // Started at 4.9 s: 0 to 3 s have passed; 4 s is 0.9 s behind, still taken.
        let s = Schedule::plan(T0, T0 + 10_000, 1_000, T0 + 4_900).unwrap();
        let t = Tally::new(s);
        assert_eq!(t.next(), Some(4));
        let r = t.finish(true);
        assert_eq!(r.passed_before_start, 4);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["passed_before_start"], 4);
        // Other loaders' reports do not carry it.
        let v = serde_json::to_value(Completeness::default()).unwrap();
        assert!(v.get("passed_before_start").is_none());
    }
}
