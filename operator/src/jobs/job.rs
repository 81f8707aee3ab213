//! A worker's batch/v1 Job (pure): labels and annotations that tie it to its Queue and run, an
//! owner reference for garbage collection, limits, the pod failure policy and a locked-down pod.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{
    Job, JobSpec, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement,
    PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, PodSecurityContext, PodSpec,
    PodTemplateSpec, SeccompProfile, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use streamforge_api::exit::EXIT_PERMANENT;
use streamforge_api::{Queue, naming};

use super::env::worker_env;
use super::{
    ANNOTATION_QUEUE_ID, ANNOTATION_TELEMETRY_ID, KAFKA_CA_DIR, LABEL_QUEUE, LABEL_QUEUE_UID,
    LABEL_ROLE, LABEL_RUN, MANAGED_BY, Worker,
};
use crate::config::WorkerDefaults;
use crate::reconcile::validate::Identity;

/// The user and group worker containers run as (the images' own, `images/Dockerfile`).
pub const WORKER_UID: i64 = 65532;
/// The port every worker serves `/metrics` on (the worker kit's default `METRICS_ADDR`), declared
/// on the container as `metrics` so that a PodMonitor can select it by name.
pub const WORKER_METRICS_PORT: i32 = 9102;
pub const WORKER_METRICS_PORT_NAME: &str = "metrics";

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
    let overrides = spec.pod.as_ref();
    // The root filesystem is read-only; /tmp (the images' working directory) is the one place
    // a worker writes: checkpoints, report files, spill.
    let mut volumes = vec![Volume {
        name: "tmp".into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }];
    let mut mounts = vec![VolumeMount {
        name: "tmp".into(),
        mount_path: "/tmp".into(),
        ..VolumeMount::default()
    }];
    if !cfg.kafka_ca_secret.is_empty() {
        volumes.push(Volume {
            name: "kafka-ca".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(cfg.kafka_ca_secret.clone()),
                optional: Some(true),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: "kafka-ca".into(),
            mount_path: KAFKA_CA_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    let container = Container {
        name: "worker".into(),
        image: Some(worker.image.clone()),
        image_pull_policy: Some(cfg.image_pull_policy.clone()),
        env: Some(worker_env(queue, id, worker, run, cfg)),
        ports: Some(vec![ContainerPort {
            name: Some(WORKER_METRICS_PORT_NAME.into()),
            container_port: WORKER_METRICS_PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        volume_mounts: Some(mounts),
        resources: overrides
            .and_then(|p| p.resources.clone())
            .filter(|_| worker.role == super::Role::Main)
            .or_else(|| {
                cfg.worker_resources
                    .for_target(worker.target.as_str())
                    .cloned()
            }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
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
    let with_account = !cfg.service_account.is_empty();
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
                    volumes: Some(volumes),
                    // The `restricted` Pod Security Standard: a non-root user (the images'
                    // 65532, also for an image that names none), the runtime's seccomp profile.
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(WORKER_UID),
                        run_as_group: Some(WORKER_UID),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            localhost_profile: None,
                        }),
                        ..PodSecurityContext::default()
                    }),
                    // Workers do not call the Kubernetes API; a token is mounted only for a
                    // service account the operator's configuration names.
                    automount_service_account_token: Some(with_account),
                    node_selector: overrides
                        .map(|p| p.node_selector.clone())
                        .filter(|n| !n.is_empty()),
                    tolerations: overrides
                        .map(|p| p.tolerations.clone())
                        .filter(|t| !t.is_empty()),
                    image_pull_secrets: overrides
                        .map(|p| p.image_pull_secrets.clone())
                        .filter(|s| !s.is_empty()),
                    service_account_name: with_account.then(|| cfg.service_account.clone()),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{QueueExt, UID};
    use crate::jobs::workers;
    use crate::reconcile::validate::validate;
    use k8s_openapi::api::core::v1::EnvVar;
    use streamforge_api::{ModelType, Target};

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
        // A loader talks to Kafka only: no store's endpoint or credentials.
        for k in [
            "ARANGO_URL",
            "ARANGO_USER",
            "MINIO_ENDPOINT",
            "MINIO_SECRET_KEY",
        ] {
            assert!(!env.contains_key(k), "a loader got {k}");
        }
    }

    /// Secret references of `env`: variable → (Secret, optional).
    fn secrets(env: &BTreeMap<String, EnvVar>) -> BTreeMap<String, (String, Option<bool>)> {
        env.iter()
            .filter_map(|(k, e)| {
                assert!(
                    e.value.is_none() || !k.contains("PASSWORD"),
                    "{k} must not be plain"
                );
                let r = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
                Some((k.clone(), (r.name.clone(), r.optional)))
            })
            .collect()
    }

    #[test]
    fn each_family_gets_the_secrets_it_uses_and_they_must_exist() {
        use streamforge_api::SinkKind;
        let q = Queue::test().with_sinks(&[SinkKind::Arango, SinkKind::Lake]);
        let id = validate(&q).unwrap();
        let cfg = WorkerDefaults::for_tests();
        let ws = workers(&q, &id, 1, &cfg);
        let required = |s: &str| (s.to_owned(), Some(false));
        let kafka = [
            ("KAFKA_USER".to_owned(), required("streamforge-kafka")),
            ("KAFKA_PASSWORD".to_owned(), required("streamforge-kafka")),
        ];
        let of = |i: usize| secrets(&env_of(&build_job(&q, &id, &ws[i], 1, &cfg)));
        // The loader, the ArangoDB sink, the lake sink.
        assert_eq!(of(0), BTreeMap::from(kafka.clone()));
        let mut arango = BTreeMap::from(kafka.clone());
        arango.insert("ARANGO_USER".into(), required("streamforge-arango"));
        arango.insert("ARANGO_PASSWORD".into(), required("streamforge-arango"));
        assert_eq!(of(1), arango);
        let mut lake = BTreeMap::from(kafka.clone());
        lake.insert("MINIO_ACCESS_KEY".into(), required("streamforge-minio"));
        lake.insert("MINIO_SECRET_KEY".into(), required("streamforge-minio"));
        assert_eq!(of(2), lake);

        // An empty Secret name: that store takes no credentials, explicitly.
        let mut cfg = WorkerDefaults::for_tests();
        cfg.kafka_secret = String::new();
        cfg.arango_secret = String::new();
        let env = env_of(&build_job(&q, &id, &ws[1], 1, &cfg));
        assert!(secrets(&env).is_empty());
        assert_eq!(value(&env, "ARANGO_URL"), "http://arangodb:8529");
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
            pod.volumes.as_ref().unwrap()[1]
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
    fn worker_pods_meet_the_restricted_pod_security_standard() {
        let q = Queue::test();
        let id = validate(&q).unwrap();
        let mut cfg = WorkerDefaults::for_tests();
        for account in ["", "streamforge-worker"] {
            cfg.service_account = account.into();
            let w = &workers(&q, &id, 1, &cfg)[0];
            let job = build_job(&q, &id, w, 1, &cfg);
            let pod = job.spec.unwrap().template.spec.unwrap();
            let sc = pod.security_context.as_ref().unwrap();
            assert_eq!(sc.run_as_non_root, Some(true));
            assert_eq!(sc.run_as_user, Some(WORKER_UID));
            assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
            let c = &pod.containers[0];
            let csc = c.security_context.as_ref().unwrap();
            assert_eq!(csc.allow_privilege_escalation, Some(false));
            assert_eq!(csc.read_only_root_filesystem, Some(true));
            assert_eq!(
                csc.capabilities.as_ref().unwrap().drop.as_deref(),
                Some(&["ALL".to_owned()][..])
            );
            // The one writable place, /tmp, is an emptyDir.
            let tmp = c
                .volume_mounts
                .iter()
                .flatten()
                .find(|m| m.mount_path == "/tmp")
                .unwrap();
            let vol = pod
                .volumes
                .iter()
                .flatten()
                .find(|v| v.name == tmp.name)
                .unwrap();
            assert!(vol.empty_dir.is_some());
            // No API token unless the configuration names an account for workers.
            assert_eq!(
                pod.automount_service_account_token,
                Some(!account.is_empty())
            );
            assert_eq!(pod.service_account_name.as_deref().unwrap_or(""), account);
        }
    }

    #[test]
    fn every_worker_declares_its_metrics_port() {
        use streamforge_api::SinkKind;
        let q = Queue::test().with_sinks(&[SinkKind::Arango, SinkKind::Lake]);
        let id = validate(&q).unwrap();
        let cfg = WorkerDefaults::for_tests();
        let ws = workers(&q, &id, 1, &cfg);
        assert_eq!(ws.len(), 3);
        for w in &ws {
            let job = build_job(&q, &id, w, 1, &cfg);
            let pod = job.spec.unwrap().template.spec.unwrap();
            let ports = pod.containers[0].ports.clone().unwrap();
            assert_eq!(ports.len(), 1, "{}", w.job_name);
            assert_eq!(ports[0].name.as_deref(), Some("metrics"));
            assert_eq!(ports[0].container_port, 9102);
            assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
            // The worker kit serves on the same port by default.
            assert!(streamforge_kit::metrics_server::DEFAULT_ADDR.ends_with(":9102"));
        }
    }

    #[test]
    fn resources_come_from_the_family_and_placement_from_the_queue() {
        use k8s_openapi::api::core::v1::{LocalObjectReference, ResourceRequirements, Toleration};
        use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
        use streamforge_api::{PodOverrides, SinkKind};
        let req = |cpu: &str| ResourceRequirements {
            requests: Some(BTreeMap::from([("cpu".to_owned(), Quantity(cpu.into()))])),
            ..ResourceRequirements::default()
        };
        let mut cfg = WorkerDefaults::for_tests();
        cfg.worker_resources = crate::config::WorkerResources(BTreeMap::from([
            ("default".to_owned(), req("50m")),
            ("lake-connector".to_owned(), req("200m")),
        ]));
        let mut q = Queue::test().with_sinks(&[SinkKind::Lake]);
        let id = validate(&q).unwrap();
        let cpu = |job: &Job| {
            let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
            pod.containers[0]
                .resources
                .as_ref()
                .unwrap()
                .requests
                .as_ref()
                .unwrap()["cpu"]
                .0
                .clone()
        };
        let ws = workers(&q, &id, 1, &cfg);
        assert_eq!(cpu(&build_job(&q, &id, &ws[0], 1, &cfg)), "50m");
        assert_eq!(cpu(&build_job(&q, &id, &ws[1], 1, &cfg)), "200m");

        // The Queue's own resources are its main worker's; placement is every pod's.
        q.spec.pod = Some(PodOverrides {
            resources: Some(req("2")),
            node_selector: BTreeMap::from([("pool".to_owned(), "gpu".to_owned())]),
            tolerations: vec![Toleration {
                key: Some("nvidia.com/gpu".into()),
                operator: Some("Exists".into()),
                effect: Some("NoSchedule".into()),
                ..Toleration::default()
            }],
            image_pull_secrets: vec![LocalObjectReference {
                name: "regcred".into(),
            }],
        });
        let main = build_job(&q, &id, &ws[0], 1, &cfg);
        let sink = build_job(&q, &id, &ws[1], 1, &cfg);
        assert_eq!(cpu(&main), "2");
        assert_eq!(cpu(&sink), "200m");
        for job in [&main, &sink] {
            let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
            assert_eq!(pod.node_selector.as_ref().unwrap()["pool"], "gpu");
            assert_eq!(pod.tolerations.as_ref().unwrap().len(), 1);
            assert_eq!(pod.image_pull_secrets.as_ref().unwrap()[0].name, "regcred");
        }
    }

    #[test]
    fn extra_worker_env_comes_last_as_given() {
        let q = Queue::test();
        let id = validate(&q).unwrap();
        let mut cfg = WorkerDefaults::for_tests();
        cfg.worker_extra_env =
            crate::config::ExtraEnv(vec![("BINANCE_REST_URL".into(), "http://sim:8080".into())]);
        let w = &workers(&q, &id, 1, &cfg)[0];
        let job = build_job(&q, &id, w, 1, &cfg);
        let env = env_of(&job);
        assert_eq!(value(&env, "BINANCE_REST_URL"), "http://sim:8080");
    }
}
