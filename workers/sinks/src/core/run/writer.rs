//! The writing stage: store each batch (retrying outages with backoff), then commit what the
//! store says is safe (its [`Storage::commit_points`]), in the order the intake closed the
//! batches. Records a store holds back are stored when it says they are due, and at the end.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tracing::warn;

use rdkafka::producer::FutureProducer;

use super::dead_letter::{Letter, send_letter};
use super::{RunConfig, RunError, RunReport, SinkMetrics, kafka};
use crate::core::batch::Batch;
use crate::core::storage::{Storage, StorageError, WriteStats};
use futures::future::BoxFuture;

/// Sleep until `due`; never, for `None`.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// The writing stage: store each batch (retrying outages), then commit its offsets.
pub(super) struct Writer<'r> {
    pub(super) consumer: &'r StreamConsumer,
    /// Where records the store refused one by one go.
    pub(super) dlq: &'r FutureProducer,
    pub(super) storage: &'r mut dyn Storage,
    pub(super) cfg: &'r RunConfig,
    pub(super) metrics: &'r SinkMetrics,
}

impl Writer<'_> {
    pub(super) async fn run(
        mut self,
        mut batches: mpsc::Receiver<Batch>,
    ) -> Result<RunReport, RunError> {
        let mut report = RunReport::default();
        loop {
            let due = self.storage.held_until();
            let next = tokio::select! {
                b = batches.recv() => b,
                () = sleep_until(due), if due.is_some() => {
                    self.flush_held(&mut report).await?;
                    continue;
                }
            };
            match next {
                Some(batch) => self.flush(batch, &mut report).await?,
                None => break,
            }
        }
        self.flush_held(&mut report).await?;
        Ok(report)
    }

    /// Store what the store holds back (retrying outages), then commit.
    async fn flush_held(&mut self, report: &mut RunReport) -> Result<(), RunError> {
        if self.storage.held_until().is_none() {
            return Ok(());
        }
        let stats = self
            .retrying("the held records", report, |s| s.flush_held())
            .await?;
        report.written += stats.records;
        self.metrics.records_written.inc_by(stats.records);
        self.metrics.held.set(self.storage.held_records() as i64);
        self.commit(&HashMap::new())
    }

    /// Call the store until it answers, retrying outages with backoff until the run's
    /// give-up time; `what` names the records in the log.
    async fn retrying(
        &mut self,
        what: &str,
        report: &mut RunReport,
        mut call: impl for<'s> FnMut(
            &'s mut dyn Storage,
        ) -> BoxFuture<'s, Result<WriteStats, StorageError>>,
    ) -> Result<WriteStats, RunError> {
        let mut retry = super::Retry::new(self.cfg);
        loop {
            match call(&mut *self.storage).await {
                Ok(stats) => return Ok(stats),
                Err(e) if e.is_transient() => {
                    let wait = retry.next(&e)?;
                    warn!(error = %e, wait_ms = wait.as_millis() as u64, attempt = retry.attempts, "storage unavailable; retrying {what}");
                    report.storage_retries += 1;
                    self.metrics.storage_retries.inc();
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Commit what the store says is safe after everything up to `consumed` was handed to it.
    fn commit(&mut self, consumed: &HashMap<i32, i64>) -> Result<(), RunError> {
        let points = self.storage.commit_points(consumed);
        if points.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (p, point) in points {
            let mut e = tpl.add_partition(&self.cfg.topic, p);
            e.set_offset(Offset::Offset(point.offset))
                .map_err(kafka("commit"))?;
            if let Some(m) = point.metadata {
                e.set_metadata(m);
            }
        }
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(kafka("commit"))
    }

    /// Store `batch` (retrying outages) and commit its offsets.
    async fn flush(&mut self, batch: Batch, report: &mut RunReport) -> Result<(), RunError> {
        let started = Instant::now();
        let batch = Arc::new(batch);
        if !batch.records.is_empty() {
            let stats = self
                .retrying("the batch", report, |s| s.write(batch.clone()))
                .await?;
            report.written += stats.records;
            self.metrics.records_written.inc_by(stats.records);
            self.metrics.held.set(self.storage.held_records() as i64);
            // Before the commit: a refused record is in the dead-letter topic before its
            // offset is passed.
            for r in &stats.rejected {
                let Some(record) = batch.records.get(r.index) else {
                    continue;
                };
                warn!(key = %record.key, reason = %r.reason, "the store refused a record; dead-lettered");
                let letter = Letter {
                    topic: &self.cfg.topic,
                    partition: record.partition,
                    offset: record.offset,
                    key: Some(record.key.as_bytes()),
                    payload: Some(record.payload()),
                    headers: None,
                    reason: r.reason.clone(),
                    category: "store",
                    stage: "TASK_PUT",
                };
                send_letter(
                    self.dlq,
                    &self.cfg.dlq_topic,
                    &self.cfg.connector_name,
                    letter,
                    self.metrics,
                )
                .await?;
                report.dead_letters += 1;
            }
            report.batches += 1;
            self.metrics.batches.inc();
            self.metrics
                .batch_latency
                .observe(started.elapsed().as_secs_f64());
            if let Some((lo, hi)) = batch.key_range() {
                if report.first_key.as_deref().is_none_or(|f| lo < f) {
                    report.first_key = Some(lo.to_owned());
                }
                if report.last_key.as_deref().is_none_or(|l| hi > l) {
                    report.last_key = Some(hi.to_owned());
                }
            }
        }
        let written_in = started.elapsed();
        self.commit(&batch.commit)?;
        tracing::debug!(
            records = batch.records.len(),
            write_ms = written_in.as_millis() as u64,
            commit_ms = (started.elapsed() - written_in).as_millis() as u64,
            "batch stored and committed"
        );
        Ok(())
    }
}
