//! Prometheus metrics of the operator. Labels come from small fixed sets, never from object
//! names or error text.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub reconciles: IntCounter,
    pub reconcile_errors: IntCounterVec,
    pub reconcile_duration: Histogram,
    pub events: IntCounterVec,
    pub status_patches: IntCounterVec,
    pub kafka_errors: IntCounterVec,
    pub commands: IntCounterVec,
    pub telemetry_latency: Histogram,
    pub telemetry_write: Histogram,
}

/// `outcome` label values of `streamforge_telemetry_events_total`.
pub mod outcome {
    pub const FOLDED: &str = "folded";
    pub const MALFORMED: &str = "malformed";
    pub const UNKNOWN_QUEUE: &str = "unknown_queue";
    pub const STALE: &str = "stale";
    pub const ANONYMOUS: &str = "anonymous";
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("streamforge".into()), None)?;
        let m = Self {
            reconciles: IntCounter::new("reconciles_total", "Reconciliations run")?,
            reconcile_errors: IntCounterVec::new(
                Opts::new(
                    "reconcile_errors_total",
                    "Reconciliations that failed, by category",
                ),
                &["category"],
            )?,
            reconcile_duration: Histogram::with_opts(
                HistogramOpts::new("reconcile_duration_seconds", "Time one reconciliation took")
                    .buckets(vec![0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0]),
            )?,
            events: IntCounterVec::new(
                Opts::new(
                    "telemetry_events_total",
                    "queue-events messages consumed, by outcome",
                ),
                &["outcome"],
            )?,
            status_patches: IntCounterVec::new(
                Opts::new(
                    "status_patches_total",
                    "Queue status writes, by writer and result",
                ),
                &["writer", "result"],
            )?,
            kafka_errors: IntCounterVec::new(
                Opts::new("kafka_errors_total", "Kafka errors, by operation"),
                &["op"],
            )?,
            commands: IntCounterVec::new(
                Opts::new(
                    "commands_published_total",
                    "Commands delivered to queue-control",
                ),
                &["command"],
            )?,
            telemetry_latency: Histogram::with_opts(
                HistogramOpts::new(
                    "telemetry_status_latency_seconds",
                    "From consuming a Queue's oldest unwritten event to its status write",
                )
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0]),
            )?,
            telemetry_write: Histogram::with_opts(
                HistogramOpts::new(
                    "telemetry_status_write_seconds",
                    "One telemetry status write, request to answer",
                )
                .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0]),
            )?,
            registry,
        };
        m.registry.register(Box::new(m.reconciles.clone()))?;
        m.registry.register(Box::new(m.reconcile_errors.clone()))?;
        m.registry
            .register(Box::new(m.reconcile_duration.clone()))?;
        m.registry.register(Box::new(m.events.clone()))?;
        m.registry.register(Box::new(m.status_patches.clone()))?;
        m.registry.register(Box::new(m.kafka_errors.clone()))?;
        m.registry.register(Box::new(m.commands.clone()))?;
        m.registry.register(Box::new(m.telemetry_latency.clone()))?;
        m.registry.register(Box::new(m.telemetry_write.clone()))?;
        Ok(m)
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        use prometheus::Encoder;
        let mut buf = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
