//! Prometheus metrics of the operator. Labels come from small fixed sets, never from object
//! names or error text.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::runtime::reflector::Store;
use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use streamforge_api::{Phase, Queue};

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
    /// Queues in the operator's cache, by `status.phase`.
    pub queues: IntGaugeVec,
    /// 1, labelled with the operator's version.
    pub build_info: IntGaugeVec,
}

/// `phase` label of `streamforge_queues` for a Queue that has no phase yet (not reconciled).
pub const NO_PHASE: &str = "Unknown";

/// Every `phase` label value of `streamforge_queues`: each is exported, 0 when no Queue has it.
pub const PHASES: [&str; 7] = [
    "Pending",
    "Waiting",
    "Running",
    "Succeeded",
    "Failed",
    "Stopped",
    NO_PHASE,
];

/// `category` values of `streamforge_reconcile_errors_total` (`Error::category`), exported at 0
/// from the start so that a rate over them exists before the first error.
pub const RECONCILE_ERROR_CATEGORIES: [&str; 6] =
    ["jobs", "conflict", "queues", "status", "kafka", "finalizer"];

/// `writer` × `result` of `streamforge_status_patches_total`, exported at 0 from the start.
pub const STATUS_PATCH_LABELS: [(&str, &str); 5] = [
    ("reconciler", "ok"),
    ("reconciler", "error"),
    ("telemetry", "ok"),
    ("telemetry", "refused"),
    ("telemetry", "error"),
];

/// Queues by phase label, every phase present.
pub fn count_phases<'a>(
    queues: impl IntoIterator<Item = &'a Queue>,
) -> BTreeMap<&'static str, i64> {
    let mut counts: BTreeMap<&'static str, i64> = PHASES.iter().map(|p| (*p, 0)).collect();
    for q in queues {
        let phase = q
            .status
            .as_ref()
            .and_then(|s| s.phase)
            .map_or(NO_PHASE, Phase::as_str);
        *counts.entry(phase).or_default() += 1;
    }
    counts
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
            queues: IntGaugeVec::new(
                Opts::new("queues", "Queues in the operator's cache, by status.phase"),
                &["phase"],
            )?,
            build_info: IntGaugeVec::new(
                Opts::new(
                    "operator_build_info",
                    "1, labelled with the operator's version",
                ),
                &["version"],
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
        m.registry.register(Box::new(m.queues.clone()))?;
        m.registry.register(Box::new(m.build_info.clone()))?;
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for c in RECONCILE_ERROR_CATEGORIES {
            m.reconcile_errors.with_label_values(&[c]);
        }
        for (writer, result) in STATUS_PATCH_LABELS {
            m.status_patches.with_label_values(&[writer, result]);
        }
        m.set_queues(&count_phases([]));
        Ok(m)
    }

    /// Set `streamforge_queues` from [`count_phases`].
    pub fn set_queues(&self, counts: &BTreeMap<&'static str, i64>) {
        for (phase, n) in counts {
            self.queues.with_label_values(&[phase]).set(*n);
        }
    }

    /// The text exposition of every metric, and of the process (`process_*`: CPU, memory, open
    /// files, from the default registry's process collector on Linux).
    pub fn render(&self) -> String {
        use prometheus::Encoder;
        let mut families = self.registry.gather();
        families.extend(prometheus::gather());
        let mut buf = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&families, &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Count the Queues of the controller's cache by phase every `every`, for `streamforge_queues`.
pub async fn count_queues(store: Store<Queue>, metrics: Metrics, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let queues = store.state();
        metrics.set_queues(&count_phases(queues.iter().map(|q| q.as_ref())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::QueueExt;
    use streamforge_api::QueueStatus;

    fn with_phase(phase: Option<Phase>) -> Queue {
        let mut q = Queue::test();
        q.status = phase.map(|p| QueueStatus {
            phase: Some(p),
            ..QueueStatus::default()
        });
        q
    }

    #[test]
    fn queues_are_counted_by_phase_with_every_phase_present() {
        let qs = [
            with_phase(Some(Phase::Running)),
            with_phase(Some(Phase::Running)),
            with_phase(Some(Phase::Failed)),
            with_phase(None),
        ];
        let counts = count_phases(&qs);
        assert_eq!(counts.len(), PHASES.len());
        assert_eq!(counts["Running"], 2);
        assert_eq!(counts["Failed"], 1);
        assert_eq!(counts[NO_PHASE], 1);
        assert_eq!(counts["Succeeded"], 0);
        for p in [
            Phase::Pending,
            Phase::Waiting,
            Phase::Running,
            Phase::Succeeded,
            Phase::Failed,
            Phase::Stopped,
        ] {
            assert!(PHASES.contains(&p.as_str()), "{p:?}");
        }

        let m = Metrics::new().unwrap();
        m.set_queues(&counts);
        let text = m.render();
        assert!(
            text.contains(r#"streamforge_queues{phase="Running"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"streamforge_queues{phase="Pending"} 0"#),
            "{text}"
        );
        // A later count replaces the earlier one.
        m.set_queues(&count_phases([]));
        assert!(
            m.render()
                .contains(r#"streamforge_queues{phase="Running"} 0"#)
        );
    }

    #[test]
    fn build_info_and_zeroed_series_are_there_from_the_start() {
        let m = Metrics::new().unwrap();
        let text = m.render();
        let version = env!("CARGO_PKG_VERSION");
        assert!(
            text.contains(&format!(
                r#"streamforge_operator_build_info{{version="{version}"}} 1"#
            )),
            "{text}"
        );
        for c in RECONCILE_ERROR_CATEGORIES {
            assert!(
                text.contains(&format!(
                    r#"streamforge_reconcile_errors_total{{category="{c}"}} 0"#
                )),
                "{text}"
            );
        }
        assert!(
            text.contains(r#"streamforge_status_patches_total{result="ok",writer="reconciler"} 0"#),
            "{text}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn process_metrics_are_served() {
        let text = Metrics::new().unwrap().render();
        assert!(text.contains("process_cpu_seconds_total"), "{text}");
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
    }
}
