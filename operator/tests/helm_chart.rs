//! The Helm chart (`charts/streamforge`) rendered by the real `helm` (built from its Go module by
//! `scripts/install-helm.sh`; the test command passes it in `STREAMFORGE_TEST_HELM`): it lints,
//! it installs the same CRD, RBAC rules and settings as the Kustomize install in `manifests/`,
//! every setting it writes is one the operator reads, images follow `image.registry`/`image.tag`,
//! and bad values are refused with a message. The install and upgrade on a cluster are in the
//! end-to-end suite (`e2e/run.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use serde::Deserialize;
use serde_yaml::Value;
use streamforge_api::env;
use streamforge_operator::config::Config;

use common::grants;

const HELM_VAR: &str = "STREAMFORGE_TEST_HELM";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn helm(test: &str) -> Option<PathBuf> {
    if let Ok(v) = std::env::var(HELM_VAR)
        && !v.trim().is_empty()
    {
        return Some(PathBuf::from(v.trim()));
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{test}: {HELM_VAR} is not set under CI; scripts/test.sh sets it from scripts/install-helm.sh"
    );
    eprintln!("{test}: skipped, {HELM_VAR} is not set (bash scripts/install-helm.sh builds helm)");
    None
}

/// `helm <args>` in the repository; (success, stdout, stderr).
fn run(helm: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(helm)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", helm.display()));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The chart rendered as release `streamforge` in namespace `streamforge` with `sets`.
fn template(helm: &Path, sets: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "template",
        "streamforge",
        "charts/streamforge",
        "--namespace",
        "streamforge",
        "--kube-version",
        "1.34.0",
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    let (ok, out, err) = run(helm, &args);
    assert!(ok, "helm template {sets:?} failed: {err}");
    docs(&out)
}

fn docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objs.iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

fn kinds(objs: &[Value]) -> BTreeSet<String> {
    objs.iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// `v` with every number as a float, so that `0` and `0.0` compare equal.
fn numbers_as_f64(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::from(n.as_f64().unwrap()),
        Value::Sequence(s) => Value::Sequence(s.iter().map(numbers_as_f64).collect()),
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .map(|(k, v)| (k.clone(), numbers_as_f64(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The Kustomize install's objects: the files `manifests/kustomization.yaml` lists.
fn kustomize_objects() -> Vec<Value> {
    let dir = repo().join("manifests");
    let k: Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap())
            .unwrap();
    k["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|f| docs(&std::fs::read_to_string(dir.join(f.as_str().unwrap())).unwrap()))
        .collect()
}

fn config_map_data(cm: &Value) -> BTreeMap<String, String> {
    cm["data"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_owned(),
                v.as_str()
                    .unwrap_or_else(|| panic!("{k:?} is not a string"))
                    .to_owned(),
            )
        })
        .collect()
}

/// Every environment variable the operator reads as a setting.
fn operator_settings() -> BTreeSet<String> {
    Config::command()
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .chain(
            // Kafka's, read through the worker kit's settings, and the log filter.
            [
                env::KAFKA_BOOTSTRAP_SERVERS,
                env::KAFKA_USER,
                env::KAFKA_PASSWORD,
                env::CA_PATH,
                env::QUEUE_CONTROL_TOPIC,
                env::QUEUE_EVENTS_TOPIC,
                "RUST_LOG",
            ]
            .map(str::to_owned),
        )
        .collect()
}

#[test]
fn the_chart_lints_with_each_component() {
    let Some(helm) = helm("the_chart_lints_with_each_component") else {
        return;
    };
    for sets in [
        "",
        "visualizer.enabled=true,facade.enabled=true",
        "operator.watchNamespace=team-a,crds.install=false",
        "monitoring.enabled=true",
    ] {
        let mut args = vec!["lint", "--strict", "charts/streamforge"];
        if !sets.is_empty() {
            args.extend(["--set", sets]);
        }
        let (ok, out, err) = run(&helm, &args);
        assert!(ok, "helm lint --set {sets}: {out}{err}");
        assert!(out.contains("0 chart(s) failed"), "{out}");
    }
}

#[test]
fn the_chart_installs_what_the_kustomize_install_does() {
    let Some(helm) = helm("the_chart_installs_what_the_kustomize_install_does") else {
        return;
    };
    let chart = template(&helm, &[]);
    let kustomize = kustomize_objects();

    // The same CRD, schema and rules, with the annotation that keeps it on uninstall.
    let crd = find(&chart, "CustomResourceDefinition", "queues.streamforge.io");
    assert_eq!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    let ours = find(
        &kustomize,
        "CustomResourceDefinition",
        "queues.streamforge.io",
    );
    // Helm's YAML round trip writes `0.0` as `0`: the same JSON number to the API server.
    assert!(
        numbers_as_f64(&crd["spec"]) == numbers_as_f64(&ours["spec"]),
        "the chart's CRD is not crds/queue.yaml"
    );

    // The same admission policy for Queues.
    for kind in [
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ] {
        assert_eq!(
            find(&chart, kind, "streamforge-queues")["spec"],
            find(&kustomize, kind, "streamforge-queues")["spec"],
            "{kind}"
        );
    }

    // The same rights, no more: on Queues and Jobs, and on the leader's Lease.
    assert_eq!(
        grants(find(&chart, "ClusterRole", "streamforge-operator")),
        grants(find(&kustomize, "ClusterRole", "streamforge-operator")),
    );
    assert_eq!(
        grants(find(&chart, "Role", "streamforge-operator-lease")),
        grants(find(&kustomize, "Role", "streamforge-operator-lease")),
    );
    // Two replicas, one leading on a Lease, a disruption budget that keeps one.
    for objs in [&chart, &kustomize] {
        let dep = find(objs, "Deployment", "streamforge-operator");
        assert_eq!(dep["spec"]["replicas"], 2);
        let env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_sequence()
            .unwrap();
        let election = env.iter().find(|e| e["name"] == "LEADER_ELECTION").unwrap();
        assert_eq!(election["value"], "true");
        assert!(env.iter().any(|e| e["name"] == "POD_NAME"));
        let pdb = find(objs, "PodDisruptionBudget", "streamforge-operator");
        assert_eq!(pdb["spec"]["minAvailable"], 1);
    }

    // Every setting of the Kustomize install, each one the operator reads.
    let known = operator_settings();
    let helm_cm = config_map_data(find(&chart, "ConfigMap", "streamforge-operator"));
    let kust_cm = config_map_data(find(&kustomize, "ConfigMap", "streamforge-operator"));
    for key in kust_cm.keys() {
        assert!(helm_cm.contains_key(key), "the chart does not set {key}");
    }
    for (key, value) in &helm_cm {
        assert!(
            known.contains(key),
            "the chart sets {key}, which the operator does not read"
        );
        if kust_cm.get(key).is_some_and(|k| k != value) {
            // Defaults may differ only where the chart says why: none today.
            panic!(
                "{key}: chart default {value:?}, Kustomize {:?}",
                kust_cm[key]
            );
        }
    }

    // The operator pod: the same service account and hardening.
    let dep = find(&chart, "Deployment", "streamforge-operator");
    let pod = &dep["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "streamforge-operator");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["image"], "streamforge/operator:0.1.0");
}

#[test]
fn images_and_worker_settings_come_from_the_values() {
    let Some(helm) = helm("images_and_worker_settings_come_from_the_values") else {
        return;
    };
    let objs = template(
        &helm,
        &[
            "image.registry=registry.example.com/sf/",
            "image.tag=1.2.3",
            "visualizer.enabled=true",
            "facade.enabled=true",
            "binance.baseUrl=https://data-api.binance.vision",
            "binance.weightBudget=1200",
            "workers.extraEnv.HTTPS_PROXY=http://proxy:3128",
        ],
    );
    for name in [
        "streamforge-operator",
        "streamforge-visualizer",
        "streamforge-facade",
    ] {
        let dep = find(&objs, "Deployment", name);
        let image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap();
        let family = name.trim_start_matches("streamforge-");
        assert_eq!(image, format!("registry.example.com/sf/{family}:1.2.3"));
    }
    let cm = config_map_data(find(&objs, "ConfigMap", "streamforge-operator"));
    assert_eq!(cm["IMAGE_REGISTRY"], "registry.example.com/sf/");
    // Queues may use the operator's own registry only, at apply and in the operator.
    assert_eq!(cm["ALLOWED_IMAGES"], "registry.example.com/sf/");
    let vap = find(&objs, "ValidatingAdmissionPolicy", "streamforge-queues");
    let rule = vap["spec"]["validations"][0]["expression"]
        .as_str()
        .unwrap();
    assert!(
        rule.contains(r#"["registry.example.com/sf/"].exists("#),
        "{rule}"
    );
    assert_eq!(cm["IMAGE_TAG"], "1.2.3");
    assert_eq!(
        cm["WORKER_EXTRA_ENV"],
        "BINANCE_BASE_URL=https://data-api.binance.vision,WEIGHT_BUDGET=1200,HTTPS_PROXY=http://proxy:3128"
    );
    // The facade tells callers the same image table.
    let facade = find(&objs, "Deployment", "streamforge-facade");
    let env = facade["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()
        .unwrap();
    let tag = env.iter().find(|e| e["name"] == "IMAGE_TAG").unwrap();
    assert_eq!(tag["value"], "1.2.3");
}

/// Every `secretKeyRef` name in `v`.
fn secret_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                if k == "secretKeyRef" {
                    out.push(v["name"].as_str().unwrap_or_default().to_owned());
                }
                secret_refs(v, out);
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| secret_refs(v, out)),
        _ => {}
    }
}

#[test]
fn an_empty_secret_name_means_no_credentials_everywhere() {
    let Some(helm) = helm("an_empty_secret_name_means_no_credentials_everywhere") else {
        return;
    };
    let on = ["visualizer.enabled=true", "facade.enabled=true"];
    let mut refs = Vec::new();
    for o in template(&helm, &on) {
        secret_refs(&o, &mut refs);
    }
    assert!(refs.contains(&"streamforge-minio".to_owned()), "{refs:?}");
    assert!(refs.contains(&"streamforge-kafka".to_owned()), "{refs:?}");
    // A broker without authentication and a cloud credential chain: no reference at all, and
    // none with an empty name (the API server refuses those).
    let mut refs = Vec::new();
    let sets = [
        on[0],
        on[1],
        "kafka.workerSecret=",
        "lake.workerSecret=",
        "arango.workerSecret=",
    ];
    for o in template(&helm, &sets) {
        secret_refs(&o, &mut refs);
    }
    assert!(refs.iter().all(|r| !r.is_empty()), "{refs:?}");
    assert!(
        !refs
            .iter()
            .any(|r| r == "streamforge-minio" || r == "streamforge-kafka"),
        "{refs:?}"
    );
    let cm = config_map_data(find(
        &template(&helm, &sets),
        "ConfigMap",
        "streamforge-operator",
    ));
    assert_eq!(cm["WORKER_KAFKA_SECRET"], "");
}

#[test]
fn optional_parts_appear_only_when_asked_for() {
    let Some(helm) = helm("optional_parts_appear_only_when_asked_for") else {
        return;
    };
    let plain = kinds(&template(&helm, &[]));
    assert!(
        !plain
            .iter()
            .any(|k| k.contains("visualizer") || k.contains("facade"))
    );
    let full = kinds(&template(
        &helm,
        &["visualizer.enabled=true", "facade.enabled=true"],
    ));
    for k in [
        "Deployment/streamforge-visualizer",
        "Service/streamforge-visualizer",
        "Deployment/streamforge-facade",
        "ClusterRoleBinding/streamforge-facade-auth-delegator",
    ] {
        assert!(full.contains(k), "{k} missing from {full:?}");
    }
    // Listed prefixes replace the default.
    let objs = template(
        &helm,
        &["imagePolicy.allowedPrefixes={r.example/a/,r.example/b/}"],
    );
    let cm = config_map_data(find(&objs, "ConfigMap", "streamforge-operator"));
    assert_eq!(cm["ALLOWED_IMAGES"], "r.example/a/,r.example/b/");
    let off = kinds(&template(&helm, &["imagePolicy.admissionPolicy=false"]));
    assert!(!off.contains("ValidatingAdmissionPolicy/streamforge-queues"));

    // NetworkPolicies: none unless asked; then the operator's and one per worker namespace,
    // egress by port only.
    assert!(!plain.iter().any(|k| k.starts_with("NetworkPolicy/")));
    let objs = template(
        &helm,
        &[
            "networkPolicy.enabled=true",
            "networkPolicy.workerNamespaces={team-a,team-b}",
        ],
    );
    let workers: Vec<&Value> = objs
        .iter()
        .filter(|o| o["kind"] == "NetworkPolicy" && o["metadata"]["name"] == "streamforge-workers")
        .collect();
    assert_eq!(workers.len(), 2);
    assert_eq!(workers[1]["metadata"]["namespace"], "team-b");
    assert_eq!(
        workers[0]["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/managed-by"],
        "streamforge-operator"
    );
    let ports: Vec<i64> = workers[0]["spec"]["egress"][0]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    for port in [53, 9092, 9000, 8529, 443] {
        assert!(
            ports.contains(&port),
            "workers may not reach port {port}: {ports:?}"
        );
    }
    let op = find(&objs, "NetworkPolicy", "streamforge-operator");
    assert_eq!(op["spec"]["policyTypes"][1], "Egress");

    let no_crd = kinds(&template(&helm, &["crds.install=false"]));
    assert!(!no_crd.contains("CustomResourceDefinition/queues.streamforge.io"));

    // One watched namespace: a Role there, no cluster-wide rights.
    let objs = template(&helm, &["operator.watchNamespace=team-a"]);
    let role = find(&objs, "Role", "streamforge-operator");
    assert_eq!(role["metadata"]["namespace"], "team-a");
    assert!(!kinds(&objs).contains("ClusterRole/streamforge-operator"));
    let binding = find(&objs, "RoleBinding", "streamforge-operator");
    assert_eq!(binding["subjects"][0]["namespace"], "streamforge");
    let cm = config_map_data(find(&objs, "ConfigMap", "streamforge-operator"));
    assert_eq!(cm["WATCH_NAMESPACE"], "team-a");
}

#[test]
fn bad_values_and_old_clusters_are_refused_with_a_reason() {
    let Some(helm) = helm("bad_values_and_old_clusters_are_refused_with_a_reason") else {
        return;
    };
    let (ok, _, err) = run(
        &helm,
        &[
            "template",
            "streamforge",
            "charts/streamforge",
            "--kube-version",
            "1.30.14",
        ],
    );
    assert!(!ok);
    assert!(err.contains(">=1.31.0-0"), "{err}");

    let (ok, _, err) = run(
        &helm,
        &[
            "template",
            "streamforge",
            "charts/streamforge",
            "--kube-version",
            "1.34.0",
            "--set-string",
            "workers.extraEnv.SYMBOLS=BTCUSDT\\,ETHUSDT",
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("workers.extraEnv.SYMBOLS: a value may not contain a comma"),
        "{err}"
    );

    let (ok, _, err) = run(
        &helm,
        &[
            "template",
            "streamforge",
            "charts/streamforge",
            "--kube-version",
            "1.34.0",
            "--set",
            "kafka.bootstrapServers=",
        ],
    );
    assert!(!ok);
    assert!(err.contains("kafka.bootstrapServers is required"), "{err}");
}

#[test]
fn monitors_render_only_when_monitoring_is_enabled() {
    let Some(helm) = helm("monitors_render_only_when_monitoring_is_enabled") else {
        return;
    };
    let plain = template(&helm, &[]);
    assert!(
        !plain
            .iter()
            .any(|o| o["kind"] == "ServiceMonitor" || o["kind"] == "PodMonitor"),
        "{:?}",
        kinds(&plain)
    );

    let objs = template(
        &helm,
        &["monitoring.enabled=true", "monitoring.labels.release=kps"],
    );
    // The operator: its metrics Service, by the Service's own labels and port name.
    let sm = find(&objs, "ServiceMonitor", "streamforge-operator");
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(sm["metadata"]["namespace"], "streamforge");
    assert_eq!(sm["metadata"]["labels"]["release"], "kps");
    let service = find(&objs, "Service", "streamforge-operator-metrics");
    let selector = sm["spec"]["selector"]["matchLabels"].as_mapping().unwrap();
    assert!(!selector.is_empty());
    for (k, v) in selector {
        let k = k.as_str().unwrap();
        assert_eq!(&service["metadata"]["labels"][k], v, "{k}");
    }
    assert_eq!(
        sm["spec"]["namespaceSelector"]["matchNames"][0],
        "streamforge"
    );
    let endpoint = &sm["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], "http");
    assert_eq!(endpoint["path"], "/metrics");
    assert_eq!(service["spec"]["ports"][0]["name"], "http");
    assert_eq!(service["spec"]["ports"][0]["port"].as_u64(), Some(8080));

    // The workers: the labels the operator puts on its Jobs' pods, the container port it declares.
    let pm = find(&objs, "PodMonitor", "streamforge-workers");
    assert_eq!(pm["metadata"]["labels"]["release"], "kps");
    let selector = &pm["spec"]["selector"]["matchLabels"];
    assert_eq!(
        selector["app.kubernetes.io/managed-by"],
        "streamforge-operator"
    );
    assert_eq!(selector["app.kubernetes.io/part-of"], "streamforge");
    assert_eq!(pm["spec"]["namespaceSelector"]["any"], true);
    let endpoint = &pm["spec"]["podMetricsEndpoints"][0];
    assert_eq!(endpoint["port"], "metrics");
    assert_eq!(endpoint["path"], "/metrics");
    let targets: BTreeSet<&str> = endpoint["relabelings"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r["targetLabel"].as_str().unwrap())
        .collect();
    assert_eq!(targets, BTreeSet::from(["queue", "run", "role", "family"]));

    // One watched namespace: workers are scraped there only.
    let objs = template(
        &helm,
        &["monitoring.enabled=true", "operator.watchNamespace=team-a"],
    );
    let pm = find(&objs, "PodMonitor", "streamforge-workers");
    assert_eq!(pm["spec"]["namespaceSelector"]["matchNames"][0], "team-a");
    assert!(pm["spec"]["namespaceSelector"]["any"].is_null());
}

#[test]
fn the_uninstall_hook_releases_finalizers_with_rights_of_its_own() {
    let Some(helm) = helm("the_uninstall_hook_releases_finalizers_with_rights_of_its_own") else {
        return;
    };
    let name = "streamforge-release-finalizers";
    let objs = template(&helm, &[]);
    let job = find(&objs, "Job", name);
    assert_eq!(
        job["metadata"]["annotations"]["helm.sh/hook"], "post-delete",
        "{job:?}"
    );
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], name);
    let c = &pod["containers"][0];
    assert_eq!(c["args"][0], "--release-finalizers");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    let env: BTreeMap<String, String> = c["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        env["RELEASE_OPERATOR_SELECTOR"],
        "app.kubernetes.io/name=streamforge-operator,app.kubernetes.io/instance=streamforge"
    );
    // The operator's own pods carry the labels the hook waits on.
    let op = find(&objs, "Deployment", "streamforge-operator");
    let labels = &op["spec"]["template"]["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/name"], "streamforge-operator");
    assert_eq!(labels["app.kubernetes.io/instance"], "streamforge");
    let t = |g: &str, r: &str, v: &str| (g.to_owned(), r.to_owned(), v.to_owned());
    assert_eq!(
        grants(find(&objs, "ClusterRole", name)),
        [
            t("streamforge.io", "queues", "list"),
            t("streamforge.io", "queues", "patch")
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        grants(find(&objs, "Role", &format!("{name}-pods"))),
        [t("", "pods", "list")].into_iter().collect()
    );
    for o in objs.iter().filter(|o| {
        o["metadata"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with(name))
    }) {
        assert_eq!(
            o["metadata"]["annotations"]["helm.sh/hook"], "post-delete",
            "{o:?}"
        );
    }

    // One watched namespace: a Role there, and the hook's scope is that namespace.
    let objs = template(&helm, &["operator.watchNamespace=team-a"]);
    let role = find(&objs, "Role", name);
    assert_eq!(role["metadata"]["namespace"], "team-a");
    let env = &find(&objs, "Job", name)["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_sequence()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "WATCH_NAMESPACE" && e["value"] == "team-a")
    );

    let off = kinds(&template(
        &helm,
        &["operator.releaseFinalizersOnUninstall=false"],
    ));
    assert!(
        !off.iter().any(|k| k.contains("release-finalizers")),
        "{off:?}"
    );
}
