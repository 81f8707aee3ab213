//! What the loader's broker tests share.

#![allow(dead_code)]

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use streamforge_kit::KafkaSettings;

/// Messages stored in `topic` (the sum over its `partitions` of high minus low watermark): with
/// one message per record, how many the loader stored, repeats included.
pub fn stored(settings: &KafkaSettings, topic: &str, partitions: i32) -> i64 {
    let probe: BaseConsumer = settings
        .client_config()
        .set("group.id", "probe")
        .create()
        .unwrap();
    (0..partitions)
        .map(|p| {
            let (lo, hi) = probe
                .fetch_watermarks(topic, p, Duration::from_secs(5))
                .unwrap();
            hi - lo
        })
        .sum()
}

/// librdkafka's mock cluster with the control and events topics (one partition each) and the
/// data topic of `queue_id` (three partitions). The mock cluster has no admin API; a real broker
/// runs the loader's create path (see e2e/).
pub fn mock_cluster(
    queue_id: &str,
) -> (
    rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    KafkaSettings,
) {
    let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
    for t in ["queue-control", "queue-events"] {
        cluster.create_topic(t, 1, 1).unwrap();
    }
    cluster
        .create_topic(&format!("{queue_id}-data"), 3, 1)
        .unwrap();
    let settings = KafkaSettings::plaintext(cluster.bootstrap_servers());
    (cluster, settings)
}

/// The exchange simulator on a free port: its base URL.
pub async fn simulator(config: binance_sim::Config) -> String {
    let (addr, _state, _task) = binance_sim::serve(
        "127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap(),
        config,
    )
    .await
    .unwrap();
    format!("http://{addr}")
}

/// Up to `want` (key, payload) pairs from `topic`, read as consumer group `group`; fewer when
/// nothing more comes for 20 s.
pub async fn drain(
    settings: &KafkaSettings,
    topic: &str,
    group: &str,
    want: usize,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    use rdkafka::Message;
    let c: rdkafka::consumer::StreamConsumer = settings.consumer("reader", group).unwrap();
    c.subscribe(&[topic]).unwrap();
    let mut out = vec![];
    while out.len() < want {
        match streamforge_kit::testing::next_message(&c, Duration::from_secs(20)).await {
            Some(m) => out.push((
                m.key().unwrap_or_default().to_vec(),
                m.payload().unwrap_or_default().to_vec(),
            )),
            None => break,
        }
    }
    out
}
