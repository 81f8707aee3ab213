//! Conversions between Kubernetes times (jiff) and the contract's chrono and epoch-second times.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

pub fn now() -> Time {
    Time(Timestamp::now())
}

pub fn to_chrono(t: &Time) -> DateTime<Utc> {
    DateTime::from_timestamp(t.0.as_second(), t.0.subsec_nanosecond().max(0) as u32)
        .unwrap_or_default()
}

pub fn from_chrono(t: DateTime<Utc>) -> Time {
    Time(
        Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32)
            .unwrap_or(Timestamp::UNIX_EPOCH),
    )
}

/// Seconds since the epoch, as telemetry carries them; `None` when out of range.
pub fn from_epoch_secs(secs: f64) -> Option<Time> {
    if !secs.is_finite() {
        return None;
    }
    Timestamp::from_millisecond((secs * 1000.0) as i64)
        .ok()
        .map(Time)
}

pub fn epoch_secs(t: &Time) -> f64 {
    t.0.as_millisecond() as f64 / 1000.0
}
