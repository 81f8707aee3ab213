//! Test fixtures: Queues and Jobs in the states the reconciler and folder meet.
//!
//! `Queue::test().with_type(..).suspended().finalized()` reads like the scenario it sets up.

use chrono::{TimeZone, Utc};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use streamforge_api::{Phase, Queue, QueueSpec, QueueStatus, SinkKind, Target};

pub const UID: &str = "a1b2c3d4-1111-4222-8333-444455556666";
pub const NAMESPACE: &str = "default";
pub const NAME: &str = "btc-candles";
pub const FINALIZER: &str = crate::reconcile::FINALIZER;

pub trait QueueExt: Sized {
    fn test() -> Self;
    fn with_type(self, target: Target, data_type: &str) -> Self;
    fn without_range(self) -> Self;
    fn with_sinks(self, sinks: &[SinkKind]) -> Self;
    fn finalized(self) -> Self;
    fn suspended(self) -> Self;
    fn deleting(self) -> Self;
    fn with_status(self, status: QueueStatus) -> Self;
    fn in_phase(self, phase: Phase, run: u32, start_sent: bool) -> Self;
}

impl QueueExt for Queue {
    fn test() -> Self {
        let mut q = Queue::new(
            NAME,
            QueueSpec {
                target: Target::LoaderProducer,
                data_type: "api_candles_5m".into(),
                symbol: "BTCUSDT".into(),
                time_range: Some("2024-08-01:2024-08-02".into()),
                image: None,
                sinks: vec![],
                suspend: false,
                kafka_topic: None,
                collection_name: None,
                graph_name: None,
                symbols: vec![],
                source_type: None,
                graph_source: None,
                label_horizon: None,
                correlation_window: None,
                correlation_threshold: None,
                epochs: None,
                model_type: None,
                features: vec![],
                label: None,
                loss_fn: None,
                learning_rate: None,
                hidden_size: None,
                after: vec![],
                output_type: None,
                output_path: None,
                backoff_limit: None,
                ttl_seconds_after_finished: None,
                active_deadline_seconds: None,
                source: None,
                snapshot_interval_seconds: None,
                depth_limit: None,
                pod: None,
            },
        );
        q.metadata = ObjectMeta {
            name: Some(NAME.into()),
            namespace: Some(NAMESPACE.into()),
            uid: Some(UID.into()),
            generation: Some(1),
            resource_version: Some("100".into()),
            creation_timestamp: Some(crate::time::from_chrono(
                Utc.with_ymd_and_hms(2024, 8, 5, 12, 0, 0).unwrap(),
            )),
            ..ObjectMeta::default()
        };
        q
    }

    fn with_type(mut self, target: Target, data_type: &str) -> Self {
        self.spec.target = target;
        self.spec.data_type = data_type.into();
        if target == Target::GnnTrainer {
            self.spec.graph_name = Some("btc_graph".into());
        }
        self
    }

    fn without_range(mut self) -> Self {
        self.spec.time_range = None;
        self
    }

    fn with_sinks(mut self, sinks: &[SinkKind]) -> Self {
        self.spec.sinks = sinks.to_vec();
        self
    }

    fn finalized(mut self) -> Self {
        self.metadata.finalizers = Some(vec![FINALIZER.into()]);
        self
    }

    fn suspended(mut self) -> Self {
        self.spec.suspend = true;
        self
    }

    fn deleting(mut self) -> Self {
        self.metadata.deletion_timestamp = Some(crate::time::now());
        self
    }

    fn with_status(mut self, status: QueueStatus) -> Self {
        self.status = Some(status);
        self
    }

    fn in_phase(self, phase: Phase, run: u32, start_sent: bool) -> Self {
        let id = crate::reconcile::validate::validate(&self).ok();
        self.with_status(QueueStatus {
            phase: Some(phase),
            run: Some(run),
            start_sent_run: start_sent.then_some(run),
            queue_id: id.as_ref().map(|i| i.queue_id.clone()),
            telemetry_id: id.as_ref().map(|i| i.telemetry_id.clone()),
            started_at: start_sent.then(crate::time::now),
            ..QueueStatus::default()
        })
    }
}

/// A Job in one of the states the reconciler maps to a phase.
pub fn job_with(name: &str, active: i32, condition: Option<(&str, &str, &str)>) -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        spec: None,
        status: Some(JobStatus {
            active: Some(active),
            conditions: condition.map(|(type_, reason, message)| {
                vec![JobCondition {
                    type_: type_.into(),
                    status: "True".into(),
                    reason: Some(reason.into()),
                    message: Some(message.into()),
                    ..JobCondition::default()
                }]
            }),
            ..JobStatus::default()
        }),
    }
}
