//! `queue-events` messages: telemetry every worker publishes.
//!
//! Only `queue_id` is required; workers of the original services left out fields freely.
//! Unknown fields are kept in `extra`, never rejected.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Longest `message` the operator keeps from an event (bytes); longer ones are cut.
pub const MAX_MESSAGE_LEN: usize = 1024;

/// A worker's reported state. Unknown words are kept as `Other`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventStatus {
    Started,
    Loading,
    Training,
    Finished,
    Error,
    Stopped,
    /// A passing failure: the worker exits for its Job to retry it. Not final.
    Retrying,
    Other(String),
}

impl EventStatus {
    pub fn as_str(&self) -> &str {
        match self {
            EventStatus::Started => "started",
            EventStatus::Loading => "loading",
            EventStatus::Training => "training",
            EventStatus::Finished => "finished",
            EventStatus::Error => "error",
            EventStatus::Stopped => "stopped",
            EventStatus::Retrying => "retrying",
            EventStatus::Other(s) => s,
        }
    }

    /// A final state: the worker will report nothing more in this run.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            EventStatus::Finished | EventStatus::Error | EventStatus::Stopped
        )
    }
}

impl From<&str> for EventStatus {
    fn from(s: &str) -> Self {
        match s {
            "started" => EventStatus::Started,
            "loading" => EventStatus::Loading,
            "training" => EventStatus::Training,
            "finished" => EventStatus::Finished,
            "error" => EventStatus::Error,
            "stopped" => EventStatus::Stopped,
            "retrying" => EventStatus::Retrying,
            other => EventStatus::Other(other.to_owned()),
        }
    }
}

impl Serialize for EventStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(EventStatus::from(s.as_ref()))
    }
}

/// A run number, or `None` for anything else (a string, a negative or fractional number).
fn lenient_run<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.and_then(|v| v.as_u64())
        .and_then(|n| u32::try_from(n).ok()))
}

/// One telemetry event on `queue-events`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct QueueEvent {
    pub queue_id: String,
    /// Who reports: the telemetry id, e.g. `arango-connector__a1b2c3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EventStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_written: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<bool>,
    /// Seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    /// Fraction done, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    /// Run of the Queue the worker serves (from its `RUN`). A value that is not a run number
    /// is dropped, not rejected.
    #[serde(
        default,
        deserialize_with = "lenient_run",
        skip_serializing_if = "Option::is_none"
    )]
    pub run: Option<u32>,
    /// Extras: epoch, accuracy, loss, model_path, output_path, position, ...
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl QueueEvent {
    /// A minimal event from `producer` about `queue_id`.
    pub fn new(
        queue_id: impl Into<String>,
        producer: impl Into<String>,
        status: EventStatus,
    ) -> Self {
        let producer = producer.into();
        Self {
            queue_id: queue_id.into(),
            telemetry_id: Some(producer.clone()),
            producer: Some(producer),
            symbol: None,
            data_type: None,
            status: Some(status),
            message: None,
            records_written: None,
            finished: None,
            timestamp: None,
            progress: None,
            run: None,
            extra: BTreeMap::new(),
        }
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Who sent it: `telemetry_id`, else `producer`.
    pub fn source(&self) -> Option<&str> {
        self.telemetry_id
            .as_deref()
            .or(self.producer.as_deref())
            .filter(|s| !s.is_empty())
    }

    /// The worker says it is done: a final status, or `finished: true`.
    pub fn is_final(&self) -> bool {
        self.finished == Some(true) || self.status.as_ref().is_some_and(EventStatus::is_final)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_original_services_examples() {
        let loading = json!({
          "queue_id": "wf-btcusdt-api_candles_5m-20240801-a1b2c3",
          "producer": "arango-connector__a1b2c3",
          "symbol": "BTCUSDT",
          "type": "api_candles_5m",
          "status": "loading",
          "message": "Сохранено 15000 записей",
          "records_written": 15000,
          "finished": false,
          "timestamp": 1722500125.456
        });
        let ev = QueueEvent::from_json(loading.to_string().as_bytes()).unwrap();
        assert_eq!(ev.status, Some(EventStatus::Loading));
        assert_eq!(ev.records_written, Some(15000));
        assert_eq!(ev.source(), Some("arango-connector__a1b2c3"));
        assert!(!ev.is_final());

        let visual = json!({
          "queue_id": "visualize-btcusdt-2024_06_01-abc123",
          "status": "finished",
          "telemetry_id": "visualizer__abc123",
          "output_path": "s3://visuals/btcusdt/2024_06_01/index.html"
        });
        let ev = QueueEvent::from_json(visual.to_string().as_bytes()).unwrap();
        assert!(ev.is_final());
        assert_eq!(ev.timestamp, None);
        assert_eq!(ev.extra["output_path"], visual["output_path"]);
        let back: Value = serde_json::from_slice(&ev.to_json()).unwrap();
        assert_eq!(back, visual);
    }

    #[test]
    fn unknown_status_words_are_kept() {
        let ev =
            QueueEvent::from_json(br#"{"queue_id":"q","status":"warming_up","epoch":3}"#).unwrap();
        assert_eq!(ev.status, Some(EventStatus::Other("warming_up".into())));
        assert_eq!(ev.extra["epoch"], json!(3));
        assert!(ev.to_json().starts_with(b"{"));
    }

    #[test]
    fn run_is_read_when_it_is_a_run_number_and_dropped_otherwise() {
        let ev = QueueEvent::from_json(br#"{"queue_id":"q","status":"retrying","run":3}"#).unwrap();
        assert_eq!(ev.run, Some(3));
        assert_eq!(ev.status, Some(EventStatus::Retrying));
        assert!(!ev.is_final());
        for bad in [r#""3""#, "-1", "1.5", "99999999999", "null"] {
            let json = format!(r#"{{"queue_id":"q","run":{bad}}}"#);
            let ev = QueueEvent::from_json(json.as_bytes()).unwrap();
            assert_eq!(ev.run, None, "{bad}");
            assert!(!ev.extra.contains_key("run"));
        }
        let back: Value = serde_json::from_slice(
            &QueueEvent::from_json(br#"{"queue_id":"q","run":2}"#)
                .unwrap()
                .to_json(),
        )
        .unwrap();
        assert_eq!(back["run"], json!(2));
    }

    #[test]
    fn malformed_events_are_errors() {
        for bad in [
            &b"not json"[..],
            br#"{"producer":"x"}"#,
            br#"{"queue_id":"q","records_written":-5}"#,
            br#"{"queue_id":"q","timestamp":"yesterday"}"#,
            br#"[1,2,3]"#,
        ] {
            assert!(
                QueueEvent::from_json(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
