//! Logs of every worker: `tracing` to stderr, JSON lines when `LOG_FORMAT=json` (the operator
//! sets it on the Jobs it creates, so pod logs can be shipped as they are).

use streamforge_api::env::LOG_FORMAT;

/// Install the global subscriber; `RUST_LOG` filters, Kafka's chatter is kept to warnings.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rdkafka=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var(LOG_FORMAT).is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
