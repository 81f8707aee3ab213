//! Helpers for the end-to-end scenarios: the cluster (`kubectl` of the platform and a kube
//! client), the platform's Kafka broker, and waiting for conditions with a deadline.
//!
//! The suite runs when `STREAMFORGE_E2E_KUBECONFIG` is set (`e2e/run.sh` brings the platform
//! up, deploys the operator from `manifests/` and sets it); under CI it must be set.

pub mod argocd;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use streamforge_api::{Command as Cmd, ControlCommand, Phase, Queue};
use streamforge_kit::KafkaSettings;

pub struct Env {
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
    pub kafka: String,
    pub repo: PathBuf,
    pub namespace: String,
}

impl Env {
    /// The platform, or `None` when the suite is not asked to run (never under CI).
    pub fn from_env(test: &str) -> Option<Env> {
        let kubeconfig = streamforge_kit::testing::required_env(
            test,
            "STREAMFORGE_E2E_KUBECONFIG",
            "the local platform (e2e/run.sh)",
        )?;
        // `cargo test` says where the package is when it runs the test; the path it was built
        // at is only a fallback (a checkout elsewhere that shares the build directory may have
        // built this binary).
        let manifest_dir = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
        let repo = PathBuf::from(manifest_dir).join("../..");
        Some(Env {
            kubeconfig: kubeconfig.into(),
            kubectl: std::env::var("STREAMFORGE_E2E_KUBECTL")
                .map(PathBuf::from)
                .unwrap_or_else(|_| "kubectl".into()),
            kafka: std::env::var("STREAMFORGE_E2E_KAFKA")
                .unwrap_or_else(|_| "127.0.0.1:9092".into()),
            repo,
            namespace: std::env::var("STREAMFORGE_E2E_NAMESPACE")
                .unwrap_or_else(|_| "streamforge-e2e".into()),
        })
    }

    pub async fn client(&self) -> anyhow::Result<Client> {
        let kc = Kubeconfig::read_from(&self.kubeconfig)?;
        let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
        Ok(Client::try_from(cfg)?)
    }

    /// Run kubectl; returns (success, stdout, stderr).
    pub fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        self.kubectl_stdin(args, None)
    }

    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        use std::io::Write;
        let mut cmd = Command::new(&self.kubectl);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .current_dir(&self.repo)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let Ok(mut child) = cmd.spawn() else {
            return (
                false,
                String::new(),
                format!("cannot run {}", self.kubectl.display()),
            );
        };
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let _ = pipe.write_all(text.as_bytes());
        }
        drop(child.stdin.take());
        match child.wait_with_output() {
            Ok(out) => (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ),
            Err(e) => (false, String::new(), e.to_string()),
        }
    }

    /// kubectl that must succeed; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> anyhow::Result<String> {
        let (ok, out, err) = self.kubectl(args);
        if !ok {
            bail!("kubectl {}: {err}", args.join(" "));
        }
        Ok(out)
    }

    pub fn apply(&self, yaml: &str) -> anyhow::Result<String> {
        let (ok, out, err) =
            self.kubectl_stdin(&["apply", "-n", &self.namespace, "-f", "-"], Some(yaml));
        if !ok {
            bail!("kubectl apply: {err}");
        }
        Ok(out)
    }

    /// Every command sent on queue-control for `queue_id` so far.
    pub async fn commands(&self, queue_id: &str) -> anyhow::Result<Vec<ControlCommand>> {
        read_topic(&self.kafka, "queue-control", |payload| {
            ControlCommand::from_json(payload)
                .ok()
                .filter(|c| c.queue_id == queue_id)
        })
        .await
    }

    pub async fn starts(&self, queue_id: &str) -> anyhow::Result<usize> {
        Ok(self
            .commands(queue_id)
            .await?
            .iter()
            .filter(|c| c.command == Cmd::Start)
            .count())
    }
}

/// Read `topic` from its start to its current end, keeping what `keep` returns.
pub async fn read_topic<T>(
    bootstrap: &str,
    topic: &str,
    keep: impl Fn(&[u8]) -> Option<T>,
) -> anyhow::Result<Vec<T>> {
    let settings = KafkaSettings::plaintext(bootstrap);
    let consumer: StreamConsumer = settings.consumer(
        "e2e-reader",
        &streamforge_kit::testing::unique("e2e-reader"),
    )?;
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut ends = std::collections::HashMap::new();
    for t in md.topics() {
        for p in t.partitions() {
            let (_, high) = consumer.fetch_watermarks(topic, p.id(), Duration::from_secs(10))?;
            if high > 0 {
                ends.insert(p.id(), high);
            }
        }
    }
    let mut out = vec![];
    if ends.is_empty() {
        return Ok(out);
    }
    consumer.subscribe(&[topic])?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ends.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = tokio::time::timeout(left, consumer.recv())
            .await
            .map_err(|_| anyhow!("reading {topic}: timed out"))??;
        if let Some(v) = m.payload().and_then(&keep) {
            out.push(v);
        }
        if ends
            .get(&m.partition())
            .is_some_and(|end| m.offset() + 1 >= *end)
        {
            ends.remove(&m.partition());
        }
    }
    Ok(out)
}

/// Poll `check` until it returns `Some`, or fail with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last_err = None;
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_err = Some(e),
        }
        if Instant::now() >= deadline {
            return Err(anyhow!("{what}: not within {timeout:?}")).with_context(|| {
                last_err
                    .map(|e| format!("last error: {e:#}"))
                    .unwrap_or_default()
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

impl Env {
    /// The platform and a client, with the suite's namespace made if missing, labelled to
    /// enforce the `restricted` Pod Security Standard and under a ResourceQuota that needs
    /// requests and limits; `None` when the suite is not asked to run.
    pub async fn setup(test: &str) -> Option<(Env, Client)> {
        let env = Env::from_env(test)?;
        let client = env.client().await.ok()?;
        let (ok, _, err) = env.kubectl(&["get", "namespace", &env.namespace]);
        if !ok {
            assert!(err.contains("NotFound"), "{err}");
            env.kubectl_ok(&["create", "namespace", &env.namespace])
                .ok()?;
        }
        // Every scenario's worker pods are admitted under the `restricted` Pod Security
        // Standard, as on a cluster that several teams share.
        env.kubectl_ok(&[
            "label",
            "--overwrite",
            "namespace",
            &env.namespace,
            "pod-security.kubernetes.io/enforce=restricted",
            "pod-security.kubernetes.io/enforce-version=latest",
        ])
        .ok()?;
        // A quota that counts requests and memory limits admits only pods that declare them:
        // every worker Job carries its family's resources from the operator's configuration.
        env.apply(&format!(
            "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: e2e-workers\n  namespace: {}\nspec:\n  hard:\n    requests.cpu: \"50\"\n    requests.memory: 200Gi\n    limits.memory: 4Ti\n    pods: \"500\"\n",
            env.namespace
        ))
        .ok()?;
        Some((env, client))
    }

    /// Delete Queue `name` if it exists and wait until it is gone (finalizer included).
    pub fn delete_queue(&self, name: &str) {
        if let Err(e) = self.kubectl_ok(&[
            "delete",
            "queue",
            name,
            "-n",
            &self.namespace,
            "--ignore-not-found",
            "--timeout=180s",
        ]) {
            panic!("deleting Queue {name}: {e:#}");
        }
    }
}

/// Wait until Queue `name` is in `phase`; a Queue that fails while another phase is awaited
/// fails the wait at once, with its status.
pub async fn wait_phase(api: &Api<Queue>, name: &str, phase: Phase, timeout: Duration) -> Queue {
    let r = eventually(&format!("{name} reaches {phase:?}"), timeout, || async {
        let q = api.get(name).await?;
        let now = q.status.as_ref().and_then(|s| s.phase);
        // A Failed Queue ends the wait too (Failed is final), and fails it below.
        Ok((now == Some(phase) || now == Some(Phase::Failed)).then_some(q))
    })
    .await;
    match r {
        Ok(q)
            if phase != Phase::Failed
                && q.status.as_ref().and_then(|s| s.phase) == Some(Phase::Failed) =>
        {
            panic!("{name} failed while {phase:?} was awaited: {:?}", q.status)
        }
        Ok(q) => q,
        Err(e) => panic!("{e:#}"),
    }
}

/// Wait until Queue `name` shows at least `min` records; returns it.
pub async fn wait_records_at_least(
    api: &Api<Queue>,
    name: &str,
    min: u64,
    timeout: Duration,
) -> Queue {
    let r = eventually(
        &format!("{name} shows {min} records or more"),
        timeout,
        || async {
            let q = api.get(name).await?;
            let r = q
                .status
                .as_ref()
                .and_then(|s| s.records_written)
                .unwrap_or(0);
            Ok((r >= min).then_some(q))
        },
    )
    .await;
    r.unwrap_or_else(|e| panic!("{e:#}"))
}

/// Wait until Queue `name` shows exactly `records` (telemetry is folded apart from the Job's
/// completion, so the count may land a moment after Succeeded).
pub async fn wait_records(api: &Api<Queue>, name: &str, records: u64, timeout: Duration) {
    let r = eventually(
        &format!("{name} shows {records} records"),
        timeout,
        || async {
            let q = api.get(name).await?;
            Ok((q.status.and_then(|s| s.records_written) == Some(records)).then_some(()))
        },
    )
    .await;
    r.unwrap_or_else(|e| panic!("{e:#}"))
}

/// A Queue manifest for the dummy worker.
pub fn dummy_queue(name: &str, ty: &str, range: &str, extra: &str) -> String {
    format!(
        "apiVersion: streamforge.io/v1alpha1\nkind: Queue\nmetadata:\n  name: {name}\nspec:\n  target: dummy-service\n  type: {ty}\n  symbol: BTCUSDT\n  timeRange: \"{range}\"\n{extra}"
    )
}

/// Percentile (0..=100) of `v`, which it sorts.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}

/// A name part no earlier run used: `tag` and five letters from the clock, e.g. `RQXKWA`.
pub fn fresh_tag(tag: char) -> String {
    let mut n = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut s = String::from(tag);
    for _ in 0..5 {
        s.push((b'A' + (n % 26) as u8) as char);
        n /= 26;
    }
    s
}

/// The MinIO credentials of the platform (`e2e/minio`), unless the environment names others.
pub fn minio_credentials() -> (String, String) {
    (
        std::env::var("STREAMFORGE_E2E_S3_ACCESS_KEY").unwrap_or_else(|_| "streamforge".into()),
        std::env::var("STREAMFORGE_E2E_S3_SECRET_KEY")
            .unwrap_or_else(|_| "streamforge-secret".into()),
    )
}

impl Env {
    /// The workers' MinIO Secret in the suite's namespace, as an operator of the platform would
    /// give it.
    pub fn apply_minio_secret(&self) -> anyhow::Result<String> {
        let (user, password) = minio_credentials();
        self.apply(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: streamforge-minio\nstringData:\n  accessKey: {user}\n  secretKey: {password}\n"
        ))
    }
}
