//! The end-to-end scenarios, against the platform `e2e/run.sh` brings up: the operator runs
//! in-cluster from `manifests/`, workers are real pods, Kafka is a real broker. Run one at a time
//! (`--test-threads=1`): two of them restart shared parts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher;
use streamforge_api::{Command, Phase, Queue, QueueEvent};
use streamforge_e2e::{Env, dummy_queue, eventually, percentile, read_topic};

const DAY: &str = "2024-08-01:2024-08-02";

async fn setup(test: &str) -> Option<(Env, kube::Client)> {
    let env = Env::from_env(test)?;
    let client = env.client().await.unwrap();
    let (ok, _, err) = env.kubectl(&["get", "namespace", &env.namespace]);
    if !ok {
        assert!(err.contains("NotFound"), "{err}");
        env.kubectl_ok(&["create", "namespace", &env.namespace])
            .unwrap();
    }
    Some((env, client))
}

fn delete_queue(env: &Env, name: &str) {
    env.kubectl_ok(&[
        "delete",
        "queue",
        name,
        "-n",
        &env.namespace,
        "--ignore-not-found",
        "--timeout=180s",
    ])
    .unwrap();
}

async fn wait_phase(api: &Api<Queue>, name: &str, phase: Phase, timeout: Duration) -> Queue {
    eventually(&format!("{name} reaches {phase:?}"), timeout, || async {
        let q = api.get(name).await?;
        let now = q.status.as_ref().and_then(|s| s.phase);
        if phase != Phase::Failed && now == Some(Phase::Failed) {
            anyhow::bail!("{name} failed: {:?}", q.status);
        }
        Ok((now == Some(phase)).then_some(q))
    })
    .await
    .unwrap()
}

/// Running with some records reported.
async fn wait_progress(api: &Api<Queue>, name: &str) -> Queue {
    eventually(
        &format!("{name} reports progress"),
        Duration::from_secs(180),
        || async {
            let q = api.get(name).await?;
            let s = q.status.clone().unwrap_or_default();
            Ok(
                (s.phase == Some(Phase::Running) && s.records_written.unwrap_or(0) > 0)
                    .then_some(q),
            )
        },
    )
    .await
    .unwrap()
}

/// The status shows `records` (telemetry is folded apart from the Job's completion, so it may
/// land a moment after Succeeded).
async fn wait_records(api: &Api<Queue>, name: &str, records: u64) {
    eventually(
        &format!("{name} shows {records} records"),
        Duration::from_secs(60),
        || async {
            let q = api.get(name).await?;
            Ok((q.status.and_then(|s| s.records_written) == Some(records)).then_some(()))
        },
    )
    .await
    .unwrap();
}

fn uid_selector(q: &Queue) -> String {
    format!(
        "streamforge.io/queue-uid={}",
        q.metadata.uid.clone().unwrap()
    )
}

fn queue_id(q: &Queue) -> String {
    q.status.as_ref().and_then(|s| s.queue_id.clone()).unwrap()
}

#[tokio::test]
async fn e2e_1_dummy_sample_runs_to_succeeded() {
    let Some((env, client)) = setup("e2e_1").await else {
        return;
    };
    let name = "btcusdt-dummy-load";
    delete_queue(&env, name);
    let out = env
        .kubectl_ok(&["apply", "-n", &env.namespace, "-f", "samples/dummy.yaml"])
        .unwrap();
    assert!(out.contains("created"), "{out}");
    let queues: Api<Queue> = Api::namespaced(client.clone(), &env.namespace);
    let jobs: Api<Job> = Api::namespaced(client.clone(), &env.namespace);

    // The Job: labels, owner reference and worker environment.
    let q = eventually(
        "queue id and job recorded",
        Duration::from_secs(60),
        || async {
            let q = queues.get(name).await?;
            Ok(q.status
                .as_ref()
                .and_then(|s| s.job_name.as_ref())
                .is_some()
                .then_some(q))
        },
    )
    .await
    .unwrap();
    let list = jobs
        .list(&ListParams::default().labels(&uid_selector(&q)))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1, "one Job");
    let job = &list.items[0];
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Queue", name));
    assert_eq!(owner.controller, Some(true));
    let labels = job.metadata.labels.clone().unwrap();
    assert_eq!(labels["streamforge.io/queue"], name);
    let container = &job
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    let envs: HashMap<_, _> = container
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value.unwrap_or_default()))
        .collect();
    assert_eq!(envs["QUEUE_ID"], queue_id(&q));
    assert_eq!(envs["TYPE"], "dummy_load");
    assert_eq!(envs["SYMBOL"], "BTCUSDT");
    assert!(!envs["KAFKA_BOOTSTRAP_SERVERS"].is_empty());
    assert!(
        container
            .image
            .as_deref()
            .unwrap()
            .contains("dummy-service")
    );

    let q = wait_phase(&queues, name, Phase::Succeeded, Duration::from_secs(240)).await;
    wait_records(&queues, name, 1440).await;
    let pods: Api<Pod> = Api::namespaced(client, &env.namespace);
    let job_name = job.metadata.name.clone().unwrap();
    let pod_list = pods
        .list(&ListParams::default().labels(&format!("job-name={job_name}")))
        .await
        .unwrap();
    assert!(
        pod_list
            .items
            .iter()
            .any(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded")),
        "the worker pod ran to completion"
    );
    assert_eq!(
        env.starts(&queue_id(&q)).await.unwrap(),
        1,
        "exactly one start"
    );

    let table = env
        .kubectl_ok(&["get", "queues", "-n", &env.namespace])
        .unwrap();
    let line = table
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains("Succeeded"), "{table}");
    env.kubectl_ok(&[
        "wait",
        "-n",
        &env.namespace,
        "--for=condition=Complete",
        &format!("queue/{name}"),
        "--timeout=30s",
    ])
    .unwrap();
    delete_queue(&env, name);
}

#[tokio::test]
async fn e2e_2_deleting_a_running_queue_stops_and_cleans_up() {
    let Some((env, client)) = setup("e2e_2").await else {
        return;
    };
    let name = "e2e-delete-running";
    delete_queue(&env, name);
    env.apply(&dummy_queue(name, "dummy_slow", DAY, ""))
        .unwrap();
    let queues: Api<Queue> = Api::namespaced(client.clone(), &env.namespace);
    let q = wait_progress(&queues, name).await;
    let selector = uid_selector(&q);

    env.kubectl_ok(&[
        "delete",
        "queue",
        name,
        "-n",
        &env.namespace,
        "--timeout=120s",
    ])
    .unwrap();
    let (ok, _, err) = env.kubectl(&["get", "queue", name, "-n", &env.namespace]);
    assert!(
        !ok && err.contains("NotFound"),
        "the finalizer was released: {err}"
    );
    let commands = env.commands(&queue_id(&q)).await.unwrap();
    assert!(
        commands.iter().any(|c| c.command == Command::Stop),
        "stop sent: {commands:?}"
    );

    let jobs: Api<Job> = Api::namespaced(client.clone(), &env.namespace);
    let pods: Api<Pod> = Api::namespaced(client, &env.namespace);
    eventually(
        "Job and pods collected",
        Duration::from_secs(120),
        || async {
            let j = jobs
                .list(&ListParams::default().labels(&selector))
                .await?
                .items
                .len();
            let p = pods
                .list(&ListParams::default().labels(&selector))
                .await?
                .items
                .len();
            Ok((j == 0 && p == 0).then_some(()))
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn e2e_3_a_crashing_worker_fails_the_queue() {
    let Some((env, client)) = setup("e2e_3").await else {
        return;
    };
    let name = "e2e-crash";
    delete_queue(&env, name);
    env.apply(&dummy_queue(
        name,
        "dummy_crash",
        DAY,
        "  backoffLimit: 1\n",
    ))
    .unwrap();
    let queues: Api<Queue> = Api::namespaced(client.clone(), &env.namespace);
    let q = wait_phase(&queues, name, Phase::Failed, Duration::from_secs(300)).await;
    let status = q.status.clone().unwrap();
    let failed = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Failed")
        .expect("a Failed condition");
    assert_eq!(failed.status, "True");
    assert!(!failed.message.is_empty(), "{failed:?}");
    println!(
        "crash: Failed condition reason {:?}, message {:?}",
        failed.reason, failed.message
    );
    let jobs: Api<Job> = Api::namespaced(client, &env.namespace);
    let job = &jobs
        .list(&ListParams::default().labels(&uid_selector(&q)))
        .await
        .unwrap()
        .items[0];
    let js = job.status.clone().unwrap();
    assert!(
        js.failed.unwrap_or(0) >= 2,
        "the Job retried once, then failed: {js:?}"
    );
    delete_queue(&env, name);
}

#[tokio::test]
async fn e2e_4_an_invalid_queue_is_refused_with_a_readable_message() {
    let Some((env, _)) = setup("e2e_4").await else {
        return;
    };
    let bad_symbol =
        dummy_queue("e2e-bad-symbol", "dummy_load", DAY, "").replace("BTCUSDT", "btc-usdt");
    let (ok, _, err) = env.kubectl_stdin(
        &["apply", "-n", &env.namespace, "-f", "-"],
        Some(&bad_symbol),
    );
    assert!(!ok);
    assert!(err.contains("spec.symbol"), "{err}");
    println!("bad symbol: {}", err.trim());
    let reversed = dummy_queue("e2e-bad-range", "dummy_load", "2024-08-02:2024-08-01", "");
    let (ok, _, err) =
        env.kubectl_stdin(&["apply", "-n", &env.namespace, "-f", "-"], Some(&reversed));
    assert!(!ok);
    assert!(err.contains("timeRange"), "{err}");
    println!("reversed range: {}", err.trim());
    let (ok, _, _) = env.kubectl(&["get", "queue", "e2e-bad-symbol", "-n", &env.namespace]);
    assert!(!ok, "nothing was stored");
}

#[tokio::test]
async fn e2e_5_killing_the_operator_mid_run_changes_nothing() {
    let Some((env, client)) = setup("e2e_5").await else {
        return;
    };
    let name = "e2e-operator-restart";
    delete_queue(&env, name);
    env.apply(&dummy_queue(name, "dummy_slow", DAY, ""))
        .unwrap();
    let queues: Api<Queue> = Api::namespaced(client.clone(), &env.namespace);
    let q = wait_progress(&queues, name).await;

    env.kubectl_ok(&[
        "delete",
        "pod",
        "-n",
        "streamforge",
        "-l",
        "app.kubernetes.io/name=streamforge-operator",
        "--grace-period=0",
        "--force",
    ])
    .unwrap();
    env.kubectl_ok(&[
        "rollout",
        "status",
        "-n",
        "streamforge",
        "deployment/streamforge-operator",
        "--timeout=180s",
    ])
    .unwrap();

    wait_phase(&queues, name, Phase::Succeeded, Duration::from_secs(300)).await;
    wait_records(&queues, name, 1440).await;
    let jobs: Api<Job> = Api::namespaced(client, &env.namespace);
    assert_eq!(
        jobs.list(&ListParams::default().labels(&uid_selector(&q)))
            .await
            .unwrap()
            .items
            .len(),
        1,
        "no second Job"
    );
    assert_eq!(
        env.starts(&queue_id(&q)).await.unwrap(),
        1,
        "no second start"
    );
    delete_queue(&env, name);
}

#[tokio::test]
async fn e2e_6_restarting_kafka_mid_run_loses_no_telemetry() {
    let Some((env, client)) = setup("e2e_6").await else {
        return;
    };
    let Ok(restart) = std::env::var("STREAMFORGE_E2E_KAFKA_RESTART") else {
        panic!("STREAMFORGE_E2E_KAFKA_RESTART (a shell command) is not set; e2e/run.sh sets it");
    };
    let name = "e2e-kafka-restart";
    delete_queue(&env, name);
    env.apply(&dummy_queue(name, "dummy_slow", DAY, ""))
        .unwrap();
    let queues: Api<Queue> = Api::namespaced(client.clone(), &env.namespace);
    wait_progress(&queues, name).await;
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(&restart)
        .current_dir(&env.repo)
        .status()
        .unwrap();
    assert!(status.success(), "restarting the broker");
    wait_phase(&queues, name, Phase::Succeeded, Duration::from_secs(300)).await;
    // The Job can complete before the operator's consumer is back in its group; the final
    // count must still arrive.
    eventually(
        "every record reported after the broker restart",
        Duration::from_secs(180),
        || async {
            let q = queues.get(name).await?;
            Ok((q.status.and_then(|s| s.records_written) == Some(1440)).then_some(()))
        },
    )
    .await
    .unwrap();
    delete_queue(&env, name);
}

/// Sum of apiserver_request_total for Queue writes by verb.
fn queue_writes(env: &Env) -> HashMap<String, f64> {
    let metrics = env.kubectl_ok(&["get", "--raw", "/metrics"]).unwrap();
    let mut out = HashMap::new();
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{") && l.contains("resource=\"queues\""))
    {
        let verb = line
            .split("verb=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("");
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        *out.entry(verb.to_owned()).or_default() += value;
    }
    out
}

#[tokio::test]
async fn e2e_7_a_hundred_queues_at_once() {
    let Some((env, client)) = setup("e2e_7").await else {
        return;
    };
    let n: usize = std::env::var("E2E_QUEUES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let names: Vec<String> = (0..n).map(|i| format!("e2e-many-{i:03}")).collect();
    env.kubectl_ok(&[
        "delete",
        "queues",
        "-n",
        &env.namespace,
        "-l",
        "e2e=many",
        "--timeout=300s",
    ])
    .unwrap();
    let queues: Api<Queue> = Api::namespaced(client.clone(), &env.namespace);
    let jobs: Api<Job> = Api::namespaced(client.clone(), &env.namespace);

    // Watch Jobs and Queues from before the first apply.
    let job_seen = std::sync::Arc::new(std::sync::Mutex::new(HashMap::<String, Instant>::new()));
    let done_seen =
        std::sync::Arc::new(std::sync::Mutex::new(HashMap::<String, SystemTime>::new()));
    let js = job_seen.clone();
    let job_watch = tokio::spawn(async move {
        let mut s = watcher(
            jobs,
            watcher::Config::default().labels("streamforge.io/queue"),
        )
        .boxed();
        while let Ok(Some(ev)) = s.try_next().await {
            if let watcher::Event::Apply(j) | watcher::Event::InitApply(j) = ev
                && let Some(q) = j
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("streamforge.io/queue"))
            {
                js.lock()
                    .unwrap()
                    .entry(q.clone())
                    .or_insert_with(Instant::now);
            }
        }
    });
    let records_seen =
        std::sync::Arc::new(std::sync::Mutex::new(HashMap::<String, SystemTime>::new()));
    let ds = done_seen.clone();
    let rs = records_seen.clone();
    let qw = queues.clone();
    let queue_watch = tokio::spawn(async move {
        let mut s = watcher(qw, watcher::Config::default().labels("e2e=many")).boxed();
        while let Ok(Some(ev)) = s.try_next().await {
            if let watcher::Event::Apply(q) | watcher::Event::InitApply(q) = ev {
                let name = q.metadata.name.clone().unwrap();
                if q.status.as_ref().and_then(|s| s.records_written) == Some(1440) {
                    rs.lock()
                        .unwrap()
                        .entry(name.clone())
                        .or_insert_with(SystemTime::now);
                }
                if q.status.as_ref().and_then(|s| s.phase) == Some(Phase::Succeeded) {
                    ds.lock()
                        .unwrap()
                        .entry(name)
                        .or_insert_with(SystemTime::now);
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;

    let writes_before = queue_writes(&env);
    let mut applied = HashMap::new();
    for name in &names {
        let yaml = dummy_queue(name, "dummy_load", DAY, "");
        let mut q: Queue = serde_yaml::from_str(&yaml).unwrap();
        q.metadata.labels = Some([("e2e".to_owned(), "many".to_owned())].into());
        applied.insert(name.clone(), Instant::now());
        queues.create(&PostParams::default(), &q).await.unwrap();
    }
    eventually(
        "every Queue succeeded",
        Duration::from_secs(900),
        || async {
            let seen = done_seen.lock().unwrap().len();
            Ok((seen >= n).then_some(()))
        },
    )
    .await
    .unwrap();
    // Let the last coalesced status writes land before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let writes_after = queue_writes(&env);
    job_watch.abort();
    queue_watch.abort();

    let js = job_seen.lock().unwrap().clone();
    let mut create_ms: Vec<f64> = names
        .iter()
        .map(|n| js[n].duration_since(applied[n]).as_secs_f64() * 1000.0)
        .collect();

    // Telemetry → status: the worker's `finished` event time to the status showing its final
    // record count (the fold's write); Succeeded also waits for the pod to exit and the Job
    // controller to mark the Job complete.
    let ids: HashMap<String, String> = {
        let list = queues
            .list(&ListParams::default().labels("e2e=many"))
            .await
            .unwrap();
        list.items
            .iter()
            .map(|q| (queue_id(q), q.metadata.name.clone().unwrap()))
            .collect()
    };
    let finished: Vec<(String, f64)> = read_topic(&env.kafka, "queue-events", |p| {
        let ev = QueueEvent::from_json(p).ok()?;
        let name = ids.get(&ev.queue_id)?;
        (ev.status == Some(streamforge_api::EventStatus::Finished))
            .then(|| (name.clone(), ev.timestamp.unwrap_or(0.0)))
    })
    .await
    .unwrap();
    let latency = |seen: &HashMap<String, SystemTime>| -> Vec<f64> {
        finished
            .iter()
            .filter_map(|(name, ts)| {
                let at = seen
                    .get(name)?
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .ok()?
                    .as_secs_f64();
                Some((at - ts) * 1000.0)
            })
            .collect()
    };
    let mut status_ms = latency(&records_seen.lock().unwrap());
    let mut succeeded_ms = latency(&done_seen.lock().unwrap());
    let delta = |verb: &str| {
        writes_after.get(verb).copied().unwrap_or(0.0)
            - writes_before.get(verb).copied().unwrap_or(0.0)
    };
    println!(
        "FIGURES queues={n} apply_to_job_ms p50={:.0} p99={:.0} telemetry_to_status_ms p50={:.0} p99={:.0} (n={}) finished_to_succeeded_ms p50={:.0} p99={:.0} api_writes_per_queue apply={:.2} patch={:.2} put={:.2} post={:.2}",
        percentile(&mut create_ms, 50.0),
        percentile(&mut create_ms, 99.0),
        percentile(&mut status_ms, 50.0),
        percentile(&mut status_ms, 99.0),
        status_ms.len(),
        percentile(&mut succeeded_ms, 50.0),
        percentile(&mut succeeded_ms, 99.0),
        delta("APPLY") / n as f64,
        delta("PATCH") / n as f64,
        delta("PUT") / n as f64,
        delta("POST") / n as f64,
    );
    assert_eq!(create_ms.len(), n);
    env.kubectl_ok(&[
        "delete",
        "queues",
        "-n",
        &env.namespace,
        "-l",
        "e2e=many",
        "--wait=false",
    ])
    .unwrap();
}
