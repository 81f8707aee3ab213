//! What a worker is told through its environment (the names in `streamforge_api::env`).

use streamforge_api::{TimeRange, env};

/// The identity and assignment of one worker, read once at start.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerEnv {
    pub queue_id: String,
    pub telemetry_id: String,
    pub symbol: String,
    pub data_type: String,
    pub time_range: Option<TimeRange>,
    pub kafka_topic: String,
    pub collection_name: Option<String>,
    pub run: u32,
    /// Sinks: the telemetry id of the run's main worker (`PRODUCER_TELEMETRY_ID`).
    pub producer_id: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnvError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl WorkerEnv {
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let req = |k: &'static str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or(EnvError::Missing(k))
        };
        let opt = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let time_range = opt(env::TIME_RANGE)
            .map(|r| TimeRange::parse(&r))
            .transpose()
            .map_err(|e| EnvError::Invalid {
                name: env::TIME_RANGE,
                reason: e.to_string(),
            })?;
        let run = match opt(env::RUN) {
            None => 1,
            Some(r) => {
                r.parse()
                    .ok()
                    .filter(|&n: &u32| n > 0)
                    .ok_or_else(|| EnvError::Invalid {
                        name: env::RUN,
                        reason: format!("{r:?} is not a run number"),
                    })?
            }
        };
        Ok(Self {
            queue_id: req(env::QUEUE_ID)?,
            telemetry_id: req(env::TELEMETRY_PRODUCER_ID)?,
            symbol: req(env::SYMBOL)?,
            data_type: req(env::TYPE)?,
            time_range,
            kafka_topic: req(env::KAFKA_TOPIC)?,
            collection_name: opt(env::COLLECTION_NAME),
            run,
            producer_id: opt(env::PRODUCER_TELEMETRY_ID),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("QUEUE_ID", "wf-btcusdt-api_candles_5m-20240801-a1b2c3"),
        ("TELEMETRY_PRODUCER_ID", "loader-producer__a1b2c3"),
        ("SYMBOL", "BTCUSDT"),
        ("TYPE", "api_candles_5m"),
        ("TIME_RANGE", "2024-08-01:2024-08-02"),
        ("KAFKA_TOPIC", "wf-data"),
        ("RUN", "2"),
    ];

    #[test]
    fn reads_the_operator_set_environment() {
        let e = WorkerEnv::from_lookup(lookup(BASE)).unwrap();
        assert_eq!(e.symbol, "BTCUSDT");
        assert_eq!(e.run, 2);
        assert_eq!(e.time_range.unwrap().duration_ms(), 86_400_000);
        assert_eq!(e.collection_name, None);
    }

    #[test]
    fn says_what_is_missing_or_wrong() {
        let mut pairs = BASE.to_vec();
        pairs.retain(|(k, _)| *k != "KAFKA_TOPIC");
        assert_eq!(
            WorkerEnv::from_lookup(lookup(&pairs)),
            Err(EnvError::Missing("KAFKA_TOPIC"))
        );
        let mut pairs = BASE.to_vec();
        pairs.retain(|(k, _)| *k != "TIME_RANGE");
        pairs.push(("TIME_RANGE", "x"));
        let err = WorkerEnv::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(
            err.to_string().starts_with("TIME_RANGE is invalid"),
            "{err}"
        );
    }
}
