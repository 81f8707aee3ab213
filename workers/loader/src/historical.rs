//! Historical loading over REST: every candle or aggregate trade of a range, in order, each
//! checked against what should come next so the loader itself can say the range is complete.
//!
//! Candles: expected open times are every aligned multiple of the interval in the range that has
//! closed; a page that skips one is a gap, one that repeats is a duplicate (skipped). Trades:
//! aggregate trade ids are consecutive; pagination goes by id (`fromId`), which cannot skip.

use serde::Serialize;
use tokio::sync::watch;

use crate::binance::market::{self, AGG_TRADES_SPAN_MS, MarketError, PAGE};
use crate::binance::rest::RestClient;
use crate::datatype::Interval;
use crate::sink::{RecordSink, SinkError};

/// Gaps listed in the final report; further ones are only counted.
pub const MAX_GAPS_LISTED: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Market(#[from] MarketError),
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// Where a load stands, for telemetry.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    pub records: u64,
    /// Last open time or trade id written.
    pub position: Option<i64>,
    /// 0 to 1.
    pub fraction: f64,
}

/// What the loader checked about what it produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Completeness {
    pub expected: u64,
    pub produced: u64,
    pub missing: u64,
    pub duplicates_skipped: u64,
    /// `[from, to)` ranges (open times or ids) the exchange did not return.
    pub gaps: Vec<(i64, i64)>,
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// The position the load continued after, when it resumed from the topic.
    pub resumed_after: Option<i64>,
    /// Live streams: connections replaced after the first.
    pub reconnects: u64,
    /// Live candles: closed candles fetched over REST to fill a reconnect's gap.
    pub backfilled: u64,
    /// Order books: rebuilds from a fresh snapshot after a gap or reconnect.
    pub resyncs: u64,
    /// `api_orderbook`: snapshot times of the range already past when this run started, so
    /// not expected of it (a snapshot of the past cannot be taken).
    #[serde(skip_serializing_if = "is_zero")]
    pub passed_before_start: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Completeness {
    pub fn is_complete(&self) -> bool {
        self.missing == 0 && self.produced == self.expected
    }

    pub(crate) fn gap(&mut self, from: i64, to: i64, count: u64) {
        self.missing += count;
        if self.gaps.len() < MAX_GAPS_LISTED {
            self.gaps.push((from, to));
        }
    }

    pub(crate) fn produced(&mut self, pos: i64) {
        self.produced += 1;
        self.first.get_or_insert(pos);
        self.last = Some(pos);
    }
}

fn align_up(t: i64, step: i64) -> i64 {
    (t + step - 1).div_euclid(step) * step
}

/// Load every closed candle with open time in `[start, end)`, continuing after `resume` (an
/// open time already written) when given. `now` bounds what has closed.
#[allow(clippy::too_many_arguments)]
pub async fn candles(
    rest: &RestClient,
    sink: &mut dyn RecordSink,
    symbol: &str,
    interval: Interval,
    start: i64,
    end: i64,
    now: i64,
    resume: Option<i64>,
    progress: &watch::Sender<Progress>,
) -> Result<Completeness, LoadError> {
    let step = interval.ms;
    let first_open = align_up(start, step);
    let closed_end = (now - step).div_euclid(step) * step + step;
    let end_excl = align_up(end, step).min(closed_end);
    let mut cursor = first_open;
    let mut report = Completeness::default();
    if let Some(r) = resume.filter(|r| *r >= first_open) {
        cursor = r + step;
        report.resumed_after = Some(r);
    }
    report.expected = ((end_excl - cursor).max(0) / step) as u64;
    let span = (end_excl - first_open).max(1) as f64;
    while cursor < end_excl {
        let page_end = (cursor + PAGE * step - 1).min(end_excl - 1);
        let rows = market::klines(rest, symbol, interval.name, cursor, page_end).await?;
        if rows.is_empty() {
            let next = page_end + 1;
            report.gap(cursor, next, ((next - cursor) / step) as u64);
            cursor = align_up(next, step);
            continue;
        }
        for c in rows {
            if c.open_time < cursor {
                report.duplicates_skipped += 1;
                continue;
            }
            if c.open_time >= end_excl {
                break;
            }
            if c.open_time > cursor {
                report.gap(cursor, c.open_time, ((c.open_time - cursor) / step) as u64);
            }
            let payload = serde_json::to_vec(&c).unwrap_or_default();
            sink.write(c.key(), payload).await?;
            report.produced(c.open_time);
            cursor = c.open_time + step;
        }
        progress.send_replace(Progress {
            records: report.produced,
            position: report.last,
            fraction: ((cursor - first_open) as f64 / span).clamp(0.0, 1.0),
        });
    }
    sink.flush().await?;
    Ok(report)
}

/// Load every aggregate trade with time in `[start, end)`, continuing after trade id `resume`.
#[allow(clippy::too_many_arguments)]
pub async fn trades(
    rest: &RestClient,
    sink: &mut dyn RecordSink,
    symbol: &str,
    start: i64,
    end: i64,
    now: i64,
    resume: Option<i64>,
    progress: &watch::Sender<Progress>,
) -> Result<Completeness, LoadError> {
    let end = end.min(now);
    let mut report = Completeness::default();
    let span = (end - start).max(1) as f64;
    // Where to begin: after the resumed id, or the first trade of the range (found an hour at a
    // time, the longest span aggTrades takes by time).
    let mut next_id = match resume {
        Some(r) => {
            report.resumed_after = Some(r);
            Some(r + 1)
        }
        None => {
            let mut s = start;
            let mut found = None;
            while s < end && found.is_none() {
                let e = (s + AGG_TRADES_SPAN_MS).min(end) - 1;
                found = market::agg_trades_between(rest, symbol, s, e)
                    .await?
                    .first()
                    .map(|t| t.agg_id);
                s += AGG_TRADES_SPAN_MS;
            }
            found
        }
    };
    let first_id = next_id;
    'pages: while let Some(from) = next_id {
        let rows = market::agg_trades_from(rest, symbol, from).await?;
        let full = rows.len() as i64 >= PAGE;
        let mut cursor = from;
        let mut last_time = None;
        for t in rows {
            if t.agg_id < cursor {
                report.duplicates_skipped += 1;
                continue;
            }
            if t.time >= end {
                next_id = None;
                break;
            }
            if t.agg_id > cursor {
                report.gap(cursor, t.agg_id, (t.agg_id - cursor) as u64);
            }
            let payload = serde_json::to_vec(&t).unwrap_or_default();
            sink.write(t.key(), payload).await?;
            report.produced(t.agg_id);
            cursor = t.agg_id + 1;
            last_time = Some(t.time);
        }
        progress.send_replace(Progress {
            records: report.produced,
            position: report.last,
            fraction: last_time.map_or(0.0, |t| ((t - start) as f64 / span).clamp(0.0, 1.0)),
        });
        if next_id.is_none() || !full {
            break 'pages;
        }
        next_id = Some(cursor);
    }
    // Ids are consecutive: what was expected is everything from the first to the last id.
    if let (Some(first), Some(last)) = (first_id, report.last) {
        report.expected = (last - first + 1).max(0) as u64;
    }
    sink.flush().await?;
    Ok(report)
}
