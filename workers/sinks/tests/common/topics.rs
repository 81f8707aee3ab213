//! The brokers the sink tests run against: librdkafka's mock cluster, or the real broker under
//! `STREAMFORGE_TEST_KAFKA`, each with the data topic the test names.

// Each test binary includes this file and uses a part of it.
#![allow(dead_code)]

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use streamforge_kit::KafkaSettings;
use streamforge_kit::testing::{real_kafka, unique};

/// A mock cluster holding `topic` (in `partitions`) and its dead-letter topic (`<topic>-dlq`,
/// one partition), and the settings that reach it. The cluster lives as long as the value.
pub fn mock_topic(
    topic: &str,
    partitions: i32,
) -> (MockCluster<'static, DefaultProducerContext>, KafkaSettings) {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(topic, partitions, 1).unwrap();
    cluster.create_topic(&format!("{topic}-dlq"), 1, 1).unwrap();
    let settings = KafkaSettings::plaintext(cluster.bootstrap_servers());
    (cluster, settings)
}

/// A topic no earlier run used (named from `prefix`), made with `partitions` on the real
/// broker; `None` when `test` has none to run against (see [`real_kafka`]).
pub async fn real_topic(
    test: &str,
    prefix: &str,
    partitions: i32,
) -> Option<(KafkaSettings, String)> {
    let settings = real_kafka(test)?;
    let topic = unique(prefix);
    streamforge_kit::topics::ensure_topic(&settings, &topic, partitions, 1, None)
        .await
        .unwrap();
    Some((settings, topic))
}
