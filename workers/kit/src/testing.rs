//! Helpers for tests of the operator and workers.

use crate::KafkaSettings;

/// Environment variable naming the real Kafka broker tests may use (`host:port`).
/// `scripts/test.sh` starts one (`e2e/kafka/start.sh`) and sets it.
pub const TEST_KAFKA: &str = "STREAMFORGE_TEST_KAFKA";

/// The real broker for tests, or `None` (with a note on stderr) when none is configured.
/// Under CI (`CI=true`) a missing broker is an error: those tests must run there.
pub fn real_kafka(test: &str) -> Option<KafkaSettings> {
    required_env(test, TEST_KAFKA, "a real broker").map(|addr| KafkaSettings::plaintext(&addr))
}

/// Environment variable naming the real S3 server tests may use (`http://host:port`);
/// `scripts/test.sh` starts MinIO (`e2e/minio/start.sh`) and sets it, with
/// `STREAMFORGE_TEST_S3_ACCESS_KEY` and `STREAMFORGE_TEST_S3_SECRET_KEY`.
pub const TEST_S3: &str = "STREAMFORGE_TEST_S3";
/// A Python interpreter with pyarrow, the independent Parquet reader (`e2e/lake/setup.sh`).
pub const TEST_PYTHON: &str = "STREAMFORGE_TEST_PYTHON";

/// The value of `var`, which `scripts/test.sh` sets to `what`, or `None` (with a note on
/// stderr) when it is unset. Under CI (`CI=true`) a missing value is an error: those tests must
/// run there.
pub fn required_env(test: &str, var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_owned()),
        _ => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "{test}: {var} is not set under CI; scripts/test.sh starts {what} and sets it"
            );
            eprintln!(
                "{test}: skipped, {var} is not set (run scripts/test.sh, which provides {what})"
            );
            None
        }
    }
}

/// A name no earlier run used, for topics on a broker that outlives test runs.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// An environment made of `pairs`, for the `from_lookup` constructors of worker settings.
pub fn env_lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let m: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| m.get(k).cloned()
}

/// The next message `consumer` delivers within `quiet`, or `None` once `quiet` has passed
/// without one. Errors the consumer reports meanwhile (a group still joining, a partition
/// leader still being elected) are printed and waited through: a reader that stopped at the
/// first one would take a passing error for the end of its topic.
pub async fn next_message<C>(
    consumer: &rdkafka::consumer::StreamConsumer<C>,
    quiet: std::time::Duration,
) -> Option<rdkafka::message::BorrowedMessage<'_>>
where
    C: rdkafka::consumer::ConsumerContext + 'static,
{
    let deadline = tokio::time::Instant::now() + quiet;
    loop {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(m)) => return Some(m),
            Ok(Err(e)) => {
                eprintln!("next_message: consumer error, waiting on: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(_) => return None,
        }
    }
}
