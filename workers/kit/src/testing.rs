//! Helpers for tests of the operator and workers.

use crate::KafkaSettings;

/// Environment variable naming the real Kafka broker tests may use (`host:port`).
/// `scripts/test.sh` starts one (`e2e/kafka/start.sh`) and sets it.
pub const TEST_KAFKA: &str = "STREAMFORGE_TEST_KAFKA";

/// The real broker for tests, or `None` (with a note on stderr) when none is configured.
/// Under CI (`CI=true`) a missing broker is an error: those tests must run there.
pub fn real_kafka(test: &str) -> Option<KafkaSettings> {
    match std::env::var(TEST_KAFKA) {
        Ok(addr) if !addr.trim().is_empty() => Some(KafkaSettings::plaintext(addr.trim())),
        _ => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "{test}: {TEST_KAFKA} is not set under CI; scripts/test.sh starts a broker and sets it"
            );
            eprintln!(
                "{test}: skipped, {TEST_KAFKA} is not set (run scripts/test.sh, which starts a real broker)"
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
