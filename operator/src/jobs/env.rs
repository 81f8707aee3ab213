//! A worker's environment (pure): the contract's variable names with this run's values,
//! the endpoints and credentials (as required Secret references) of the stores its family uses, and the spec's optional fields from the
//! contract's table.

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector};
use streamforge_api::{Queue, Target, datatype, env, optional};

use super::{KAFKA_CA_DIR, Role, Worker};
use crate::config::WorkerDefaults;
use crate::reconcile::validate::Identity;

fn plain(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// A variable from a Secret key. The Secret must exist: a worker that needs credentials and
/// finds none does not start (the operator reports the missing Secret by name) instead of
/// running in plaintext or as ArangoDB's `root`. An empty Secret name in the configuration
/// means that store takes no credentials, and no variable is set.
fn secret(name: &str, secret_name: &str, key: &str) -> Option<EnvVar> {
    (!secret_name.is_empty()).then(|| EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret_name.into(),
                key: key.into(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
    })
}

/// The stores a worker family uses; it gets their endpoints and credentials, and no others.
fn uses_arango(target: Target) -> bool {
    matches!(target, Target::ArangoConnector | Target::GraphBuilder)
}

/// The lake's readers and writers: a graph type (graph-builder's program, also under
/// arango-connector) reads it, and a manual upload may read its file from it.
fn uses_lake(target: Target, data_type: &str) -> bool {
    matches!(
        target,
        Target::LakeConnector | Target::GraphBuilder | Target::GnnTrainer | Target::Visualizer
    ) || datatype::is_graph_type(data_type)
        || (target.is_loader() && data_type == datatype::MANUAL_UPLOAD)
}

pub(super) fn worker_env(
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
    ]);
    env.extend(secret(env::KAFKA_USER, &cfg.kafka_secret, "user"));
    env.extend(secret(env::KAFKA_PASSWORD, &cfg.kafka_secret, "password"));
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
    ]);
    if uses_arango(worker.target) {
        env.extend([
            plain(env::ARANGO_URL, &cfg.arango_url),
            plain(env::ARANGO_DB, &cfg.arango_db),
        ]);
        env.extend(secret(env::ARANGO_USER, &cfg.arango_secret, "user"));
        env.extend(secret(env::ARANGO_PASSWORD, &cfg.arango_secret, "password"));
    }
    if uses_lake(worker.target, &spec.data_type) {
        env.extend([
            plain(env::MINIO_ENDPOINT, &cfg.minio_endpoint),
            plain(env::MINIO_BUCKET, &cfg.minio_bucket),
        ]);
        env.extend(secret(
            env::MINIO_ACCESS_KEY,
            &cfg.minio_secret,
            "accessKey",
        ));
        env.extend(secret(
            env::MINIO_SECRET_KEY,
            &cfg.minio_secret,
            "secretKey",
        ));
    }
    env.extend(
        optional::set_fields(spec).map(|(field, value)| plain(field.env, value.env_value())),
    );
    env.extend(
        cfg.worker_extra_env
            .0
            .iter()
            .map(|(k, v)| plain(k, v.as_str())),
    );
    env
}
