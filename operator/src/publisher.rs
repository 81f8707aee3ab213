//! Publishing `queue-control` commands. The reconciler sees only the [`Publisher`] trait; the
//! Kafka implementation waits for the broker's acknowledgement, so "published" means delivered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use rdkafka::producer::{FutureProducer, FutureRecord};
use streamforge_api::ControlCommand;

#[derive(Debug, thiserror::Error)]
#[error("publishing {command} for {queue_id} to {topic}: {reason}")]
pub struct PublishError {
    pub command: &'static str,
    pub queue_id: String,
    pub topic: String,
    pub reason: String,
}

pub trait Publisher: Send + Sync {
    /// Deliver `cmd`, keyed by its queue id; resolves when the broker acknowledged it.
    fn publish(&self, cmd: ControlCommand) -> BoxFuture<'_, Result<(), PublishError>>;
}

pub struct KafkaPublisher {
    producer: FutureProducer,
    topic: String,
    timeout: Duration,
}

impl KafkaPublisher {
    pub fn new(producer: FutureProducer, topic: impl Into<String>, timeout: Duration) -> Self {
        Self {
            producer,
            topic: topic.into(),
            timeout,
        }
    }
}

impl Publisher for KafkaPublisher {
    fn publish(&self, cmd: ControlCommand) -> BoxFuture<'_, Result<(), PublishError>> {
        Box::pin(async move {
            let payload = cmd.to_json();
            let record = FutureRecord::to(&self.topic)
                .key(cmd.queue_id.as_bytes())
                .payload(&payload);
            self.producer
                .send(record, self.timeout)
                .await
                .map(|_| ())
                .map_err(|(e, _)| PublishError {
                    command: cmd.command.as_str(),
                    queue_id: cmd.queue_id.clone(),
                    topic: self.topic.clone(),
                    reason: e.to_string(),
                })
        })
    }
}

/// Keeps every command in memory; can be told to fail. For tests and dry runs.
#[derive(Clone, Default)]
pub struct RecordingPublisher {
    sent: Arc<Mutex<Vec<ControlCommand>>>,
    failing: Arc<Mutex<bool>>,
}

impl RecordingPublisher {
    pub fn sent(&self) -> Vec<ControlCommand> {
        self.sent.lock().map(|v| v.clone()).unwrap_or_default()
    }
    pub fn set_failing(&self, failing: bool) {
        if let Ok(mut f) = self.failing.lock() {
            *f = failing;
        }
    }
}

impl Publisher for RecordingPublisher {
    fn publish(&self, cmd: ControlCommand) -> BoxFuture<'_, Result<(), PublishError>> {
        Box::pin(async move {
            if self.failing.lock().map(|f| *f).unwrap_or(false) {
                return Err(PublishError {
                    command: cmd.command.as_str(),
                    queue_id: cmd.queue_id,
                    topic: "queue-control".into(),
                    reason: "broker unavailable".into(),
                });
            }
            if let Ok(mut v) = self.sent.lock() {
                v.push(cmd);
            }
            Ok(())
        })
    }
}
