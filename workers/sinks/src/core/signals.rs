//! What ends a sink: its producer's final `finished` on queue-events, or a `stop` on
//! queue-control, folded into one watch value for [`super::run::Runner`].

use streamforge_api::{Command, EventStatus, QueueEvent};
use streamforge_kit::control::ControlListener;
use streamforge_kit::{KafkaConfigError, KafkaSettings, WorkerEnv};
use tokio::sync::watch;
use tracing::warn;

use super::run::Signals;
use rdkafka::Message;
use rdkafka::consumer::Consumer;

/// Does `ev` say this Queue's loader finished? Sinks report under their own ids; the producer
/// is the `loader-*` worker of the same queue id.
pub fn producer_finished(ev: &QueueEvent, queue_id: &str) -> bool {
    ev.queue_id == queue_id
        && ev.source().is_some_and(|s| s.starts_with("loader-"))
        && ev.status == Some(EventStatus::Finished)
}

#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error(transparent)]
    Config(#[from] KafkaConfigError),
    #[error("subscribing: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

/// Start watching queue-events and queue-control for `env`'s Queue.
pub fn watch(
    kafka: &KafkaSettings,
    env: &WorkerEnv,
) -> Result<watch::Receiver<Signals>, SignalError> {
    let (tx, rx) = watch::channel(Signals::default());
    let events = kafka.consumer(&env.telemetry_id, &format!("{}-events", env.telemetry_id))?;
    events.subscribe(&[kafka.events_topic.as_str()])?;
    let control = kafka.consumer(&env.telemetry_id, &format!("{}-control", env.telemetry_id))?;
    let mut listener = ControlListener::new(
        control,
        &kafka.control_topic,
        &env.queue_id,
        &env.telemetry_id,
    )?;
    let queue_id = env.queue_id.clone();
    let tx_events = tx.clone();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(m) => {
                    if let Some(ev) = m.payload().and_then(|p| QueueEvent::from_json(p).ok())
                        && producer_finished(&ev, &queue_id)
                    {
                        tx_events.send_modify(|s| s.producer_finished = true);
                        return;
                    }
                }
                Err(e) => {
                    warn!(error = %e, "queue-events consumer error");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some(cmd) = listener.next().await {
            if cmd.command == Command::Stop {
                tx.send_modify(|s| s.stop = true);
                return;
            }
        }
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_loader_finishing_counts() {
        let q = "wf-q";
        assert!(producer_finished(
            &QueueEvent::new(q, "loader-producer__abc123", EventStatus::Finished),
            q
        ));
        assert!(producer_finished(
            &QueueEvent::new(q, "loader-api-trades__abc123", EventStatus::Finished),
            q
        ));
        assert!(!producer_finished(
            &QueueEvent::new(q, "arango-connector__abc123", EventStatus::Finished),
            q
        ));
        assert!(!producer_finished(
            &QueueEvent::new(q, "loader-producer__abc123", EventStatus::Loading),
            q
        ));
        assert!(!producer_finished(
            &QueueEvent::new("other", "loader-producer__abc123", EventStatus::Finished),
            q
        ));
    }
}
