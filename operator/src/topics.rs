//! Making a Queue's data topic before its Jobs.
//!
//! Ordering rule: the data topic of a Queue whose workers read or write it exists before the
//! reconciler creates any of its Jobs. A sink may start before its loader (they start together),
//! and librdkafka answers a subscription to a missing topic with an error, then sees a topic
//! made later only at its next metadata refresh (minutes). The reconciler sees only the
//! [`DataTopics`] trait; the Kafka implementation makes a missing topic with the admin API
//! (partitions and replication from the operator's configuration) and leaves an existing one
//! as it is (a `TopicAlreadyExists` answer from a race is fine).

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use streamforge_api::{Queue, Target};
use streamforge_kit::KafkaSettings;
use streamforge_kit::topics::{TopicError, ensure_topic};

pub trait DataTopics: Send + Sync {
    /// Make `topic` unless it exists; resolves when the broker has it.
    fn ensure<'a>(&'a self, topic: &'a str) -> BoxFuture<'a, Result<(), TopicError>>;
}

/// Whether the Jobs of `queue` read or write its data topic (`spec.kafkaTopic`, or
/// `<queue id>-data`): a loader and its companion sinks, or a sink run alone.
pub fn uses_data_topic(queue: &Queue) -> bool {
    let spec = &queue.spec;
    spec.target.is_loader()
        || !spec.sinks.is_empty()
        || (matches!(spec.target, Target::ArangoConnector | Target::LakeConnector)
            && !streamforge_api::datatype::is_graph_type(&spec.data_type))
}

pub struct KafkaDataTopics {
    settings: KafkaSettings,
    partitions: i32,
    /// `-1`: the broker's default (`default.replication.factor`).
    replication: i32,
}

impl KafkaDataTopics {
    pub fn new(settings: KafkaSettings, partitions: i32, replication: i32) -> Self {
        Self {
            settings,
            partitions,
            replication,
        }
    }
}

impl DataTopics for KafkaDataTopics {
    fn ensure<'a>(&'a self, topic: &'a str) -> BoxFuture<'a, Result<(), TopicError>> {
        Box::pin(ensure_topic(
            &self.settings,
            topic,
            self.partitions,
            self.replication,
            None,
        ))
    }
}

/// Keeps the topics it was asked for; can be told to fail. For tests.
#[derive(Clone, Default)]
pub struct RecordingDataTopics {
    ensured: Arc<Mutex<Vec<String>>>,
    failing: Arc<Mutex<bool>>,
}

impl RecordingDataTopics {
    pub fn ensured(&self) -> Vec<String> {
        self.ensured.lock().map(|v| v.clone()).unwrap_or_default()
    }
    pub fn set_failing(&self, failing: bool) {
        if let Ok(mut f) = self.failing.lock() {
            *f = failing;
        }
    }
}

impl DataTopics for RecordingDataTopics {
    fn ensure<'a>(&'a self, topic: &'a str) -> BoxFuture<'a, Result<(), TopicError>> {
        Box::pin(async move {
            if let Ok(mut v) = self.ensured.lock() {
                v.push(topic.to_owned());
            }
            if self.failing.lock().map(|f| *f).unwrap_or(false) {
                return Err(TopicError {
                    topic: topic.to_owned(),
                    reason: "broker unavailable".into(),
                });
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::QueueExt;
    use streamforge_api::SinkKind;

    #[test]
    fn loaders_and_sinks_use_the_data_topic_others_do_not() {
        assert!(uses_data_topic(&Queue::test()));
        assert!(uses_data_topic(
            &Queue::test().with_sinks(&[SinkKind::Lake])
        ));
        assert!(uses_data_topic(
            &Queue::test().with_type(Target::ArangoConnector, "api_candles_5m")
        ));
        assert!(!uses_data_topic(
            &Queue::test().with_type(Target::ArangoConnector, "graph_rsi_vol")
        ));
        assert!(!uses_data_topic(
            &Queue::test().with_type(Target::GraphBuilder, "graph_build")
        ));
        assert!(!uses_data_topic(
            &Queue::test().with_type(Target::GnnTrainer, "gnn_trainer")
        ));
    }
}
