//! The visualizer's settings from its environment (the seed's names where it has them).
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `HOST`, `PORT` | where the UI listens | `0.0.0.0`, `8000` |
//! | `FRONTEND_PATH` | the page's files (`index.html`, `app.js`, `app.css`, `node_modules/`) | `/app/frontend` |
//! | `ALLOWED_TOPICS` | topics the UI may tail, comma-separated; `*` ends a prefix (`candles-*`); `*` alone is every topic | `*` |
//! | `DENIED_TOPICS` | never tailed, whatever `ALLOWED_TOPICS` says | the control topic |
//! | `EVENTS_KEPT` | `queue-events` kept in memory for the Webhooks tab | 5000 |
//! | `CLIENT_BUFFER` | records a WebSocket client may fall behind before it skips | 1024 |
//! | `DEFAULT_SYMBOL`, `DEFAULT_CANDLES_TYPE` | what the chart tabs open with | `BTCUSDT`, `api_candles_1m` |
//! | `DEFAULT_TOPIC`, `DEFAULT_ORDERBOOK_TOPIC` | the data topics the tabs open with | none |
//! | `LAKE_PREFIX`, `MINIO_*`, `LAKE_DIR` | the lake (history, graphs, models) | as graph-builder |
//! | `QUEUE_EVENTS_TOPIC`, `QUEUE_CONTROL_TOPIC`, `KAFKA_*` | the broker | as every worker |

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::Serialize;
use streamforge_api::env;
use streamforge_sinks::lake::LakeLocation;

pub const HOST: &str = "HOST";
pub const PORT: &str = "PORT";
pub const FRONTEND_PATH: &str = "FRONTEND_PATH";
pub const ALLOWED_TOPICS: &str = "ALLOWED_TOPICS";
pub const DENIED_TOPICS: &str = "DENIED_TOPICS";
pub const EVENTS_KEPT: &str = "EVENTS_KEPT";
pub const CLIENT_BUFFER: &str = "CLIENT_BUFFER";
pub const LAKE_PREFIX: &str = "LAKE_PREFIX";

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("{name}={value:?}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

/// Which topics may be tailed: an allow list of names and prefixes, minus a deny list.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicPolicy {
    allowed: Vec<String>,
    denied: Vec<String>,
}

impl TopicPolicy {
    /// `allowed` and `denied` as comma-separated patterns: a name, a prefix ending in `*`, or
    /// `*` for every topic.
    pub fn new(allowed: &str, denied: &str) -> Self {
        let split = |s: &str| -> Vec<String> {
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect()
        };
        TopicPolicy {
            allowed: split(allowed),
            denied: split(denied),
        }
    }

    fn matches(pattern: &str, topic: &str) -> bool {
        match pattern.strip_suffix('*') {
            Some(prefix) => topic.starts_with(prefix),
            None => pattern == topic,
        }
    }

    pub fn allows(&self, topic: &str) -> bool {
        self.allowed.iter().any(|p| Self::matches(p, topic))
            && !self.denied.iter().any(|p| Self::matches(p, topic))
    }
}

/// What the chart tabs open with, handed to the page as its configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Defaults {
    pub default_symbol: String,
    pub default_candles_type: String,
    pub default_topic: Option<String>,
    pub default_orderbook_topic: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VisualizerConfig {
    pub listen: SocketAddr,
    pub frontend: PathBuf,
    pub topics: TopicPolicy,
    pub events_topic: String,
    pub events_kept: usize,
    pub client_buffer: usize,
    pub defaults: Defaults,
    pub lake: LakeLocation,
    pub lake_prefix: String,
}

impl VisualizerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let opt = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let bad = |name: &'static str, value: &str, reason: &str| ConfigError {
            name,
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let host = opt(HOST).unwrap_or_else(|| "0.0.0.0".into());
        let ip: IpAddr = host
            .parse()
            .map_err(|_| bad(HOST, &host, "not an IP address"))?;
        let port = match opt(PORT) {
            None => 8000,
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| bad(PORT, &p, "not a port number"))?,
        };
        let count = |name: &'static str, default: usize, max: usize| match opt(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| bad(name, &v, &format!("must be a whole number in 1..={max}"))),
        };
        let control = opt(env::QUEUE_CONTROL_TOPIC).unwrap_or_else(|| "queue-control".into());
        Ok(VisualizerConfig {
            listen: SocketAddr::new(ip, port),
            frontend: opt(FRONTEND_PATH)
                .unwrap_or_else(|| "/app/frontend".into())
                .into(),
            topics: TopicPolicy::new(
                &opt(ALLOWED_TOPICS).unwrap_or_else(|| "*".into()),
                &opt(DENIED_TOPICS).unwrap_or(control),
            ),
            events_topic: opt(env::QUEUE_EVENTS_TOPIC).unwrap_or_else(|| "queue-events".into()),
            events_kept: count(EVENTS_KEPT, 5000, 1_000_000)?,
            client_buffer: count(CLIENT_BUFFER, 1024, 1_000_000)?,
            defaults: Defaults {
                default_symbol: opt("DEFAULT_SYMBOL").unwrap_or_else(|| "BTCUSDT".into()),
                default_candles_type: opt("DEFAULT_CANDLES_TYPE")
                    .unwrap_or_else(|| "api_candles_1m".into()),
                default_topic: opt("DEFAULT_TOPIC"),
                default_orderbook_topic: opt("DEFAULT_ORDERBOOK_TOPIC"),
            },
            lake: LakeLocation::from_lookup(&get).map_err(|e| ConfigError {
                name: "MINIO_ENDPOINT",
                value: String::new(),
                reason: e.to_string(),
            })?,
            lake_prefix: opt(LAKE_PREFIX).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamforge_kit::testing::env_lookup;

    #[test]
    fn defaults_follow_the_seed_and_keep_the_control_topic_out() {
        let c = VisualizerConfig::from_lookup(env_lookup(&[])).unwrap();
        assert_eq!(c.listen, "0.0.0.0:8000".parse().unwrap());
        assert_eq!(c.frontend, PathBuf::from("/app/frontend"));
        assert!(c.topics.allows("candles-btc"));
        assert!(!c.topics.allows("queue-control"));
        assert!(c.topics.allows("queue-events"));
    }

    #[test]
    fn topic_patterns_allow_names_and_prefixes_and_deny_wins() {
        let p = TopicPolicy::new("candles-*, queue-events", "candles-secret*");
        assert!(p.allows("candles-btc"));
        assert!(p.allows("queue-events"));
        assert!(!p.allows("trades-btc"));
        assert!(!p.allows("candles-secret-1"));
        assert!(!TopicPolicy::new("", "").allows("x"));
    }

    #[test]
    fn bad_settings_name_the_variable() {
        let e = VisualizerConfig::from_lookup(env_lookup(&[("PORT", "eighty")])).unwrap_err();
        assert_eq!(e.name, "PORT");
        let e = VisualizerConfig::from_lookup(env_lookup(&[("HOST", "localhost:1")])).unwrap_err();
        assert_eq!(e.name, "HOST");
        let e = VisualizerConfig::from_lookup(env_lookup(&[("CLIENT_BUFFER", "0")])).unwrap_err();
        assert_eq!(e.name, "CLIENT_BUFFER");
    }
}
