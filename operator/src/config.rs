//! Operator configuration: flags, each with an environment variable of the same meaning.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use k8s_openapi::api::core::v1::ResourceRequirements;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "streamforge-operator",
    version,
    about = "StreamForge Queue operator"
)]
pub struct Config {
    /// Do not run: wait until the operator's pods (RELEASE_OPERATOR_SELECTOR in POD_NAMESPACE)
    /// are gone, take the operator's finalizer off every Queue in scope, and exit. The chart's
    /// post-delete hook runs this when the operator is uninstalled.
    #[arg(long, env = "RELEASE_FINALIZERS", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub release_finalizers: bool,
    /// The operator's pods, by label selector, for --release-finalizers.
    #[arg(
        long,
        env = "RELEASE_OPERATOR_SELECTOR",
        default_value = "app.kubernetes.io/name=streamforge-operator"
    )]
    pub release_operator_selector: String,

    /// Namespace to watch; all namespaces when empty.
    #[arg(long, env = "WATCH_NAMESPACE", default_value = "")]
    pub watch_namespace: String,

    /// Address of the HTTP server for /metrics, /healthz and /readyz.
    #[arg(long, env = "HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,

    /// Log format: text or json.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    #[command(flatten)]
    pub workers: WorkerDefaults,

    /// Least time between two telemetry status writes to one Queue, in milliseconds.
    #[arg(long, env = "STATUS_MIN_INTERVAL_MS", default_value_t = 1000)]
    pub status_min_interval_ms: u64,

    /// How long deletion waits for `stop` to reach Kafka before giving up with a Warning event.
    #[arg(long, env = "STOP_GRACE_SECONDS", default_value_t = 60)]
    pub stop_grace_seconds: u64,

    /// Partitions of a data topic the operator makes before a Queue's Jobs.
    #[arg(long, env = "DATA_TOPIC_PARTITIONS", default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..))]
    pub data_topic_partitions: i32,
    /// Replication of a data topic the operator makes; -1: the broker's default.
    #[arg(long, env = "DATA_TOPIC_REPLICATION", default_value_t = -1, value_parser = parse_replication)]
    pub data_topic_replication: i32,

    /// Elect a leader among the operator's replicas on a Lease (needs POD_NAME and
    /// POD_NAMESPACE); off: this process leads alone.
    #[arg(long, env = "LEADER_ELECTION", default_value_t = false, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    #[arg(long, env = "LEADER_LEASE", default_value = "streamforge-operator")]
    pub leader_lease: String,
    /// How long the lead holds without renewal: a standby takes over within about this.
    #[arg(long, env = "LEASE_DURATION_SECONDS", default_value_t = 15)]
    pub lease_duration_seconds: u64,
    /// How long before its lease ends the leader renews it.
    #[arg(long, env = "LEASE_GRACE_SECONDS", default_value_t = 5)]
    pub lease_grace_seconds: u64,
    #[arg(long, env = "POD_NAME", default_value = "")]
    pub pod_name: String,
    #[arg(long, env = "POD_NAMESPACE", default_value = "")]
    pub pod_namespace: String,
}

/// A replication factor: at least 1, or -1 for the broker's default.
pub fn parse_replication(s: &str) -> Result<i32, String> {
    match s.trim().parse::<i32>() {
        Ok(n) if n == -1 || n >= 1 => Ok(n),
        _ => Err(format!(
            "{s:?} is not a replication factor (1 or more, or -1 for the broker's default)"
        )),
    }
}

/// Worker container resources by family (`default` for the rest).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkerResources(pub BTreeMap<String, ResourceRequirements>);

impl WorkerResources {
    /// The resources of `target`'s workers: its own entry, else `default`.
    pub fn for_target(&self, target: &str) -> Option<&ResourceRequirements> {
        self.0.get(target).or_else(|| self.0.get("default"))
    }
}

/// `WORKER_RESOURCES`: a JSON object of family → ResourceRequirements.
pub fn parse_resources(s: &str) -> Result<WorkerResources, String> {
    if s.trim().is_empty() {
        return Ok(WorkerResources::default());
    }
    let map: BTreeMap<String, ResourceRequirements> = serde_json::from_str(s)
        .map_err(|e| format!("not a JSON object of worker family to {{requests, limits}}: {e}"))?;
    for key in map.keys() {
        let target = serde_json::Value::String(key.clone());
        if key != "default" && serde_json::from_value::<streamforge_api::Target>(target).is_err() {
            return Err(format!(
                "{key:?} is neither a Queue target (e.g. gnn-trainer, lake-connector) nor \"default\""
            ));
        }
    }
    Ok(WorkerResources(map))
}

/// What every worker Job gets unless its Queue says otherwise.
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct WorkerDefaults {
    /// Registry (and path) of worker images: `<registry>/<family>:<tag>`.
    #[arg(long, env = "IMAGE_REGISTRY", default_value = "streamforge")]
    pub image_registry: String,
    /// Tag of worker images.
    #[arg(long, env = "IMAGE_TAG", default_value = env!("CARGO_PKG_VERSION"))]
    pub image_tag: String,
    #[arg(long, env = "IMAGE_PULL_POLICY", default_value = "IfNotPresent", value_parser = ["Always", "IfNotPresent", "Never"])]
    pub image_pull_policy: String,
    /// Image prefixes a Queue's `spec.image` may start with, comma-separated (e.g.
    /// `registry.example.com/streamforge/,registry.example.com/team-a/`); empty: only
    /// `<IMAGE_REGISTRY>/`, the operator's own image table.
    #[arg(
        long,
        env = "ALLOWED_IMAGES",
        default_value = "",
        value_delimiter = ','
    )]
    pub allowed_images: Vec<String>,
    /// Requests and limits of worker containers by family, as JSON: a Queue target (e.g.
    /// `gnn-trainer`, `lake-connector`) or `default` for the rest, each a Kubernetes
    /// ResourceRequirements. A Queue's `spec.pod.resources` replaces its main worker's.
    #[arg(long, env = "WORKER_RESOURCES", default_value = "", value_parser = parse_resources)]
    pub worker_resources: WorkerResources,

    /// Kafka bootstrap servers as workers reach them (defaults to the operator's).
    #[arg(long, env = "WORKER_KAFKA_BOOTSTRAP_SERVERS")]
    pub kafka_bootstrap_servers: Option<String>,
    /// Secret with `user` and `password` for SASL SCRAM (optional in the namespace).
    #[arg(long, env = "WORKER_KAFKA_SECRET", default_value = "streamforge-kafka")]
    pub kafka_secret: String,
    /// Secret with `ca.crt` for Kafka TLS, mounted into workers; none when empty.
    #[arg(long, env = "WORKER_KAFKA_CA_SECRET", default_value = "")]
    pub kafka_ca_secret: String,
    #[arg(long, env = "QUEUE_CONTROL_TOPIC", default_value = "queue-control")]
    pub control_topic: String,
    #[arg(long, env = "QUEUE_EVENTS_TOPIC", default_value = "queue-events")]
    pub events_topic: String,

    #[arg(long, env = "ARANGO_URL", default_value = "")]
    pub arango_url: String,
    #[arg(long, env = "ARANGO_DB", default_value = "streamforge")]
    pub arango_db: String,
    /// Secret with `user` and `password` for ArangoDB.
    #[arg(
        long,
        env = "WORKER_ARANGO_SECRET",
        default_value = "streamforge-arango"
    )]
    pub arango_secret: String,

    /// Mirror every Queue's status into the ArangoDB collection `status_mirror_collection`
    /// (ArangoDB at `ARANGO_URL`, credentials from `ARANGO_USER`/`ARANGO_PASSWORD`).
    #[arg(long, env = "STATUS_MIRROR", default_value_t = false)]
    pub status_mirror: bool,
    #[arg(long, env = "STATUS_MIRROR_COLLECTION", default_value = "queue_status")]
    pub status_mirror_collection: String,
    #[arg(long, env = "STATUS_MIRROR_INTERVAL_MS", default_value_t = 2_000)]
    pub status_mirror_interval_ms: u64,

    #[arg(long, env = "MINIO_ENDPOINT", default_value = "")]
    pub minio_endpoint: String,
    #[arg(long, env = "MINIO_BUCKET", default_value = "streamforge")]
    pub minio_bucket: String,
    /// Secret with `accessKey` and `secretKey` for MinIO/S3.
    #[arg(long, env = "WORKER_MINIO_SECRET", default_value = "streamforge-minio")]
    pub minio_secret: String,

    #[arg(long, env = "DEFAULT_BACKOFF_LIMIT", default_value_t = 3)]
    pub backoff_limit: i32,
    #[arg(
        long,
        env = "DEFAULT_TTL_SECONDS_AFTER_FINISHED",
        default_value_t = 86_400
    )]
    pub ttl_seconds_after_finished: i32,
    /// More environment for every worker Job, as `KEY=VALUE` pairs separated by commas (for
    /// example `BINANCE_BASE_URL=https://testnet.binance.vision`). Names the operator sets
    /// itself are refused, so a pair cannot change a worker's identity or run.
    #[arg(long, env = "WORKER_EXTRA_ENV", default_value = "", value_parser = parse_extra_env)]
    pub worker_extra_env: ExtraEnv,
    /// How long a run's pods may fail to start (an image that cannot be pulled, a pod refused
    /// by admission or quota, no node that fits) before the Queue fails with that reason.
    #[arg(long, env = "POD_START_TIMEOUT_SECONDS", default_value_t = 600)]
    pub pod_start_timeout_seconds: u64,
    /// Log format of worker pods (`LOG_FORMAT` on their Jobs): json or text.
    #[arg(long, env = "WORKER_LOG_FORMAT", default_value = "json", value_parser = ["text", "json"])]
    pub worker_log_format: String,
    /// Service account worker pods run as; the namespace default when empty.
    #[arg(long, env = "WORKER_SERVICE_ACCOUNT", default_value = "")]
    pub service_account: String,
}

/// `KEY=VALUE` pairs for every worker, in the order given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExtraEnv(pub Vec<(String, String)>);

/// Names the operator sets on every worker; extra environment may not replace them.
const RESERVED: [&str; 8] = [
    streamforge_api::env::QUEUE_ID,
    streamforge_api::env::TELEMETRY_PRODUCER_ID,
    streamforge_api::env::RUN,
    streamforge_api::env::TARGET,
    streamforge_api::env::TYPE,
    streamforge_api::env::SYMBOL,
    streamforge_api::env::KAFKA_TOPIC,
    streamforge_api::env::PRODUCER_TELEMETRY_ID,
];

pub fn parse_extra_env(s: &str) -> Result<ExtraEnv, String> {
    let mut out = vec![];
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not KEY=VALUE"))?;
        let k = k.trim();
        let valid = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!("{k:?} is not an environment variable name"));
        }
        if RESERVED.contains(&k) {
            return Err(format!(
                "{k} is set by the operator and cannot be overridden"
            ));
        }
        out.push((k.to_owned(), v.to_owned()));
    }
    Ok(ExtraEnv(out))
}

impl Config {
    pub fn status_min_interval(&self) -> Duration {
        Duration::from_millis(self.status_min_interval_ms)
    }
    pub fn stop_grace(&self) -> Duration {
        Duration::from_secs(self.stop_grace_seconds)
    }
    /// The election settings, checked; `None` when this process leads alone.
    pub fn election(
        &self,
    ) -> Result<Option<crate::leader::Election>, crate::leader::ElectionError> {
        if !self.leader_election {
            return Ok(None);
        }
        crate::leader::Election {
            lease: self.leader_lease.clone(),
            namespace: self.pod_namespace.clone(),
            identity: self.pod_name.clone(),
            duration: Duration::from_secs(self.lease_duration_seconds),
            grace: Duration::from_secs(self.lease_grace_seconds),
        }
        .checked()
        .map(Some)
    }
}

impl WorkerDefaults {
    /// Defaults for tests and examples.
    pub fn for_tests() -> Self {
        let cfg = Config::parse_from(["streamforge-operator"]);
        WorkerDefaults {
            kafka_bootstrap_servers: Some("kafka:9092".into()),
            arango_url: "http://arangodb:8529".into(),
            minio_endpoint: "http://minio:9000".into(),
            ..cfg.workers
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_resources_by_family_with_a_default() {
        let r = parse_resources(
            r#"{"default":{"requests":{"cpu":"50m","memory":"64Mi"}},"gnn-trainer":{"limits":{"memory":"4Gi"}}}"#,
        )
        .unwrap();
        let mem = |t: &str, kind: &str| {
            let rr = r.for_target(t).unwrap();
            let m = if kind == "limits" {
                &rr.limits
            } else {
                &rr.requests
            };
            m.as_ref().unwrap()["memory"].0.clone()
        };
        assert_eq!(mem("gnn-trainer", "limits"), "4Gi");
        assert_eq!(mem("lake-connector", "requests"), "64Mi");
        assert_eq!(parse_resources("").unwrap(), WorkerResources::default());
        let e = parse_resources(r#"{"gnn-traner":{}}"#).unwrap_err();
        assert!(
            e.contains("\"gnn-traner\" is neither a Queue target"),
            "{e}"
        );
        let e = parse_resources("cpu=1").unwrap_err();
        assert!(e.starts_with("not a JSON object"), "{e}");
    }

    #[test]
    fn data_topics_default_to_three_partitions_and_the_brokers_replication() {
        let cfg = Config::try_parse_from(["streamforge-operator"]).unwrap();
        assert_eq!(
            (cfg.data_topic_partitions, cfg.data_topic_replication),
            (3, -1)
        );
        let cfg = Config::try_parse_from([
            "streamforge-operator",
            "--data-topic-partitions=6",
            "--data-topic-replication=3",
        ])
        .unwrap();
        assert_eq!(
            (cfg.data_topic_partitions, cfg.data_topic_replication),
            (6, 3)
        );
        for bad in ["--data-topic-partitions=0", "--data-topic-replication=0"] {
            assert!(
                Config::try_parse_from(["streamforge-operator", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn extra_worker_environment_is_parsed_and_checked() {
        let e =
            parse_extra_env("BINANCE_BASE_URL=http://10.88.0.1:29400, WEIGHT_BUDGET=24").unwrap();
        assert_eq!(
            e.0,
            vec![
                (
                    "BINANCE_BASE_URL".to_owned(),
                    "http://10.88.0.1:29400".to_owned()
                ),
                ("WEIGHT_BUDGET".to_owned(), "24".to_owned())
            ]
        );
        assert_eq!(parse_extra_env("").unwrap(), ExtraEnv::default());
        assert!(
            parse_extra_env("NOEQUALS")
                .unwrap_err()
                .contains("KEY=VALUE")
        );
        assert!(parse_extra_env("1X=2").is_err());
        assert!(
            parse_extra_env("RUN=7")
                .unwrap_err()
                .contains("set by the operator")
        );
    }
}
