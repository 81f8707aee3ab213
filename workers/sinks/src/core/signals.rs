//! What ends a sink: its run's producer's `finished` on queue-events, the operator's `drain`
//! (sent once the producer's Job succeeded, so a lost `finished` cannot keep a sink waiting), or
//! a `stop` on queue-control, folded into one watch value for [`super::run::Runner`]. Only
//! events and commands of the sink's own run count.

use streamforge_api::{Command, EventStatus, QueueEvent};
use streamforge_kit::control::ControlListener;
use streamforge_kit::kafka::ErrorLog;
use streamforge_kit::{KafkaConfigError, KafkaSettings, WorkerEnv};
use tokio::sync::watch;
use tracing::warn;

use super::run::Signals;
use rdkafka::Message;
use rdkafka::consumer::Consumer;

/// Does `ev` say that the producer `producer_id` of this Queue's `run` finished? An event of
/// another run, or without one, never does.
pub fn producer_finished(ev: &QueueEvent, queue_id: &str, run: u32, producer_id: &str) -> bool {
    ev.queue_id == queue_id
        && ev.run == Some(run)
        && ev.source() == Some(producer_id)
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
    let control = kafka.consumer(&env.telemetry_id, &format!("{}-control", env.telemetry_id))?;
    let mut listener = ControlListener::new(
        control,
        &kafka.control_topic,
        &env.queue_id,
        &env.telemetry_id,
        env.run,
    )?;
    if let Some(producer_id) = env.producer_id.clone() {
        let events = kafka.consumer(&env.telemetry_id, &format!("{}-events", env.telemetry_id))?;
        events.subscribe(&[kafka.events_topic.as_str()])?;
        let (queue_id, run) = (env.queue_id.clone(), env.run);
        let tx_events = tx.clone();
        tokio::spawn(async move {
            let mut errors = ErrorLog::default();
            loop {
                match events.recv().await {
                    Ok(m) => {
                        if let Some(ev) = m.payload().and_then(|p| QueueEvent::from_json(p).ok())
                            && producer_finished(&ev, &queue_id, run, &producer_id)
                        {
                            tx_events.send_modify(|s| s.producer_finished = true);
                            return;
                        }
                    }
                    Err(e) => {
                        if let Some(more) = errors.note(std::time::Instant::now()) {
                            warn!(error = %e, more, "queue-events consumer error");
                        }
                    }
                }
            }
        });
    } else {
        warn!("PRODUCER_TELEMETRY_ID is not set; the sink ends on drain or stop only");
    }
    tokio::spawn(async move {
        while let Some(cmd) = listener.next().await {
            match cmd.command {
                Command::Stop => {
                    tx.send_modify(|s| s.stop = true);
                    return;
                }
                Command::Drain => tx.send_modify(|s| s.producer_finished = true),
                Command::Start => {}
            }
        }
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_runs_producer_finishing_counts() {
        let q = "wf-q";
        let p = "loader-producer__abc123";
        let ev = |source: &str, status: EventStatus, run: Option<u32>| {
            let mut e = QueueEvent::new(q, source, status);
            e.run = run;
            e
        };
        assert!(producer_finished(
            &ev(p, EventStatus::Finished, Some(2)),
            q,
            2,
            p
        ));
        // Run 1's finished is still in queue-events when run 2's sink reads it.
        assert!(!producer_finished(
            &ev(p, EventStatus::Finished, Some(1)),
            q,
            2,
            p
        ));
        assert!(!producer_finished(
            &ev(p, EventStatus::Finished, None),
            q,
            2,
            p
        ));
        assert!(!producer_finished(
            &ev("arango-connector__abc123", EventStatus::Finished, Some(2)),
            q,
            2,
            p
        ));
        assert!(!producer_finished(
            &ev(p, EventStatus::Loading, Some(2)),
            q,
            2,
            p
        ));
        assert!(!producer_finished(
            &ev(p, EventStatus::Retrying, Some(2)),
            q,
            2,
            p
        ));
        let mut other = ev(p, EventStatus::Finished, Some(2));
        other.queue_id = "other".into();
        assert!(!producer_finished(&other, q, 2, p));
    }
}
