//! Telemetry a worker publishes on `queue-events`, keyed by its queue id.
//!
//! Sends are awaited (the broker acknowledges them); a telemetry failure is returned to the
//! caller, who decides whether to go on, because losing a final event would leave the Queue
//! without its last word.

use std::time::Duration;

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
        e.extra.insert("run".into(), Value::from(self.env.run));
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

    pub async fn send(&self, mut event: QueueEvent) -> Result<(), TelemetryError> {
        if event.is_final() {
            event.finished = Some(true);
        } else if event.finished.is_none() {
            event.finished = Some(false);
        }
        let payload = event.to_json();
        self.producer
            .send(
                FutureRecord::to(&self.topic)
                    .key(self.env.queue_id.as_bytes())
                    .payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .map(|_| ())
            .map_err(|(e, _)| TelemetryError {
                queue_id: self.env.queue_id.clone(),
                reason: e.to_string(),
            })
    }
}
