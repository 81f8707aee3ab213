//! A sink's `loading` telemetry on a real broker: while its stored count moves, a sink reports
//! it at a bounded rate (the seeds' periodic `loading` with `records_written`), and says when
//! its store is away and writes are retried; while nothing moves, it stays quiet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use streamforge_api::{EventStatus, QueueEvent};
use streamforge_kit::WorkerEnv;
use streamforge_kit::telemetry::Reporter;
use streamforge_kit::testing::{env_lookup, real_kafka, unique};
use streamforge_sinks::connector::report_progress;

#[tokio::test]
async fn a_sink_reports_what_it_stored_while_it_stores() {
    let Some(kafka) = real_kafka("a_sink_reports_what_it_stored") else {
        return;
    };
    let events = unique("sink-progress-events");
    streamforge_kit::topics::ensure_topic(&kafka, &events, 1, 1, None)
        .await
        .unwrap();
    let env = WorkerEnv::from_lookup(env_lookup(&[
        ("QUEUE_ID", "loader-btcusdt-api_candles_1m-x"),
        ("TELEMETRY_PRODUCER_ID", "arango-candles__x"),
        ("SYMBOL", "BTCUSDT"),
        ("TYPE", "api_candles_1m"),
        ("KAFKA_TOPIC", "wf-x"),
    ]))
    .unwrap();
    let reporter = Reporter::new(kafka.producer("progress-test").unwrap(), &events, env);
    let stored = prometheus::IntCounter::new("stored", "stored").unwrap();
    let retries = prometheus::IntCounter::new("retries", "retries").unwrap();
    let held = prometheus::IntGauge::new("held", "held").unwrap();
    let reader: StreamConsumer = kafka
        .consumer("progress-reader", &unique("progress"))
        .unwrap();
    reader.subscribe(&[events.as_str()]).unwrap();
    let next = || async {
        let m = tokio::time::timeout(Duration::from_secs(20), reader.recv()).await;
        let e = QueueEvent::from_json(m.ok()?.ok()?.payload()?).ok()?;
        assert_eq!(e.status, Some(EventStatus::Loading));
        assert_eq!(e.telemetry_id.as_deref(), Some("arango-candles__x"));
        Some((e.records_written?, e.message.unwrap_or_default()))
    };
    // Each step waits for its report before the count moves again (no timing to race).
    let checking = async {
        let mut total = 0;
        for n in [500, 1200, 1500] {
            stored.inc_by(n);
            total += n;
            assert_eq!(
                next().await.map(|e| e.0),
                Some(total),
                "the report of {total}"
            );
        }
        // Records held back (the lake's open directories) are said, with the count.
        held.set(700);
        let (n, message) = next().await.unwrap();
        assert_eq!(n, total);
        assert!(
            message.ends_with(
                "3200 records stored in ArangoDB, 700 held back until their directory is complete"
            ),
            "{message}"
        );
        held.set(0);
        let (n, message) = next().await.unwrap();
        assert_eq!(
            (n, message.as_str()),
            (total, "3200 records stored in ArangoDB")
        );
        // The store goes away: the retries are reported, with the count.
        retries.inc_by(3);
        let (n, message) = next().await.unwrap();
        assert_eq!(n, total);
        assert!(
            message.contains("unavailable, retrying (3 retries so far)"),
            "{message}"
        );
        // Nothing moves: no more reports.
        let quiet = tokio::time::timeout(Duration::from_millis(1500), reader.recv()).await;
        assert!(quiet.is_err(), "a report while the count stood still");
    };
    tokio::select! {
        () = checking => {}
        never = report_progress(&reporter, &stored, &retries, &held, "ArangoDB", Duration::from_millis(200)) => match never {},
    }
}
