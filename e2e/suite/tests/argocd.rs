//! The Argo CD health check and actions (`deploy/argocd/`) against real Queues of the platform
//! in each phase: each Queue's JSON (`kubectl get queue -o json`) goes through the health
//! script in a Lua 5.1 interpreter and must get the verdict the rules give. Suspend and resume
//! go through the action scripts, as Argo CD would run them, and the result is patched in.
//!
//! With `ARGOCD_FIXTURES_OUT=DIR` the captured objects are written to DIR under the names of
//! `deploy/argocd/fixtures/`, with an `expected.json` for them (see `deploy/argocd/README.md`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use streamforge_api::{Phase, Queue};
use streamforge_e2e::argocd;
use streamforge_e2e::{Env, dummy_queue, eventually, fresh_tag, wait_phase, wait_records_at_least};

const DAY: &str = "2024-08-01:2024-08-02";
/// Where pods find the exchange simulator (see `e2e/helm-values.yaml`).
const SIM_PORT: u16 = 29400;

struct Check {
    env: Env,
    lua: PathBuf,
    out: Option<PathBuf>,
    expected: BTreeMap<String, Value>,
}

impl Check {
    /// The Queue as `kubectl get queue -o json` gives it.
    fn get(&self, name: &str) -> Value {
        let text = self
            .env
            .kubectl_ok(&[
                "get",
                "queue",
                name,
                "-n",
                &self.env.namespace,
                "-o",
                "json",
            ])
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Run the health script on `obj`; assert `status` and that the message holds `part`;
    /// keep `obj` as fixture `file`.
    fn verdict(&mut self, file: &str, obj: &Value, status: &str, part: &str) {
        let h = argocd::health(&self.lua, &self.env.repo, obj).unwrap();
        println!("{file}: {}: {}", h.status, h.message);
        assert_eq!(h.status, status, "{file}: {h:?}\n{obj:#}");
        assert!(
            h.message.contains(part),
            "{file}: {h:?} does not say {part:?}"
        );
        self.expected.insert(
            file.to_owned(),
            json!({"status": status, "message_contains": part}),
        );
        if let Some(dir) = &self.out {
            std::fs::create_dir_all(dir).unwrap();
            let text = serde_json::to_string_pretty(obj).unwrap() + "\n";
            std::fs::write(dir.join(file), text).unwrap();
        }
    }

    /// Run action `action` on the Queue as it is now, as Argo CD would, and patch in the
    /// `spec.suspend` it sets.
    async fn act(&self, api: &Api<Queue>, name: &str, action: &str) -> Value {
        let obj = self.get(name);
        let enabled = argocd::discovery(&self.lua, &self.env.repo, &obj).unwrap();
        assert_eq!(
            enabled.get(action),
            Some(&false),
            "{action} is enabled on {name}: {enabled:?}"
        );
        let after = argocd::action(&self.lua, &self.env.repo, action, &obj).unwrap();
        let suspend = after["spec"]["suspend"].clone();
        assert!(suspend.is_boolean(), "{action}: {after:#}");
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": suspend}})),
        )
        .await
        .unwrap();
        self.get(name)
    }

    fn finish(&self) {
        if let Some(dir) = &self.out {
            let text = serde_json::to_string_pretty(&self.expected).unwrap() + "\n";
            std::fs::write(dir.join("expected.json"), text).unwrap();
            println!("fixtures written to {}", dir.display());
        }
    }
}

fn phase_of(obj: &Value) -> Option<&str> {
    obj.pointer("/status/phase").and_then(Value::as_str)
}

/// Poll the Queue's JSON until `pred` holds.
async fn json_until(check: &Check, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    eventually(
        &format!("{name}: {what}"),
        Duration::from_secs(240),
        || async {
            let obj = check.get(name);
            Ok(pred(&obj).then_some(obj))
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a1_health_and_actions_on_real_queues_in_each_phase() {
    let Some((env, client)) = Env::setup("a1").await else {
        return;
    };
    let Some(lua) = argocd::interpreter("a1") else {
        return;
    };
    let out = std::env::var_os("ARGOCD_FIXTURES_OUT").map(PathBuf::from);
    let names = [
        "a1-running",
        "a1-waiting",
        "a1-done",
        "a1-crash",
        "a1-fatal",
        "a1-stream",
    ];
    for n in names {
        env.delete_queue(n);
    }
    let mut check = Check {
        env,
        lua,
        out,
        expected: BTreeMap::new(),
    };
    let api: Api<Queue> = Api::namespaced(client.clone(), &check.env.namespace);

    // A slow Queue, and one that waits for it.
    check
        .env
        .apply(&dummy_queue("a1-running", "dummy_slow", DAY, ""))
        .unwrap();
    let first = check.get("a1-running");
    if first.get("status").is_none() {
        check.verdict(
            "no-status.json",
            &first,
            "Progressing",
            "waiting for the operator",
        );
    }
    check
        .env
        .apply(&dummy_queue(
            "a1-waiting",
            "dummy_load",
            DAY,
            "  after: [a1-running]\n",
        ))
        .unwrap();
    let waiting = json_until(&check, "a1-waiting", "Waiting", |o| {
        phase_of(o) == Some("Waiting")
    })
    .await;
    check.verdict(
        "waiting.json",
        &waiting,
        "Progressing",
        "Waiting: waiting for a1-",
    );

    // Pending is brief; it is checked when it is seen.
    let early = check.get("a1-running");
    if phase_of(&early) == Some("Pending") {
        check.verdict("pending.json", &early, "Progressing", "Pending");
    }
    wait_records_at_least(&api, "a1-running", 1, Duration::from_secs(180)).await;
    let running = json_until(&check, "a1-running", "Running with records", |o| {
        phase_of(o) == Some("Running") && o.pointer("/status/recordsWritten").is_some()
    })
    .await;
    check.verdict(
        "running.json",
        &running,
        "Progressing",
        "Jobs running or done",
    );

    // Suspend through the action; right after the patch the status is of the old generation.
    let just_suspended = check.act(&api, "a1-running", "suspend").await;
    let generation = just_suspended.pointer("/metadata/generation").cloned();
    let observed = just_suspended
        .pointer("/status/observedGeneration")
        .cloned();
    if phase_of(&just_suspended) == Some("Running") && observed != generation {
        check.verdict(
            "generation-behind.json",
            &just_suspended,
            "Progressing",
            "waiting for the operator to see generation",
        );
    }
    wait_phase(&api, "a1-running", Phase::Stopped, Duration::from_secs(120)).await;
    let stopped = json_until(&check, "a1-running", "Stopped and observed", |o| {
        phase_of(o) == Some("Stopped")
            && o.pointer("/status/observedGeneration") == o.pointer("/metadata/generation")
    })
    .await;
    check.verdict(
        "suspended.json",
        &stopped,
        "Suspended",
        "resume starts run 2",
    );
    let enabled = argocd::discovery(&check.lua, &check.env.repo, &stopped).unwrap();
    assert_eq!(enabled.get("suspend"), Some(&true), "{enabled:?}");

    // Resume through the action: a new run.
    check.act(&api, "a1-running", "resume").await;
    let resumed = json_until(&check, "a1-running", "run 2 under way", |o| {
        o.pointer("/status/run") == Some(&json!(2))
            && matches!(phase_of(o), Some("Pending" | "Running" | "Succeeded"))
    })
    .await;
    let h = argocd::health(&check.lua, &check.env.repo, &resumed).unwrap();
    assert!(
        matches!(h.status.as_str(), "Progressing" | "Healthy"),
        "after resume: {h:?}"
    );

    // Finished Queues: success, a failed Job, a worker's error.
    check
        .env
        .apply(&dummy_queue("a1-done", "dummy_load", DAY, ""))
        .unwrap();
    check
        .env
        .apply(&dummy_queue(
            "a1-crash",
            "dummy_crash",
            DAY,
            "  backoffLimit: 1\n",
        ))
        .unwrap();
    check
        .env
        .apply(&dummy_queue("a1-fatal", "dummy_fatal", DAY, ""))
        .unwrap();
    wait_phase(&api, "a1-done", Phase::Succeeded, Duration::from_secs(240)).await;
    let done = json_until(&check, "a1-done", "Succeeded with its records", |o| {
        phase_of(o) == Some("Succeeded") && o.pointer("/status/recordsWritten").is_some()
    })
    .await;
    check.verdict("succeeded.json", &done, "Healthy", "Jobs succeeded");
    let enabled = argocd::discovery(&check.lua, &check.env.repo, &done).unwrap();
    assert_eq!(
        enabled,
        BTreeMap::from([("resume".to_owned(), true), ("suspend".to_owned(), true)]),
        "nothing to do on a finished Queue"
    );
    wait_phase(&api, "a1-crash", Phase::Failed, Duration::from_secs(300)).await;
    let crash = check.get("a1-crash");
    check.verdict(
        "failed-job.json",
        &crash,
        "Degraded",
        "BackoffLimitExceeded",
    );
    wait_phase(&api, "a1-fatal", Phase::Failed, Duration::from_secs(240)).await;
    let fatal = check.get("a1-fatal");
    check.verdict(
        "failed-worker-error.json",
        &fatal,
        "Degraded",
        "WorkerReportedError",
    );

    // A live stream (no timeRange) against the exchange simulator: Healthy once records flow.
    let symbol = fresh_tag('A') + "USDT";
    let config = binance_sim::Config {
        symbols: vec![symbol.clone()],
        ..binance_sim::Config::default()
    };
    let (_, _sim, _task) = binance_sim::serve(SocketAddr::from(([0, 0, 0, 0], SIM_PORT)), config)
        .await
        .expect("the simulator's port is free");
    check
        .env
        .apply(&format!(
            "apiVersion: streamforge.io/v1alpha1\nkind: Queue\nmetadata:\n  name: a1-stream\nspec:\n  target: loader-ws-trades\n  type: ws_trades\n  symbol: {symbol}\n"
        ))
        .unwrap();
    let early = json_until(&check, "a1-stream", "Running", |o| {
        phase_of(o) == Some("Running")
    })
    .await;
    let h = argocd::health(&check.lua, &check.env.repo, &early).unwrap();
    // Caught before or after this run's first records were folded in: either verdict, each with
    // its reason.
    if h.status == "Progressing" {
        check.verdict(
            "stream-no-records.json",
            &early,
            "Progressing",
            "no records reported yet",
        );
    } else {
        assert_eq!(h.status, "Healthy", "{h:?}");
    }
    let streaming = json_until(&check, "a1-stream", "streaming", |o| {
        phase_of(o) == Some("Running")
            && o.pointer("/status/producers/0/recordsWritten")
                .and_then(Value::as_u64)
                .is_some_and(|r| r > 0)
    })
    .await;
    check.verdict("stream-running.json", &streaming, "Healthy", "Streaming: ");
    check.act(&api, "a1-stream", "suspend").await;
    wait_phase(&api, "a1-stream", Phase::Stopped, Duration::from_secs(120)).await;
    let stream_stopped = json_until(&check, "a1-stream", "Stopped and observed", |o| {
        phase_of(o) == Some("Stopped")
            && o.pointer("/status/observedGeneration") == o.pointer("/metadata/generation")
    })
    .await;
    check.verdict(
        "stream-suspended.json",
        &stream_stopped,
        "Suspended",
        "suspended",
    );

    check.finish();
    for n in names {
        check.env.delete_queue(n);
    }
}

/// GitOps-safe: a Queue applied the way Argo CD applies it (server-side, its own field
/// manager) shows no difference when the same manifest is applied again after the operator
/// wrote its status and finalizer, so a sync never fights the operator; pruning it (deleting it
/// through Git) stops its run and removes its Jobs.
#[tokio::test]
async fn a2_reapplying_a_queue_changes_nothing_and_pruning_it_stops_it() {
    let Some((env, client)) = Env::setup("a2_gitops").await else {
        return;
    };
    let api: Api<Queue> = Api::namespaced(client.clone(), &env.namespace);
    env.delete_queue("a2-gitops");
    let manifest = dummy_queue("a2-gitops", "dummy_slow", "2024-08-01:2024-08-02", "");
    let apply = [
        "apply",
        "--server-side",
        "--field-manager=argocd-controller",
        "-n",
        env.namespace.as_str(),
        "-f",
        "-",
    ];
    let (ok, _, err) = env.kubectl_stdin(&apply, Some(&manifest));
    assert!(ok, "{err}");
    wait_phase(&api, "a2-gitops", Phase::Running, Duration::from_secs(120)).await;

    // What a sync compares: no difference, and a second apply changes nothing.
    let diff = [
        "diff",
        "--server-side",
        "--field-manager=argocd-controller",
        "-n",
        env.namespace.as_str(),
        "-f",
        "-",
    ];
    let (same, out, err) = env.kubectl_stdin(&diff, Some(&manifest));
    assert!(same, "kubectl diff found a difference:\n{out}\n{err}");
    let before = api.get("a2-gitops").await.unwrap();
    let (ok, _, err) = env.kubectl_stdin(&apply, Some(&manifest));
    assert!(ok, "{err}");
    let after = api.get("a2-gitops").await.unwrap();
    assert_eq!(
        before.metadata.generation, after.metadata.generation,
        "the spec did not change"
    );

    // Pruned through Git: the operator stops the run and its Jobs go.
    env.delete_queue("a2-gitops");
    assert!(api.get_opt("a2-gitops").await.unwrap().is_none());
    let jobs = env
        .kubectl_ok(&["get", "jobs", "-n", &env.namespace, "-o", "name"])
        .unwrap();
    assert!(!jobs.contains("a2-gitops"), "{jobs}");
}
