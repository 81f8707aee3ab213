//! Telemetry a worker publishes on `queue-events`, keyed by its queue id.
//!
//! Sends are awaited (the broker acknowledges them); a telemetry failure is returned to the
//! caller, who decides whether to go on. A worker's last event goes through
//! [`Reporter::send_until_acknowledged`], because losing it would leave the Queue without its
//! last word.

use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;
use streamforge_api::{EventStatus, QueueEvent};

use crate::worker_env::WorkerEnv;

#[derive(Debug, thiserror::Error)]
#[error("publishing telemetry for {queue_id}: {reason}")]
pub struct TelemetryError {
    pub queue_id: String,
    pub reason: String,
}

/// Longest wait for room in the producer's queue before a send fails.
const SEND_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);
/// First and longest pause between two tries of a worker's last event.
pub const FINAL_RETRY_START: Duration = Duration::from_millis(250);
pub const FINAL_RETRY_MAX: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Reporter {
    producer: FutureProducer,
    topic: String,
    env: WorkerEnv,
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

impl Reporter {
    pub fn new(producer: FutureProducer, topic: impl Into<String>, env: WorkerEnv) -> Self {
        Self {
            producer,
            topic: topic.into(),
            env,
        }
    }

    /// An event from this worker, stamped now.
    pub fn event(&self, status: EventStatus, message: impl Into<String>) -> QueueEvent {
        let mut e = QueueEvent::new(
            self.env.queue_id.clone(),
            self.env.telemetry_id.clone(),
            status,
        );
        e.symbol = Some(self.env.symbol.clone());
        e.data_type = Some(self.env.data_type.clone());
        e.message = Some(message.into());
        e.timestamp = Some(now_secs());
        e.run = Some(self.env.run);
        e
    }

    /// Send a `status` event with `records` and `extra` fields (a JSON object). A delivery
    /// failure is logged, not returned: for the events a worker sends on its way, it goes on
    /// either way. A `finished` event says progress 1.
    pub async fn report(
        &self,
        status: EventStatus,
        message: impl Into<String>,
        records: Option<u64>,
        extra: Option<Value>,
    ) {
        let finished = status == EventStatus::Finished;
        let mut e = self.event(status, message);
        e.records_written = records;
        if finished {
            e.progress = Some(1.0);
        }
        if let Some(Value::Object(m)) = extra {
            e.extra.extend(m);
        }
        if let Err(err) = self.send(e).await {
            tracing::warn!(error = %err, "telemetry not delivered");
        }
    }

    /// Send `event`, again and again with capped backoff, until the broker acknowledges it or
    /// `deadline` has passed; the error is the last attempt's.
    pub async fn send_until_acknowledged(
        &self,
        event: QueueEvent,
        deadline: Duration,
    ) -> Result<(), TelemetryError> {
        let give_up = Instant::now() + deadline;
        let mut backoff = FINAL_RETRY_START;
        loop {
            match self.send(event.clone()).await {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() + backoff >= give_up => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "last telemetry event not acknowledged; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(FINAL_RETRY_MAX);
                }
            }
        }
    }

    pub async fn send(&self, mut event: QueueEvent) -> Result<(), TelemetryError> {
        if event.is_final() {
            event.finished = Some(true);
        } else if event.finished.is_none() {
            event.finished = Some(false);
        }
        let payload = event.to_json();
        let status = match &event.status {
            Some(EventStatus::Other(_)) => "other",
            Some(s) => s.as_str(),
            None => "none",
        };
        let records = event.records_written;
        let sent = self
            .producer
            .send(
                FutureRecord::to(&self.topic)
                    .key(self.env.queue_id.as_bytes())
                    .payload(&payload),
                SEND_QUEUE_TIMEOUT,
            )
            .await
            .map(|_| ())
            .map_err(|(e, _)| TelemetryError {
                queue_id: self.env.queue_id.clone(),
                reason: e.to_string(),
            });
        if let (Ok(()), Some(m)) = (&sent, crate::metrics_server::worker_metrics()) {
            m.events.with_label_values(&[status]).inc();
            if let Some(r) = records {
                m.records.set(i64::try_from(r).unwrap_or(i64::MAX));
            }
        }
        sent
    }
}
