//! Kafka client configuration shared by the operator and every worker.
//!
//! Plaintext, or SASL SCRAM-SHA-512 over TLS with `CA_PATH` when `KAFKA_USER` is set, exactly
//! as the original services' environment does. Producers are idempotent (`enable.idempotence`),
//! so a retried send never writes a message twice.

use std::collections::HashMap;

use rdkafka::ClientConfig;
use rdkafka::consumer::StreamConsumer;
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use streamforge_api::{env, topics};

#[derive(Clone, PartialEq, Eq)]
pub enum Security {
    Plaintext,
    /// SASL SCRAM-SHA-512 over TLS.
    ScramSha512 {
        user: String,
        password: String,
        /// CA bundle that signed the brokers' certificates; the system store when absent.
        ca_path: Option<String>,
    },
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Security::Plaintext => f.write_str("Plaintext"),
            Security::ScramSha512 { user, ca_path, .. } => f
                .debug_struct("ScramSha512")
                .field("user", user)
                .field("password", &"<redacted>")
                .field("ca_path", ca_path)
                .finish(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSettings {
    pub bootstrap_servers: String,
    pub security: Security,
    pub control_topic: String,
    pub events_topic: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KafkaConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("KAFKA_USER is set but KAFKA_PASSWORD is empty")]
    MissingPassword,
    #[error("creating the Kafka {role} client")]
    Client {
        role: &'static str,
        #[source]
        source: KafkaError,
    },
}

impl KafkaSettings {
    pub fn plaintext(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            security: Security::Plaintext,
            control_topic: topics::QUEUE_CONTROL.to_owned(),
            events_topic: topics::QUEUE_EVENTS.to_owned(),
        }
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, KafkaConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the settings through `get` (the environment, a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, KafkaConfigError> {
        let non_empty = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let bootstrap_servers = non_empty(env::KAFKA_BOOTSTRAP_SERVERS)
            .ok_or(KafkaConfigError::Missing(env::KAFKA_BOOTSTRAP_SERVERS))?;
        let security = match non_empty(env::KAFKA_USER) {
            None => Security::Plaintext,
            Some(user) => Security::ScramSha512 {
                user,
                // Passwords are used as given: spaces may be part of them.
                password: get(env::KAFKA_PASSWORD)
                    .filter(|p| !p.is_empty())
                    .ok_or(KafkaConfigError::MissingPassword)?,
                ca_path: non_empty(env::CA_PATH),
            },
        };
        Ok(Self {
            bootstrap_servers,
            security,
            control_topic: non_empty(env::QUEUE_CONTROL_TOPIC)
                .unwrap_or_else(|| topics::QUEUE_CONTROL.to_owned()),
            events_topic: non_empty(env::QUEUE_EVENTS_TOPIC)
                .unwrap_or_else(|| topics::QUEUE_EVENTS.to_owned()),
        })
    }

    /// librdkafka properties common to every client.
    pub fn properties(&self) -> HashMap<&'static str, String> {
        let mut p = HashMap::new();
        p.insert("bootstrap.servers", self.bootstrap_servers.clone());
        match &self.security {
            Security::Plaintext => {
                p.insert("security.protocol", "plaintext".to_owned());
            }
            Security::ScramSha512 {
                user,
                password,
                ca_path,
            } => {
                p.insert("security.protocol", "sasl_ssl".to_owned());
                p.insert("sasl.mechanisms", "SCRAM-SHA-512".to_owned());
                p.insert("sasl.username", user.clone());
                p.insert("sasl.password", password.clone());
                if let Some(ca) = ca_path {
                    p.insert("ssl.ca.location", ca.clone());
                }
            }
        }
        p
    }

    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        for (k, v) in self.properties() {
            c.set(k, v);
        }
        c
    }

    /// An idempotent producer: acks from all in-sync replicas, retries without duplicates.
    pub fn producer(&self, client_id: &str) -> Result<FutureProducer, KafkaConfigError> {
        let mut c = self.client_config();
        c.set("client.id", client_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .set("linger.ms", "5");
        c.create().map_err(|source| KafkaConfigError::Client {
            role: "producer",
            source,
        })
    }

    /// A consumer in `group_id` that commits offsets only when told to.
    pub fn consumer(
        &self,
        client_id: &str,
        group_id: &str,
    ) -> Result<StreamConsumer, KafkaConfigError> {
        self.group_consumer(client_id, group_id, false)
    }

    /// A consumer like [`Self::consumer`] that also says when it has read a partition to its
    /// end: `recv` then yields `KafkaError::PartitionEOF(partition)`, once each time the end is
    /// reached. For readers that finish at the end of their input, such as the sinks, which
    /// learn it from these events rather than by asking the broker.
    pub fn consumer_reporting_ends(
        &self,
        client_id: &str,
        group_id: &str,
    ) -> Result<StreamConsumer, KafkaConfigError> {
        self.group_consumer(client_id, group_id, true)
    }

    /// A consumer like [`Self::consumer_reporting_ends`] that leaves its group when the
    /// application has not polled for `max_poll_interval` (librdkafka's `max.poll.interval.ms`;
    /// its default, 300 s, when `None`). A shorter interval also shortens the session timeout to
    /// it (librdkafka refuses a session longer than the poll interval) and the heartbeat to a
    /// third of that.
    pub fn consumer_reporting_ends_within(
        &self,
        client_id: &str,
        group_id: &str,
        max_poll_interval: Option<std::time::Duration>,
    ) -> Result<StreamConsumer, KafkaConfigError> {
        let mut c = self.group_config(client_id, group_id, true);
        if let Some(max) = max_poll_interval {
            let ms = max.as_millis().max(1);
            c.set("max.poll.interval.ms", ms.to_string());
            if ms < LIBRDKAFKA_SESSION_TIMEOUT_MS {
                c.set("session.timeout.ms", ms.to_string())
                    .set("heartbeat.interval.ms", (ms / 3).max(1).to_string());
            }
        }
        c.create().map_err(|source| KafkaConfigError::Client {
            role: "consumer",
            source,
        })
    }

    fn group_consumer(
        &self,
        client_id: &str,
        group_id: &str,
        partition_ends: bool,
    ) -> Result<StreamConsumer, KafkaConfigError> {
        self.group_config(client_id, group_id, partition_ends)
            .create()
            .map_err(|source| KafkaConfigError::Client {
                role: "consumer",
                source,
            })
    }

    fn group_config(&self, client_id: &str, group_id: &str, partition_ends: bool) -> ClientConfig {
        let mut c = self.client_config();
        c.set("client.id", client_id)
            .set("group.id", group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "enable.partition.eof",
                if partition_ends { "true" } else { "false" },
            )
            // librdkafka stops fetching a partition whose local queue is full and, by default,
            // waits a whole second before it looks again; a consumer that drains its queue in a
            // fraction of that then sits idle. Look again soon instead.
            .set("fetch.queue.backoff.ms", "20");
        c
    }
}

/// librdkafka's default `session.timeout.ms`.
const LIBRDKAFKA_SESSION_TIMEOUT_MS: u128 = 45_000;

/// Logs consumer errors at most once per [`ErrorLog::EVERY`], with how many came between.
///
/// librdkafka reports every failed connection attempt as an error event, and queues them while
/// the broker is away; a consumer loop must take them as fast as they come (pausing per error
/// would leave the messages after an outage waiting behind the backlog) without flooding the log.
#[derive(Debug, Default)]
pub struct ErrorLog {
    last: Option<std::time::Instant>,
    since: u64,
}

impl ErrorLog {
    pub const EVERY: std::time::Duration = std::time::Duration::from_secs(10);

    /// Whether to log this error now; `Some(n)` with the errors not logged since the last one.
    pub fn note(&mut self, now: std::time::Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Self::EVERY)
        {
            self.since += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn consumer_errors_are_logged_at_most_every_ten_seconds() {
        let t0 = std::time::Instant::now();
        let mut log = ErrorLog::default();
        assert_eq!(log.note(t0), Some(0));
        for i in 1..100 {
            assert_eq!(
                log.note(t0 + std::time::Duration::from_millis(i * 50)),
                None
            );
        }
        assert_eq!(log.note(t0 + ErrorLog::EVERY), Some(99));
    }

    #[test]
    fn plaintext_without_a_user() {
        let s = KafkaSettings::from_lookup(lookup(&[("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")]))
            .unwrap();
        assert_eq!(s.security, Security::Plaintext);
        assert_eq!(s.control_topic, "queue-control");
        assert_eq!(s.events_topic, "queue-events");
        let p = s.properties();
        assert_eq!(p["security.protocol"], "plaintext");
        assert!(!p.contains_key("sasl.username"));
    }

    #[test]
    fn scram_over_tls_with_a_user_as_the_original_services() {
        let s = KafkaSettings::from_lookup(lookup(&[
            ("KAFKA_BOOTSTRAP_SERVERS", "k3-kafka-bootstrap.kafka:9093"),
            ("KAFKA_USER", "user-producer-tls"),
            ("KAFKA_PASSWORD", "s3cret"),
            ("CA_PATH", "/usr/local/share/ca-certificates/ca.crt"),
            ("QUEUE_EVENTS_TOPIC", "ev"),
        ]))
        .unwrap();
        let p = s.properties();
        assert_eq!(p["security.protocol"], "sasl_ssl");
        assert_eq!(p["sasl.mechanisms"], "SCRAM-SHA-512");
        assert_eq!(p["sasl.username"], "user-producer-tls");
        assert_eq!(p["sasl.password"], "s3cret");
        assert_eq!(
            p["ssl.ca.location"],
            "/usr/local/share/ca-certificates/ca.crt"
        );
        assert_eq!(s.events_topic, "ev");
        assert!(
            !format!("{s:?}").contains("s3cret"),
            "Debug must not print the password"
        );
    }

    #[test]
    fn clear_errors_for_missing_settings() {
        let e = KafkaSettings::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(e.to_string(), "KAFKA_BOOTSTRAP_SERVERS is not set");
        let e = KafkaSettings::from_lookup(lookup(&[
            ("KAFKA_BOOTSTRAP_SERVERS", "k:9093"),
            ("KAFKA_USER", "u"),
        ]))
        .unwrap_err();
        assert!(matches!(e, KafkaConfigError::MissingPassword));
    }

    #[tokio::test]
    async fn librdkafka_accepts_both_configurations() {
        let plain = KafkaSettings::plaintext("127.0.0.1:1");
        assert!(plain.producer("t").is_ok());
        assert!(plain.consumer("t", "g").is_ok());
        // A poll interval below librdkafka's default session timeout (45 s) takes the session
        // down with it; librdkafka refuses a session longer than the poll interval.
        for max in [None, Some(std::time::Duration::from_secs(6))] {
            let c = plain.consumer_reporting_ends_within("t", "g", max);
            assert!(c.is_ok(), "{max:?}: {:?}", c.err());
        }
        let tls = KafkaSettings {
            security: Security::ScramSha512 {
                user: "u".into(),
                password: "p".into(),
                ca_path: None,
            },
            ..plain
        };
        // Creating the client validates every property (SASL and TLS support compiled in).
        assert!(tls.producer("t").is_ok(), "{:?}", tls.producer("t").err());
    }
}
