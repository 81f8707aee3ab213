//! Handing a closed batch to the writer without leaving the consumer group.
//!
//! While the writer is busy (storing the previous batch, or retrying it through a storage
//! outage of any length), the intake pauses the assigned partitions and goes on polling: a
//! consumer that stops polling for `max.poll.interval.ms` leaves its group, and the commit
//! after the outage fails (`UnknownMemberId`). Ordering rule: a message the consumer still
//! returns while paused (fetched before the pause took hold, or from a partition assigned
//! since) is held and taken before anything read after the resume; messages librdkafka had
//! fetched but not returned are fetched again from the position after the last one returned.

use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use tokio::sync::mpsc;

use super::intake::{Flow, Intake};
use super::{RunError, kafka};
use crate::core::batch::Batch;

/// How long the intake waits for a busy writer before it pauses the partitions. Not polling
/// this long is safe: librdkafka's `max.poll.interval.ms` is at least its session timeout,
/// which brokers keep at 6 s or more (`group.min.session.timeout.ms`).
const PAUSE_AFTER: Duration = Duration::from_secs(1);

/// How often a consumer whose partitions are paused for a busy writer is polled, at least: far
/// below any `max.poll.interval.ms` a broker allows.
const POLL_WHILE_PAUSED: Duration = Duration::from_millis(500);

impl<'r> Intake<'r> {
    /// Hand a closed batch to the writer; false when the writer is gone. While the writer is
    /// busy (storing the previous batch, or retrying it through an outage of any length), the
    /// consumer's partitions are paused and it goes on polling: a consumer that stops polling
    /// for `max.poll.interval.ms` leaves its group, and the commit after the outage fails.
    pub(super) async fn hand_over(
        &self,
        to_writer: &mpsc::Sender<Batch>,
        b: Batch,
        flow: &mut Flow<'r>,
    ) -> Result<bool, RunError> {
        if b.is_empty() {
            return Ok(true);
        }
        let (records, waiting) = (b.records.len(), Instant::now());
        let permit = match to_writer.try_reserve() {
            Ok(permit) => Some(permit),
            Err(mpsc::error::TrySendError::Closed(())) => None,
            Err(mpsc::error::TrySendError::Full(())) => {
                self.wait_for_writer(to_writer, flow).await?
            }
        };
        let Some(permit) = permit else {
            return Ok(false);
        };
        permit.send(b);
        tracing::debug!(
            records,
            waited_ms = waiting.elapsed().as_millis() as u64,
            "batch handed to the writer"
        );
        Ok(true)
    }

    /// Wait for room in the writer's channel; after [`PAUSE_AFTER`], with the assigned
    /// partitions paused, polling meanwhile. A message the consumer still returns (fetched before the pause took hold, or
    /// from a partition assigned since) is held for the intake to take before anything else,
    /// and the new assignment is paused too. `None` when the writer is gone.
    async fn wait_for_writer<'w>(
        &self,
        to_writer: &'w mpsc::Sender<Batch>,
        flow: &mut Flow<'r>,
    ) -> Result<Option<mpsc::Permit<'w, Batch>>, RunError> {
        let since = Instant::now();
        // A writer that takes the batch soon (the usual case) is waited for without a pause: a
        // pause drops what librdkafka prefetched, to be fetched again after the resume.
        if let Ok(permit) = tokio::time::timeout(PAUSE_AFTER, to_writer.reserve()).await {
            return Ok(permit.ok());
        }
        self.pause_assignment(true)?;
        let mut poll = tokio::time::interval(POLL_WHILE_PAUSED);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let permit = loop {
            tokio::select! {
                biased;
                permit = to_writer.reserve() => break permit.ok(),
                msg = self.consumer.recv() => match msg {
                    Ok(m) => {
                        flow.held.push_back(m);
                        self.pause_assignment(true)?;
                    }
                    Err(e) => {
                        self.consumer_error(e, flow)?;
                    }
                },
                // A new `recv` each round polls the consumer at least this often.
                _ = poll.tick() => {}
            }
        };
        self.pause_assignment(false)?;
        tracing::debug!(
            waited_ms = since.elapsed().as_millis() as u64,
            held = flow.held.len(),
            "the writer took the batch; partitions resumed"
        );
        Ok(permit)
    }

    /// Pause (or resume) every partition assigned now.
    fn pause_assignment(&self, pause: bool) -> Result<(), RunError> {
        let assignment = self.consumer.assignment().map_err(kafka("assignment"))?;
        if assignment.count() == 0 {
            return Ok(());
        }
        if pause {
            self.consumer.pause(&assignment).map_err(kafka("pause"))
        } else {
            self.consumer.resume(&assignment).map_err(kafka("resume"))
        }
    }
}
