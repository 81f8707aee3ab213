//! `manual_upload`: a user's file into the data topic. The file is decoded and mapped on a
//! blocking thread that hands batches over a bounded channel (backpressure, not memory); this
//! side skips rows outside TIME_RANGE, rows already loaded and keys the topic already holds
//! (a retried upload), writes the rest with the
//! loader's keys, dead-letters bad rows, and reports completeness once everything written is
//! acknowledged.
//!
//! ```text
//!  bytes ─► rows (CSV | JSONL | Parquet) ─► Mapping::map ─(batches, 4 in flight)─► load
//!             └ unreadable file: DecodeError (permanent)      ├ bad row ─► dead letter
//!                                                             ├ out of range / duplicate: counted
//!                                                             └ record ─► sink ─► Tracker
//! ```

use std::collections::HashSet;

use bytes::Bytes;
use serde::Serialize;
use streamforge_api::SourceFormat;
use streamforge_loader::historical::{Completeness, Progress};
use streamforge_loader::sink::{RecordSink, SinkError};
use tokio::sync::{mpsc, watch};

use crate::completeness::Tracker;
use crate::dlq::{DeadLetter, DeadLetterSink};
use crate::mapping::{BadRow, Mapped, Mapping};
use crate::rows::{DecodeError, rows};

/// Rows per batch handed from the decoding thread.
pub const BATCH_ROWS: usize = 1_000;
/// Batches decoded ahead of the writes.
pub const BATCHES_AHEAD: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// One row, decoded and mapped.
#[derive(Debug)]
pub struct Decoded {
    pub number: u64,
    pub fraction: f64,
    /// The record, or why not and what to dead-letter.
    pub outcome: Result<Mapped, (BadRow, Vec<u8>)>,
}

/// What the load did, for the final event.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UploadReport {
    pub completeness: Completeness,
    /// Rows read from the file (blank lines aside).
    pub rows: u64,
    pub dead_letters: u64,
    /// Rows outside TIME_RANGE, not loaded.
    pub out_of_range: u64,
    /// Series checked (symbol and interval, or symbol).
    pub series: usize,
    /// Records the data topic held already (a retried upload): counted, not sent again.
    pub already_stored: u64,
}

impl UploadReport {
    pub fn is_complete(&self) -> bool {
        self.completeness.is_complete()
    }
}

/// Decode and map `bytes` on a blocking thread; batches arrive on the returned channel, a
/// [`DecodeError`] ends it.
pub fn decode(
    format: SourceFormat,
    bytes: Bytes,
    mapping: Mapping,
) -> mpsc::Receiver<Result<Vec<Decoded>, DecodeError>> {
    let (tx, rx) = mpsc::channel(BATCHES_AHEAD);
    tokio::task::spawn_blocking(move || {
        // A reader that panics on a malformed file must not end the channel as if the file
        // had ended: the load would finish on part of it.
        let done = tx.clone();
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            decode_into(format, bytes, &mapping, &tx)
        }));
        if read.is_err() {
            let _ = done.blocking_send(Err(DecodeError::Unreadable(
                "the reader failed on malformed content".into(),
            )));
        }
    });
    rx
}

fn decode_into(
    format: SourceFormat,
    bytes: Bytes,
    mapping: &Mapping,
    tx: &mpsc::Sender<Result<Vec<Decoded>, DecodeError>>,
) {
    {
        let all = match rows(format, bytes, |h| mapping.missing_in(h)) {
            Ok(all) => all,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        for row in all {
            let row = match row {
                Ok(row) => row,
                Err(e) => {
                    let _ = tx.blocking_send(Ok(std::mem::take(&mut batch)));
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            let outcome = match &row.fields {
                Ok(fields) => mapping.map(fields),
                Err(bad) => Err(bad.clone()),
            }
            .map_err(|bad| (bad, row.letter_payload()));
            batch.push(Decoded {
                number: row.number,
                fraction: row.fraction,
                outcome,
            });
            if batch.len() >= BATCH_ROWS
                && tx.blocking_send(Ok(std::mem::take(&mut batch))).is_err()
            {
                return; // the load ended (stopped)
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
    }
}

/// Where an upload's records go, and what is there already.
pub struct Target<'a> {
    pub sink: &'a mut dyn RecordSink,
    pub letters: &'a mut dyn DeadLetterSink,
    /// Keys the data topic holds already ([`crate::resume`]): counted as loaded, not sent.
    pub stored: HashSet<String>,
    pub progress: &'a watch::Sender<Progress>,
}

/// Write what `decoded` brings into `to`. `source` is the file's URL (for dead letters),
/// `range` TIME_RANGE as `[start, end)` ms, `now` bounds the candles expected.
pub async fn load(
    source: &str,
    mut decoded: mpsc::Receiver<Result<Vec<Decoded>, DecodeError>>,
    range: Option<(i64, i64)>,
    now: i64,
    to: Target<'_>,
) -> Result<UploadReport, UploadError> {
    let Target {
        sink,
        letters,
        stored,
        progress,
    } = to;
    let mut report = UploadReport::default();
    let mut tracker = Tracker::default();
    let mut position = None;
    while let Some(batch) = decoded.recv().await {
        let batch = batch?;
        let mut fraction = 0.0;
        for d in batch {
            report.rows += 1;
            fraction = d.fraction;
            let record = match d.outcome {
                Ok(r) => r,
                Err((bad, payload)) => {
                    letters
                        .send(DeadLetter {
                            source: source.to_owned(),
                            offset: i64::try_from(d.number).unwrap_or(i64::MAX),
                            key: None,
                            payload,
                            reason: format!("row {}: {}", d.number, bad.reason),
                            category: bad.category,
                        })
                        .await?;
                    report.dead_letters += 1;
                    continue;
                }
            };
            if range.is_some_and(|(start, end)| record.time() < start || record.time() >= end) {
                report.out_of_range += 1;
                crate::metrics::skipped("out_of_range");
                continue;
            }
            if !tracker.admit(&record.series(), record.step(), record.position()) {
                crate::metrics::skipped("duplicate");
                continue;
            }
            let key = record.key();
            if stored.contains(&key) {
                report.already_stored += 1;
                continue;
            }
            sink.write(key, record.payload()).await?;
            crate::metrics::record(match record {
                Mapped::Candle(_) => "candle",
                Mapped::Trade(_) => "trade",
            });
            position = Some(record.position());
        }
        progress.send_replace(Progress {
            records: tracker.produced(),
            position,
            fraction: fraction.clamp(0.0, 1.0),
        });
    }
    sink.flush().await?;
    report.completeness = tracker.report(range, now);
    report.series = tracker.series();
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::dlq::MemoryDeadLetters;
    use std::collections::BTreeMap;
    use streamforge_api::SourceRecords;
    use streamforge_api::datatype::Interval;
    use streamforge_loader::records::CandleRecord;
    use streamforge_loader::sink::MemorySink;

    const T0: i64 = 1_722_470_400_000;
    const M: i64 = 60_000;

    async fn run(
        csv: &str,
        range: Option<(i64, i64)>,
    ) -> (UploadReport, MemorySink, MemoryDeadLetters) {
        let columns: BTreeMap<String, String> =
            [("open_time".to_string(), "ts".to_string())].into();
        let mapping = Mapping::new(
            SourceRecords::Candles,
            &columns,
            "BTCUSDT",
            Interval::parse("1m"),
        )
        .unwrap();
        let rx = decode(SourceFormat::Csv, Bytes::from(csv.to_owned()), mapping);
        let (tx, _) = watch::channel(Progress::default());
        let mut sink = MemorySink::default();
        let mut letters = MemoryDeadLetters::default();
        let to = Target {
            sink: &mut sink,
            letters: &mut letters,
            // As if a failed run had stored the candle at minute 3.
            stored: HashSet::from([format!("BTCUSDT|1m|{}", T0 + 3 * M)]),
            progress: &tx,
        };
        let report = load("s3://b/k.csv", rx, range, T0 + 1000 * M, to)
            .await
            .unwrap();
        (report, sink, letters)
    }

    fn csv(rows: &[&str]) -> String {
        let mut s = "ts,open,high,low,close,volume\n".to_owned();
        for r in rows {
            s.push_str(r);
            s.push('\n');
        }
        s
    }

    #[tokio::test]
    async fn good_rows_load_bad_rows_are_dead_letters_and_gaps_are_reported() {
        let rows: Vec<String> = [0, 1, 3]
            .iter()
            .map(|i| format!("{},1,2,0.5,1.5,10", T0 + i * M))
            .chain([
                format!("{},x,2,0.5,1.5,10", T0 + 2 * M),
                format!("{},1,2", T0 + 4 * M),
            ])
            .chain([format!("{},1,2,0.5,1.5,10", T0 + M)])
            .collect();
        let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
        let (r, sink, letters) = run(&csv(&refs), None).await;
        // Minute 3 was stored already: counted, not sent again.
        assert_eq!(sink.records.len(), 2);
        assert_eq!(r.already_stored, 1);
        assert_eq!(sink.records[0].0, format!("BTCUSDT|1m|{T0}"));
        let c: CandleRecord = serde_json::from_slice(&sink.records[1].1).unwrap();
        assert_eq!(c.open_time, T0 + M);
        assert_eq!((r.rows, r.dead_letters), (6, 2));
        assert_eq!(r.completeness.duplicates_skipped, 1);
        assert_eq!((r.completeness.expected, r.completeness.missing), (4, 1));
        assert_eq!(r.completeness.gaps, [(T0 + 2 * M, T0 + 3 * M)]);
        assert_eq!(letters.letters[0].offset, 5);
        assert_eq!(letters.letters[0].category, "number");
        assert_eq!(
            letters.letters[0].reason,
            r#"row 5: column "open" (open): "x" is not a decimal number"#
        );
        assert_eq!(letters.letters[0].payload, rows[3].as_bytes());
        assert_eq!(letters.letters[1].category, "shape");
    }

    #[tokio::test]
    async fn rows_outside_the_range_are_skipped_and_counted() {
        let rows: Vec<String> = (0..5)
            .map(|i| format!("{},1,1,1,1,1", T0 + i * M))
            .collect();
        let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
        let (r, sink, _) = run(&csv(&refs), Some((T0 + M, T0 + 3 * M))).await;
        assert_eq!(sink.records.len(), 2);
        assert_eq!(r.out_of_range, 3);
        assert!(r.is_complete(), "{r:?}");
    }

    #[tokio::test]
    async fn a_file_without_a_needed_column_is_refused() {
        let columns = BTreeMap::new();
        let mapping = Mapping::new(SourceRecords::Trades, &columns, "BTCUSDT", None).unwrap();
        let rx = decode(
            SourceFormat::Csv,
            Bytes::from_static(b"agg_id,price\n1,2\n"),
            mapping,
        );
        let (tx, _) = watch::channel(Progress::default());
        let to = Target {
            sink: &mut MemorySink::default(),
            letters: &mut MemoryDeadLetters::default(),
            stored: HashSet::new(),
            progress: &tx,
        };
        let err = load("x", rx, None, 0, to).await.unwrap_err();
        assert!(
            matches!(err, UploadError::Decode(DecodeError::MissingColumns(_))),
            "{err}"
        );
    }
}
