//! Build (pure): a Queue's workers for one run, their batch/v1 Jobs, and their commands.
//!
//! A run has one main worker and one companion Job per sink, all under the Queue's `queue_id`
//! and each with its own telemetry id. Jobs carry an owner reference to the Queue (so the
//! garbage collector removes them with it) and labels that tie them to the Queue and run.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{
    Job, JobSpec, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement,
    PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvVar, EnvVarSource, PodSpec, PodTemplateSpec, SeccompProfile,
    SecretKeySelector, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use streamforge_api::command::command_id;
use streamforge_api::exit::EXIT_PERMANENT;
use streamforge_api::{Command, ControlCommand, Queue, SinkKind, Target, env, naming, optional};

use crate::config::WorkerDefaults;
use crate::images;
use crate::reconcile::validate::Identity;

pub const LABEL_QUEUE: &str = "streamforge.io/queue";
pub const LABEL_QUEUE_UID: &str = "streamforge.io/queue-uid";
pub const LABEL_RUN: &str = "streamforge.io/run";
pub const LABEL_ROLE: &str = "streamforge.io/role";
pub const ANNOTATION_QUEUE_ID: &str = "streamforge.io/queue-id";
pub const ANNOTATION_TELEMETRY_ID: &str = "streamforge.io/telemetry-id";
pub const MANAGED_BY: &str = "streamforge-operator";
/// Where the Kafka CA bundle is mounted in worker pods when one is configured.
pub const KAFKA_CA_DIR: &str = "/etc/streamforge/kafka-ca";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Main,
    Sink(SinkKind),
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Main => "main",
            Role::Sink(kind) => kind.as_str(),
        }
    }
}

/// One worker of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Worker {
    pub role: Role,
    pub target: Target,
    pub telemetry_id: String,
    pub job_name: String,
    pub image: String,
}

/// The workers of `run`: the main one first, then one per sink in spec order.
pub fn workers(queue: &Queue, id: &Identity, run: u32, cfg: &WorkerDefaults) -> Vec<Worker> {
    let spec = &queue.spec;
    let main_image = spec.image.clone().unwrap_or_else(|| {
        images::image(
            &cfg.image_registry,
            images::family(spec.target, &spec.data_type),
            &cfg.image_tag,
        )
    });
    let mut out = vec![Worker {
        role: Role::Main,
        target: spec.target,
        telemetry_id: id.telemetry_id.clone(),
        job_name: naming::job_name(&id.name, &id.uid, None, run),
        image: main_image,
    }];
    for &kind in &spec.sinks {
        let target = kind.target();
        out.push(Worker {
            role: Role::Sink(kind),
            target,
            telemetry_id: naming::telemetry_id(target, &id.uid),
            job_name: naming::job_name(&id.name, &id.uid, Some(kind.as_str()), run),
            image: images::image(
                &cfg.image_registry,
                images::family(target, &spec.data_type),
                &cfg.image_tag,
            ),
        });
    }
    out
}

/// Labels that select every Job of a Queue (all runs).
pub fn queue_selector(uid: &str) -> String {
    format!("{LABEL_QUEUE_UID}={uid}")
}

fn labels(id: &Identity, worker: &Worker, run: u32) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".into(),
            worker.target.as_str().into(),
        ),
        ("app.kubernetes.io/part-of".into(), "streamforge".into()),
        ("app.kubernetes.io/managed-by".into(), MANAGED_BY.into()),
        (LABEL_QUEUE.into(), truncate_label(&id.name)),
        (LABEL_QUEUE_UID.into(), id.uid.clone()),
        (LABEL_RUN.into(), run.to_string()),
        (LABEL_ROLE.into(), worker.role.label().into()),
    ])
}

fn truncate_label(v: &str) -> String {
    v.chars()
        .take(naming::MAX_K8S_NAME)
        .collect::<String>()
        .trim_end_matches(['-', '.', '_'])
        .to_owned()
}

fn plain(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// A variable from a Secret key; optional, so a namespace without the Secret still runs
/// (plaintext Kafka, anonymous stores).
fn secret(name: &str, secret_name: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret_name.into(),
                key: key.into(),
                optional: Some(true),
            }),
            ..EnvVarSource::default()
        }),
    }
}

fn worker_env(
    queue: &Queue,
    id: &Identity,
    worker: &Worker,
    run: u32,
    cfg: &WorkerDefaults,
) -> Vec<EnvVar> {
    let spec = &queue.spec;
    let mut env = vec![
        plain(env::QUEUE_ID, &id.queue_id),
        plain(env::TARGET, worker.target.as_str()),
        plain(env::SYMBOL, &spec.symbol),
        plain(env::TYPE, &spec.data_type),
    ];
    if let Some(range) = &spec.time_range {
        env.push(plain(env::TIME_RANGE, range));
    }
    env.extend([
        plain(env::KAFKA_TOPIC, &id.kafka_topic),
        plain(env::COLLECTION_NAME, &id.collection_name),
        plain(env::TELEMETRY_PRODUCER_ID, &worker.telemetry_id),
        plain(env::RUN, run.to_string()),
        plain(env::LOG_FORMAT, &cfg.worker_log_format),
        plain(
            env::KAFKA_BOOTSTRAP_SERVERS,
            cfg.kafka_bootstrap_servers.clone().unwrap_or_default(),
        ),
        secret(env::KAFKA_USER, &cfg.kafka_secret, "user"),
        secret(env::KAFKA_PASSWORD, &cfg.kafka_secret, "password"),
    ]);
    if matches!(worker.role, Role::Sink(_)) {
        // A sink ends when this worker, the run's producer, says it finished.
        env.push(plain(env::PRODUCER_TELEMETRY_ID, &id.telemetry_id));
    }
    if !cfg.kafka_ca_secret.is_empty() {
        env.push(plain(env::CA_PATH, format!("{KAFKA_CA_DIR}/ca.crt")));
    }
    env.extend([
        plain(env::QUEUE_CONTROL_TOPIC, &cfg.control_topic),
        plain(env::QUEUE_EVENTS_TOPIC, &cfg.events_topic),
        plain(env::ARANGO_URL, &cfg.arango_url),
        plain(env::ARANGO_DB, &cfg.arango_db),
        secret(env::ARANGO_USER, &cfg.arango_secret, "user"),
        secret(env::ARANGO_PASSWORD, &cfg.arango_secret, "password"),
        plain(env::MINIO_ENDPOINT, &cfg.minio_endpoint),
        plain(env::MINIO_BUCKET, &cfg.minio_bucket),
        secret(env::MINIO_ACCESS_KEY, &cfg.minio_secret, "accessKey"),
        secret(env::MINIO_SECRET_KEY, &cfg.minio_secret, "secretKey"),
    ]);
    env.extend(
        optional::set_fields(spec).map(|(field, value)| plain(field.env, value.env_value())),
    );
    env
}

/// Fail the Job at once on [`EXIT_PERMANENT`]; do not count evictions and preemptions against
/// the backoff limit.
fn pod_failure_policy() -> PodFailurePolicy {
    PodFailurePolicy {
        rules: vec![
            PodFailurePolicyRule {
                action: "FailJob".into(),
                on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                    container_name: Some("worker".into()),
                    operator: "In".into(),
                    values: vec![i32::from(EXIT_PERMANENT)],
                }),
                on_pod_conditions: None,
            },
            PodFailurePolicyRule {
                action: "Ignore".into(),
                on_exit_codes: None,
                on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                    type_: "DisruptionTarget".into(),
                    status: "True".into(),
                }]),
            },
        ],
    }
}

/// The Job that runs `worker` in `run`.
pub fn build_job(
    queue: &Queue,
    id: &Identity,
    worker: &Worker,
    run: u32,
    cfg: &WorkerDefaults,
) -> Job {
    let spec = &queue.spec;
    let labels = labels(id, worker, run);
    let ca = (!cfg.kafka_ca_secret.is_empty()).then(|| {
        (
            Volume {
                name: "kafka-ca".into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(cfg.kafka_ca_secret.clone()),
                    optional: Some(true),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            },
            VolumeMount {
                name: "kafka-ca".into(),
                mount_path: KAFKA_CA_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
        )
    });
    let container = Container {
        name: "worker".into(),
        image: Some(worker.image.clone()),
        image_pull_policy: Some(cfg.image_pull_policy.clone()),
        env: Some(worker_env(queue, id, worker, run, cfg)),
        volume_mounts: ca.as_ref().map(|(_, m)| vec![m.clone()]),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: None,
            }),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                localhost_profile: None,
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(worker.job_name.clone()),
            namespace: Some(id.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(BTreeMap::from([
                (ANNOTATION_QUEUE_ID.into(), id.queue_id.clone()),
                (ANNOTATION_TELEMETRY_ID.into(), worker.telemetry_id.clone()),
            ])),
            owner_references: queue.controller_owner_ref(&()).map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(spec.backoff_limit.unwrap_or(cfg.backoff_limit)),
            ttl_seconds_after_finished: Some(
                spec.ttl_seconds_after_finished
                    .unwrap_or(cfg.ttl_seconds_after_finished),
            ),
            active_deadline_seconds: spec.active_deadline_seconds,
            pod_failure_policy: Some(pod_failure_policy()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![container],
                    volumes: ca.map(|(v, _)| vec![v]),
                    service_account_name: (!cfg.service_account.is_empty())
                        .then(|| cfg.service_account.clone()),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

/// The `command` for `worker` in `run`, stamped at `now` (seconds since the epoch).
pub fn command(
    queue: &Queue,
    id: &Identity,
    worker: &Worker,
    run: u32,
    command: Command,
    now: f64,
) -> ControlCommand {
    let spec = &queue.spec;
    let extra = optional::set_fields(spec)
        .map(|(field, value)| (field.key.to_owned(), value.json()))
        .collect();
    ControlCommand {
        command,
        queue_id: id.queue_id.clone(),
        target: worker.target.as_str().into(),
        symbol: spec.symbol.clone(),
        data_type: spec.data_type.clone(),
        time_range: spec.time_range.clone(),
        kafka_topic: Some(id.kafka_topic.clone()),
        collection_name: Some(id.collection_name.clone()),
        telemetry_id: worker.telemetry_id.clone(),
        image: Some(worker.image.clone()),
        timestamp: now,
        run,
        command_id: command_id(&id.queue_id, run, command, &worker.telemetry_id),
        extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{QueueExt, UID};
    use crate::reconcile::validate::validate;
    use streamforge_api::ModelType;

    fn env_of(job: &Job) -> BTreeMap<String, EnvVar> {
        job.spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .env
            .clone()
            .unwrap()
            .into_iter()
            .map(|e| (e.name.clone(), e))
            .collect()
    }

    fn value(env: &BTreeMap<String, EnvVar>, k: &str) -> String {
        env[k]
            .value
            .clone()
            .unwrap_or_else(|| panic!("{k} has no plain value"))
    }

    #[test]
    fn a_loader_with_sinks_gets_one_job_each() {
        let q = Queue::test().with_sinks(&[SinkKind::Arango, SinkKind::Lake]);
        let id = validate(&q).unwrap();
        let cfg = WorkerDefaults::for_tests();
        let ws = workers(&q, &id, 1, &cfg);
        let names: Vec<_> = ws
            .iter()
            .map(|w| {
                (
                    w.job_name.as_str(),
                    w.telemetry_id.as_str(),
                    w.image.as_str(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                (
                    "btc-candles-a1b2c3-r1",
                    "loader-producer__a1b2c3",
                    "streamforge/loader-api-candles:0.1.0"
                ),
                (
                    "btc-candles-a1b2c3-arango-r1",
                    "arango-connector__a1b2c3",
                    "streamforge/arango-candles:0.1.0"
                ),
                (
                    "btc-candles-a1b2c3-lake-r1",
                    "lake-connector__a1b2c3",
                    "streamforge/lake-connector:0.1.0"
                ),
            ]
        );
    }

    #[test]
    fn job_carries_owner_labels_env_and_limits() {
        let q = Queue::test();
        let id = validate(&q).unwrap();
        let cfg = WorkerDefaults::for_tests();
        let w = &workers(&q, &id, 2, &cfg)[0];
        let job = build_job(&q, &id, w, 2, &cfg);

        let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("Queue", UID, Some(true))
        );
        let labels = job.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[LABEL_QUEUE_UID], UID);
        assert_eq!(labels[LABEL_RUN], "2");
        assert_eq!(labels[LABEL_ROLE], "main");
        assert_eq!(
            job.metadata.annotations.as_ref().unwrap()[ANNOTATION_QUEUE_ID],
            id.queue_id
        );

        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(3));
        assert_eq!(spec.ttl_seconds_after_finished, Some(86_400));
        let rules = &spec.pod_failure_policy.as_ref().unwrap().rules;
        assert_eq!(rules[0].action, "FailJob");
        assert_eq!(
            rules[0].on_exit_codes.as_ref().unwrap().values,
            vec![i32::from(EXIT_PERMANENT)]
        );
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(
            spec.template
                .metadata
                .as_ref()
                .unwrap()
                .labels
                .as_ref()
                .unwrap()[LABEL_QUEUE_UID],
            UID
        );

        let env = env_of(&job);
        assert_eq!(
            value(&env, "QUEUE_ID"),
            "wf-btcusdt-api_candles_5m-20240801-a1b2c3"
        );
        assert_eq!(value(&env, "SYMBOL"), "BTCUSDT");
        assert_eq!(value(&env, "TYPE"), "api_candles_5m");
        assert_eq!(value(&env, "TIME_RANGE"), "2024-08-01:2024-08-02");
        assert_eq!(
            value(&env, "KAFKA_TOPIC"),
            "wf-btcusdt-api_candles_5m-20240801-a1b2c3-data"
        );
        assert_eq!(
            value(&env, "COLLECTION_NAME"),
            "btcusdt_api_candles_5m_2024_08_01"
        );
        assert_eq!(
            value(&env, "TELEMETRY_PRODUCER_ID"),
            "loader-producer__a1b2c3"
        );
        assert_eq!(value(&env, "KAFKA_BOOTSTRAP_SERVERS"), "kafka:9092");
        assert_eq!(value(&env, "QUEUE_CONTROL_TOPIC"), "queue-control");
        assert_eq!(value(&env, "QUEUE_EVENTS_TOPIC"), "queue-events");
        assert_eq!(value(&env, "RUN"), "2");
        assert!(!env.contains_key("CA_PATH"));
        assert!(!env.contains_key("EPOCHS"));
        // Every credential comes from a Secret, never a plain value.
        for k in [
            "KAFKA_USER",
            "KAFKA_PASSWORD",
            "ARANGO_USER",
            "ARANGO_PASSWORD",
            "MINIO_ACCESS_KEY",
            "MINIO_SECRET_KEY",
        ] {
            let e = &env[k];
            assert!(e.value.is_none(), "{k} must not be plain");
            let r = e
                .value_from
                .as_ref()
                .unwrap()
                .secret_key_ref
                .as_ref()
                .unwrap();
            assert_eq!(r.optional, Some(true));
        }
        assert_eq!(
            env["KAFKA_PASSWORD"]
                .value_from
                .as_ref()
                .unwrap()
                .secret_key_ref
                .as_ref()
                .unwrap()
                .name,
            "streamforge-kafka"
        );
    }

    #[test]
    fn spec_overrides_image_limits_and_adds_trainer_env() {
        let mut q = Queue::test()
            .with_type(Target::GnnTrainer, "gnn_trainer")
            .without_range();
        q.spec.image = Some("my/trainer:dev".into());
        q.spec.backoff_limit = Some(0);
        q.spec.ttl_seconds_after_finished = Some(60);
        q.spec.epochs = Some(10);
        q.spec.model_type = Some(ModelType::Gat);
        q.spec.features = vec!["RSI".into(), "VWAP".into()];
        let id = validate(&q).unwrap();
        let mut cfg = WorkerDefaults::for_tests();
        cfg.kafka_ca_secret = "kafka-ca".into();
        let w = &workers(&q, &id, 1, &cfg)[0];
        let job = build_job(&q, &id, w, 1, &cfg);
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(0));
        assert_eq!(spec.ttl_seconds_after_finished, Some(60));
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.containers[0].image.as_deref(), Some("my/trainer:dev"));
        assert_eq!(
            pod.volumes.as_ref().unwrap()[0]
                .secret
                .as_ref()
                .unwrap()
                .secret_name
                .as_deref(),
            Some("kafka-ca")
        );
        let env = env_of(&job);
        assert_eq!(value(&env, "EPOCHS"), "10");
        assert_eq!(value(&env, "MODEL_TYPE"), "GAT");
        assert_eq!(value(&env, "FEATURES"), "RSI,VWAP");
        assert_eq!(value(&env, "GRAPH_NAME"), "btc_graph");
        assert_eq!(value(&env, "CA_PATH"), "/etc/streamforge/kafka-ca/ca.crt");
        assert!(!env.contains_key("TIME_RANGE"));
    }

    #[test]
    fn commands_match_the_wire_contract() {
        let q = Queue::test().with_sinks(&[SinkKind::Arango]);
        let id = validate(&q).unwrap();
        let cfg = WorkerDefaults::for_tests();
        let ws = workers(&q, &id, 1, &cfg);
        let start = command(&q, &id, &ws[1], 1, Command::Start, 1722500000.5);
        let wire: serde_json::Value = serde_json::from_slice(&start.to_json()).unwrap();
        assert_eq!(wire["command"], "start");
        assert_eq!(
            wire["queue_id"],
            "wf-btcusdt-api_candles_5m-20240801-a1b2c3"
        );
        assert_eq!(wire["target"], "arango-connector");
        assert_eq!(wire["type"], "api_candles_5m");
        assert_eq!(wire["time_range"], "2024-08-01:2024-08-02");
        assert_eq!(
            wire["kafka_topic"],
            "wf-btcusdt-api_candles_5m-20240801-a1b2c3-data"
        );
        assert_eq!(wire["collection_name"], "btcusdt_api_candles_5m_2024_08_01");
        assert_eq!(wire["telemetry_id"], "arango-connector__a1b2c3");
        assert_eq!(wire["timestamp"], 1722500000.5);
        assert_eq!(
            wire["command_id"],
            "wf-btcusdt-api_candles_5m-20240801-a1b2c3/1/start/arango-connector__a1b2c3"
        );
    }
}
