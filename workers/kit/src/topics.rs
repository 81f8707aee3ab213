//! Creating a topic if it is missing, for the operator's control and telemetry topics and the
//! loaders' data topics.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use crate::KafkaSettings;

#[derive(Debug, thiserror::Error)]
#[error("topic {topic}: {reason}")]
pub struct TopicError {
    pub topic: String,
    pub reason: String,
}

/// Does `topic` exist with at least one partition? Asking never creates it.
pub fn topic_exists(settings: &KafkaSettings, topic: &str) -> Result<bool, TopicError> {
    let terr = |reason: String| TopicError {
        topic: topic.to_owned(),
        reason,
    };
    let probe: BaseConsumer = settings
        .client_config()
        .set("allow.auto.create.topics", "false")
        .create()
        .map_err(|e| terr(e.to_string()))?;
    let md = probe
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| terr(e.to_string()))?;
    Ok(md
        .topics()
        .iter()
        .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty()))
}

/// Create `topic` if it is missing (an existing topic is left as it is).
pub async fn ensure_topic(
    settings: &KafkaSettings,
    topic: &str,
    partitions: i32,
    replication: i32,
    retention_ms: Option<i64>,
) -> Result<(), TopicError> {
    let terr = |reason: String| TopicError {
        topic: topic.to_owned(),
        reason,
    };
    // An existing topic is used as it is; only a missing one needs the admin API (and rights).
    if topic_exists(settings, topic).unwrap_or(false) {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = settings
        .client_config()
        .create()
        .map_err(|e| terr(e.to_string()))?;
    let retention = retention_ms.map(|r| r.to_string());
    let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication));
    if let Some(r) = &retention {
        new = new.set("retention.ms", r);
    }
    let results = admin
        .create_topics(
            &[new],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .map_err(|e| terr(e.to_string()))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(terr(code.to_string())),
        }
    }
    Ok(())
}
