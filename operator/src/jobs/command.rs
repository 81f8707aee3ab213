//! A worker's command on `queue-control` (pure): the run's identity, the worker's telemetry id
//! and image, a deterministic command id, and the spec's optional fields from the contract's
//! table.

use streamforge_api::command::command_id;
use streamforge_api::{Command, ControlCommand, Queue, optional};

use super::Worker;
use crate::reconcile::validate::Identity;

/// The `command` for `worker` in `run`, stamped at `now` (seconds since the epoch).
pub fn command(
    queue: &Queue,
    id: &Identity,
    worker: &Worker,
    run: u32,
    command: Command,
    now: f64,
) -> ControlCommand {
    let spec = &queue.spec;
    let extra = optional::set_fields(spec)
        .map(|(field, value)| (field.key.to_owned(), value.json()))
        .collect();
    ControlCommand {
        command,
        queue_id: id.queue_id.clone(),
        target: worker.target.as_str().into(),
        symbol: spec.symbol.clone(),
        data_type: spec.data_type.clone(),
        time_range: spec.time_range.clone(),
        kafka_topic: Some(id.kafka_topic.clone()),
        collection_name: Some(id.collection_name.clone()),
        telemetry_id: worker.telemetry_id.clone(),
        image: Some(worker.image.clone()),
        timestamp: now,
        run,
        command_id: command_id(&id.queue_id, run, command, &worker.telemetry_id),
        extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WorkerDefaults;
    use crate::fixtures::QueueExt;
    use crate::jobs::workers;
    use crate::reconcile::validate::validate;
    use streamforge_api::SinkKind;

    #[test]
    fn commands_match_the_wire_contract() {
        let q = Queue::test().with_sinks(&[SinkKind::Arango]);
        let id = validate(&q).unwrap();
        let cfg = WorkerDefaults::for_tests();
        let ws = workers(&q, &id, 1, &cfg);
        let start = command(&q, &id, &ws[1], 1, Command::Start, 1722500000.5);
        let wire: serde_json::Value = serde_json::from_slice(&start.to_json()).unwrap();
        assert_eq!(wire["command"], "start");
        assert_eq!(
            wire["queue_id"],
            "wf-btcusdt-api_candles_5m-20240801-a1b2c3"
        );
        assert_eq!(wire["target"], "arango-connector");
        assert_eq!(wire["type"], "api_candles_5m");
        assert_eq!(wire["time_range"], "2024-08-01:2024-08-02");
        assert_eq!(
            wire["kafka_topic"],
            "wf-btcusdt-api_candles_5m-20240801-a1b2c3-data"
        );
        assert_eq!(wire["collection_name"], "btcusdt_api_candles_5m_2024_08_01");
        assert_eq!(wire["telemetry_id"], "arango-connector__a1b2c3");
        assert_eq!(wire["timestamp"], 1722500000.5);
        assert_eq!(
            wire["command_id"],
            "wf-btcusdt-api_candles_5m-20240801-a1b2c3/1/start/arango-connector__a1b2c3"
        );
    }
}
