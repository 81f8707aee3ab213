//! The run protocol in the cluster with the real workers: the loader against the exchange
//! simulator, the lake connector into MinIO and the ArangoDB connector into the ArangoDB
//! protocol server. The simulator and the protocol server run in this process and pods reach
//! them at the pod bridge gateway (`e2e/helm-values.yaml` points the workers there); each scenario uses
//! a symbol of its own, so the lake and the collections start empty. Every count is checked
//! against what the simulator serves. Run one at a time (`--test-threads=1`): they share ports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use kube::api::{Api, Patch, PatchParams};
use rdkafka::producer::FutureRecord;
use serde_json::json;
use streamforge_api::{Phase, Queue};
use streamforge_e2e::{
    Env, dummy_queue, eventually, wait_phase, wait_records, wait_records_at_least,
};
use streamforge_kit::KafkaSettings;

use common::*;

/// The loaders' weight budget in e2e/helm-values.yaml: exchangeInfo (20) and two klines pages (2
/// each) per one-minute window, so a load of more than two pages waits for the next window.
const WEIGHT_BUDGET: u32 = 24;

fn loader_queue(name: &str, symbol: &str, range: &str, sinks: &str) -> String {
    format!(
        "apiVersion: streamforge.io/v1alpha1\nkind: Queue\nmetadata:\n  name: {name}\nspec:\n  target: loader-api-candles\n  type: api_candles_1m\n  symbol: {symbol}\n  timeRange: \"{range}\"\n  sinks: [{sinks}]\n  backoffLimit: 4\n"
    )
}

/// Documents in the protocol server's collection of `symbol`'s 1m candles of 2024-08-01.
fn arango_keys(s: &Services, symbol: &str) -> BTreeSet<String> {
    let st = s.arango.lock().unwrap();
    let name = format!("{}_api_candles_1m_2024_08_01", symbol.to_ascii_lowercase());
    st.collections
        .get(&name)
        .map(|c| c.docs.keys().cloned().collect())
        .unwrap_or_default()
}

/// 1m candles between the range's ends, as the simulator serves them (one per minute).
fn candles(days: i64) -> u64 {
    (days * 24 * 60) as u64
}

#[tokio::test]
async fn e2e_r1_candles_with_both_sinks_are_stored_exactly_once() {
    let Some((env, client)) = setup("e2e_r1").await else {
        return;
    };
    let symbol = fresh_symbol('A');
    let s = services(&[&symbol]).await;
    let name = "r1-candles";
    env.delete_queue(name);
    env.apply(&loader_queue(
        name,
        &symbol,
        "2024-08-01:2024-08-02",
        "arango, lake",
    ))
    .unwrap();
    let api: Api<Queue> = Api::namespaced(client, &env.namespace);
    wait_phase(&api, name, Phase::Succeeded, Duration::from_secs(300)).await;
    let q = wait_all_final(&api, name, 3).await;

    let want = candles(1);
    let st = q.status.as_ref().unwrap();
    assert_eq!(st.records_written, Some(want), "{st:?}");
    for prefix in [
        "loader-api-candles__",
        "arango-connector__",
        "lake-connector__",
    ] {
        let p = producer(&q, prefix);
        assert_eq!(
            (p.status.as_str(), p.records_written),
            ("finished", want),
            "{p:?}"
        );
    }
    assert_eq!(
        arango_keys(&s, &symbol).len() as u64,
        want,
        "every candle once in ArangoDB"
    );
    let l = lake(&symbol);
    assert_eq!(
        (l["rows"].as_u64(), l["distinct_keys"].as_u64()),
        (Some(want), Some(want)),
        "{l}"
    );
    env.delete_queue(name);
}

/// Wait until the wall clock is early in a minute, so that a load that needs a second weight
/// window pauses for most of a minute (the loader's windows follow the clock).
async fn early_in_a_minute() {
    loop {
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 60;
        if (1..=12).contains(&secs) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn e2e_r2_suspend_mid_load_then_resume_does_the_rest_once() {
    let Some((env, client)) = setup("e2e_r2").await else {
        return;
    };
    let symbol = fresh_symbol('B');
    let _s = services(&[&symbol]).await;
    let name = "r2-resume";
    env.delete_queue(name);
    let api: Api<Queue> = Api::namespaced(client, &env.namespace);
    early_in_a_minute().await;
    // Two days: three pages. Two fit the first weight window; the third waits for the next.
    env.apply(&loader_queue(
        name,
        &symbol,
        "2024-08-01:2024-08-03",
        "lake",
    ))
    .unwrap();
    let paused_at = eventually(
        "run 1 loads its first window",
        Duration::from_secs(45),
        || async {
            let q = api.get(name).await?;
            let st = q.status.clone().unwrap_or_default();
            let r = st.records_written.unwrap_or(0);
            Ok((st.phase == Some(Phase::Running) && r >= 2 * 1000).then_some(r))
        },
    )
    .await
    .unwrap();
    let first_window = u64::from((WEIGHT_BUDGET - 20) / 2) * 1000;
    assert_eq!(paused_at, first_window, "the load waits part way");
    let merge = PatchParams::default();
    api.patch(
        name,
        &merge,
        &Patch::Merge(json!({"spec": {"suspend": true}})),
    )
    .await
    .unwrap();
    let stopped = wait_phase(&api, name, Phase::Stopped, Duration::from_secs(120)).await;
    assert_eq!(stopped.status.as_ref().unwrap().run, Some(1));

    api.patch(
        name,
        &merge,
        &Patch::Merge(json!({"spec": {"suspend": false}})),
    )
    .await
    .unwrap();
    let q = wait_phase(&api, name, Phase::Succeeded, Duration::from_secs(240)).await;
    assert_eq!(q.status.as_ref().unwrap().run, Some(2));
    let q = wait_all_final(&api, name, 2).await;
    let loader = producer(&q, "loader-api-candles__");
    assert_eq!((loader.status.as_str(), loader.run), ("finished", Some(2)));
    assert!(
        loader.records_written < candles(2),
        "run 2 loaded only the rest: {loader:?}"
    );
    let l = lake(&symbol);
    assert_eq!(
        (l["rows"].as_u64(), l["distinct_keys"].as_u64()),
        (Some(candles(2)), Some(candles(2))),
        "nothing missing, nothing twice: {l}"
    );
    env.delete_queue(name);
}

#[tokio::test]
async fn e2e_r3_a_passing_exchange_outage_is_retried_and_the_queue_succeeds() {
    let Some((env, client)) = setup("e2e_r3").await else {
        return;
    };
    let symbol = fresh_symbol('C');
    let s = services(&[&symbol]).await;
    // After the symbol check, every answer is a 500 until the loader has given up once. (Failed
    // requests use weight as at Binance: with the e2e budget its retries take about a minute.)
    binance_sim::server::lock(&s.sim).config.faults.fail_after = Some(1);
    let name = "r3-outage";
    env.delete_queue(name);
    env.apply(&loader_queue(name, &symbol, "2024-08-01:2024-08-02", ""))
        .unwrap();
    let api: Api<Queue> = Api::namespaced(client, &env.namespace);
    let retrying = eventually(
        "the loader reports retrying",
        Duration::from_secs(180),
        || async {
            let q = api.get(name).await?;
            let st = q.status.clone().unwrap_or_default();
            if st.phase == Some(Phase::Failed) {
                anyhow::bail!("failed at once on a passing outage: {st:?}");
            }
            Ok(st
                .producers
                .iter()
                .find(|p| p.status == "retrying")
                .cloned())
        },
    )
    .await
    .unwrap();
    assert!(!retrying.finished, "retrying is not final: {retrying:?}");
    assert!(
        retrying.message.as_deref().unwrap_or("").contains("500"),
        "the reason is shown: {retrying:?}"
    );
    binance_sim::server::lock(&s.sim).config.faults.fail_after = None;
    wait_phase(&api, name, Phase::Succeeded, Duration::from_secs(240)).await;
    let q = wait_all_final(&api, name, 1).await;
    assert_eq!(q.status.as_ref().unwrap().records_written, Some(candles(1)));
    let jobs: Api<k8s_openapi::api::batch::v1::Job> =
        Api::namespaced(api.clone().into_client(), &env.namespace);
    let job = jobs
        .get(q.status.as_ref().unwrap().job_name.as_deref().unwrap())
        .await
        .unwrap();
    assert!(
        job.status.as_ref().and_then(|s| s.failed).unwrap_or(0) >= 1,
        "the Job retried a failed pod"
    );
    env.delete_queue(name);
}

#[tokio::test]
async fn e2e_r4_a_queue_made_again_under_the_same_name_never_shows_the_old_numbers() {
    let Some((env, client)) = setup("e2e_r4").await else {
        return;
    };
    let name = "r4-again";
    env.delete_queue(name);
    let api: Api<Queue> = Api::namespaced(client, &env.namespace);
    let yaml = dummy_queue(name, "dummy_slow", "2024-08-01:2024-08-02", "");
    env.apply(&yaml).unwrap();
    let old = wait_records_at_least(&api, name, 200, Duration::from_secs(120)).await;
    let old_uid = old.metadata.uid.clone().unwrap();
    env.delete_queue(name);
    env.apply(&yaml).unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    eventually("the new Queue succeeds", Duration::from_secs(240), || {
        let (api, seen, old_uid) = (api.clone(), seen.clone(), old_uid.clone());
        async move {
            let q = api.get(name).await?;
            assert_ne!(q.metadata.uid.as_deref(), Some(old_uid.as_str()));
            let st = q.status.clone().unwrap_or_default();
            let suffix = streamforge_api::naming::suffix(q.metadata.uid.as_deref().unwrap());
            for p in &st.producers {
                assert!(
                    p.telemetry_id.ends_with(&suffix),
                    "a producer of the old Queue in the new one's status: {p:?}"
                );
            }
            seen.lock().unwrap().push(st.records_written.unwrap_or(0));
            Ok((st.phase == Some(Phase::Succeeded)).then_some(q))
        }
    })
    .await
    .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "counts only grow: {seen:?}"
    );
    assert!(
        seen[0] < 200,
        "the first count seen is the new run's: {seen:?}"
    );
    wait_all_final(&api, name, 1).await;
    assert_eq!(
        api.get(name).await.unwrap().status.unwrap().records_written,
        Some(1440)
    );
    env.delete_queue(name);
}

#[tokio::test]
async fn e2e_r5_hostile_telemetry_blocks_no_queue() {
    let Some((env, client)) = setup("e2e_r5").await else {
        return;
    };
    let api: Api<Queue> = Api::namespaced(client, &env.namespace);
    let (target, victim) = ("r5-target", "r5-bystander");
    env.delete_queue(target);
    env.delete_queue(victim);
    env.apply(&dummy_queue(
        target,
        "dummy_slow",
        "2024-08-01:2024-08-02",
        "",
    ))
    .unwrap();
    let q = eventually(
        "the target Queue has an id",
        Duration::from_secs(60),
        || async {
            let q = api.get(target).await?;
            Ok(q.status
                .as_ref()
                .and_then(|s| s.queue_id.clone())
                .map(|id| (id, q)))
        },
    )
    .await
    .unwrap();
    let (queue_id, q) = q;
    let main = q.status.as_ref().unwrap().telemetry_id.clone().unwrap();
    let rss_before = operator_rss_kib();

    // Over-range counts, a status of most of a megabyte (the broker's default message limit),
    // and thousands of made-up telemetry ids.
    let producer = KafkaSettings::plaintext(&env.kafka)
        .producer("e2e-hostile")
        .unwrap();
    let mut hostile = vec![
        format!(
            r#"{{"queue_id":"{queue_id}","telemetry_id":"{main}","status":"loading","records_written":18446744073709551615,"run":1}}"#
        ),
        format!(
            r#"{{"queue_id":"{queue_id}","telemetry_id":"{main}","status":"{}","run":1}}"#,
            "x".repeat(900_000)
        ),
    ];
    for i in 0..5_000 {
        hostile.push(format!(
            r#"{{"queue_id":"{queue_id}","telemetry_id":"made-up__{i:06}","status":"loading","records_written":{i},"run":1}}"#
        ));
    }
    for h in &hostile {
        producer
            .send(
                FutureRecord::to("queue-events").key(&queue_id).payload(h),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("the broker takes the hostile event");
    }
    // Another Queue's status keeps flowing, to its exact count.
    env.apply(&dummy_queue(
        victim,
        "dummy_load",
        "2024-08-01:2024-08-02",
        "",
    ))
    .unwrap();
    wait_phase(&api, victim, Phase::Succeeded, Duration::from_secs(180)).await;
    wait_records(&api, victim, 1440, Duration::from_secs(60)).await;
    // The target's status holds what status can hold, bounded.
    let st = api.get(target).await.unwrap().status.unwrap();
    assert!(
        st.producers.len() <= streamforge_api::status::MAX_PRODUCERS,
        "{}",
        st.producers.len()
    );
    assert_eq!(st.records_written, Some(i64::MAX as u64));
    let main_p = st
        .producers
        .iter()
        .find(|p| p.telemetry_id == main)
        .unwrap();
    assert!(
        main_p.status.len() < 64,
        "status word cut: {} bytes",
        main_p.status.len()
    );
    let rss_after = operator_rss_kib();
    println!(
        "FIGURES hostile telemetry: operator RSS {rss_before:?} KiB before, {rss_after:?} KiB after 5,002 hostile events"
    );
    if let Some(after) = rss_after {
        assert!(after < 100 * 1024, "operator RSS {after} KiB");
    }
    env.delete_queue(target);
    env.delete_queue(victim);
}

/// Resident memory of the operator's process, read from the node (the platform runs here).
fn operator_rss_kib() -> Option<u64> {
    let out = std::process::Command::new("pgrep")
        .args(["-f", "^/usr/local/bin/streamforge-operator"])
        .output()
        .ok()?;
    let pid = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()?
        .trim()
        .to_owned();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::test]
async fn e2e_r6_a_loader_killed_mid_load_resumes_without_a_gap() {
    let Some((env, client)) = setup("e2e_r6").await else {
        return;
    };
    let symbol = fresh_symbol('D');
    let _s = services(&[&symbol]).await;
    let name = "r6-killed";
    env.delete_queue(name);
    let api: Api<Queue> = Api::namespaced(client.clone(), &env.namespace);
    early_in_a_minute().await;
    env.apply(&loader_queue(
        name,
        &symbol,
        "2024-08-01:2024-08-03",
        "lake",
    ))
    .unwrap();
    let first_window = u64::from((WEIGHT_BUDGET - 20) / 2) * 1000;
    // The loader waits part way.
    let q = wait_records_at_least(&api, name, first_window, Duration::from_secs(45)).await;
    // SIGKILL: no grace, nothing flushed on the way out.
    let job = q.status.as_ref().unwrap().job_name.clone().unwrap();
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, &env.namespace);
    let listed = pods
        .list(&kube::api::ListParams::default().labels(&format!("job-name={job}")))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1, "one loader pod");
    let pod = listed.items[0].metadata.name.clone().unwrap();
    env.kubectl_ok(&[
        "delete",
        "pod",
        &pod,
        "-n",
        &env.namespace,
        "--grace-period=0",
        "--force",
    ])
    .unwrap();
    wait_phase(&api, name, Phase::Succeeded, Duration::from_secs(240)).await;
    let q = wait_all_final(&api, name, 2).await;
    assert_eq!(
        q.status.as_ref().unwrap().run,
        Some(1),
        "the same run, retried"
    );
    let l = lake(&symbol);
    assert_eq!(
        (l["rows"].as_u64(), l["distinct_keys"].as_u64()),
        (Some(candles(2)), Some(candles(2))),
        "no gap, nothing twice: {l}"
    );
    env.delete_queue(name);
}

fn kafka_ctl(env: &Env, what: &str) {
    let cmd = std::env::var(what).unwrap_or_else(|_| panic!("{what} (set by e2e/run.sh)"));
    let ok = std::process::Command::new("bash")
        .args(["-c", &cmd])
        .current_dir(&env.repo)
        .status()
        .unwrap()
        .success();
    assert!(ok, "{what} failed");
}

/// Starts the broker again when dropped.
struct BrokerBack<'a>(&'a Env);

impl Drop for BrokerBack<'_> {
    fn drop(&mut self) {
        kafka_ctl(self.0, "STREAMFORGE_E2E_KAFKA_START");
    }
}

#[tokio::test]
async fn e2e_r7_kafka_away_when_the_operator_starts() {
    let Some((env, client)) = setup("e2e_r7").await else {
        return;
    };
    let api: Api<Queue> = Api::namespaced(client.clone(), &env.namespace);
    let (doomed, waiting) = ("r7-deleted", "r7-created");
    env.delete_queue(doomed);
    env.delete_queue(waiting);
    env.apply(&dummy_queue(
        doomed,
        "dummy_slow",
        "2024-08-01:2024-08-02",
        "",
    ))
    .unwrap();
    wait_phase(&api, doomed, Phase::Running, Duration::from_secs(120)).await;

    kafka_ctl(&env, "STREAMFORGE_E2E_KAFKA_STOP");
    // Whatever happens below, the broker is started again for the scenarios after this one.
    let broker = BrokerBack(&env);
    let ops: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "streamforge");
    env.kubectl_ok(&[
        "-n",
        "streamforge",
        "rollout",
        "restart",
        "deployment/streamforge-operator",
    ])
    .unwrap();
    env.kubectl_ok(&[
        "-n",
        "streamforge",
        "rollout",
        "status",
        "deployment/streamforge-operator",
        "--timeout=180s",
    ])
    .unwrap();
    // A Queue made while Kafka is away: it cannot get its start, and says so.
    env.apply(&dummy_queue(
        waiting,
        "dummy_load",
        "2024-08-01:2024-08-02",
        "",
    ))
    .unwrap();
    eventually(
        "the new Queue shows why it waits",
        Duration::from_secs(120),
        || async {
            let q = api.get(waiting).await?;
            let stalled = q
                .status
                .as_ref()
                .and_then(|s| s.condition("Stalled").cloned());
            Ok(stalled.filter(|c| c.status == "True" && c.reason == "CommandNotDelivered"))
        },
    )
    .await
    .unwrap();
    // A deletion is not wedged: the finalizer goes after the stop grace period (20 s here).
    env.delete_queue(doomed);
    // The operator stayed up all along: no restart of its container.
    let pods = ops
        .list(
            &kube::api::ListParams::default().labels("app.kubernetes.io/name=streamforge-operator"),
        )
        .await
        .unwrap();
    for p in pods
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let restarts: i32 = p
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .map(|c| c.iter().map(|c| c.restart_count).sum())
            .unwrap_or(0);
        assert_eq!(
            restarts, 0,
            "the operator was restarted while Kafka was away"
        );
    }
    drop(broker);
    // It catches up: the waiting Queue runs to its end.
    wait_phase(&api, waiting, Phase::Succeeded, Duration::from_secs(300)).await;
    wait_records(&api, waiting, 1440, Duration::from_secs(120)).await;
    env.delete_queue(waiting);
}
