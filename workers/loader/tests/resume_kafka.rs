//! Where a restarted historical loader continues, read from a topic whose partitions stopped
//! at different places (the sends in flight when the previous pod died were lost in one of
//! them): after the position every partition reached, not after the largest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::FutureRecord;
use streamforge_kit::KafkaSettings;
use streamforge_loader::sink::resume_point;

async fn put(settings: &KafkaSettings, topic: &str, partition: i32, positions: &[i64]) {
    let p = settings.producer("loader").unwrap();
    for pos in positions {
        let key = format!("BTCUSDT|1m|{pos}");
        p.send(
            FutureRecord::to(topic)
                .partition(partition)
                .key(&key)
                .payload("{}"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_restarted_loader_continues_after_what_every_partition_holds() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("wf-resume", 3, 1).unwrap();
    let settings = KafkaSettings::plaintext(cluster.bootstrap_servers());
    put(&settings, "wf-resume", 0, &[100, 400, 1000]).await;
    put(&settings, "wf-resume", 1, &[200, 500]).await;
    put(&settings, "wf-resume", 2, &[300, 900]).await;
    let at = tokio::task::spawn_blocking(move || {
        resume_point(&settings, "wf-resume", Duration::from_secs(10))
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(at.after, Some(500), "partition 1 reached only 500");
    // Past 500, what the partitions ahead hold is not sent again (the lake appends).
    let mut present: Vec<i64> = at.present.into_iter().collect();
    present.sort();
    assert_eq!(present, [900, 1000]);
}

#[tokio::test]
async fn with_an_empty_partition_the_load_starts_over() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("wf-resume-empty", 2, 1).unwrap();
    let settings = KafkaSettings::plaintext(cluster.bootstrap_servers());
    put(&settings, "wf-resume-empty", 0, &[100, 1000]).await;
    let at = tokio::task::spawn_blocking(move || {
        resume_point(&settings, "wf-resume-empty", Duration::from_secs(10))
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(at.after, None);
    assert!(at.present.is_empty());
}
