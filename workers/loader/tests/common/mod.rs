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
