//! The operator's permissions are the verbs it uses and no more: Queues are watched and
//! patched (finalizer), their status is applied server-side (a patch), Jobs are created and
//! deleted, pods and Events are only listed. `update` appears once, where the API server asks for
//! it: on `queues/finalizers`, to set `blockOwnerDeletion` on a Job's owner reference.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use serde_yaml::Value;

use common::grants;

#[test]
fn the_operator_is_granted_only_the_verbs_it_uses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/rbac.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let roles: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| v["kind"] == "ClusterRole" || v["kind"] == "Role")
        .collect();
    let all: BTreeSet<(String, String, String)> = roles.iter().flat_map(grants).collect();
    let t = |g: &str, r: &str, v: &str| (g.to_owned(), r.to_owned(), v.to_owned());
    let want: BTreeSet<_> = [
        t("streamforge.io", "queues", "get"),
        t("streamforge.io", "queues", "list"),
        t("streamforge.io", "queues", "watch"),
        t("streamforge.io", "queues", "patch"),
        t("streamforge.io", "queues/status", "patch"),
        t("streamforge.io", "queues/finalizers", "update"),
        t("batch", "jobs", "get"),
        t("batch", "jobs", "list"),
        t("batch", "jobs", "watch"),
        t("batch", "jobs", "create"),
        t("batch", "jobs", "delete"),
        t("", "pods", "list"),
        t("", "events", "list"),
        t("events.k8s.io", "events", "create"),
        t("events.k8s.io", "events", "patch"),
        t("coordination.k8s.io", "leases", "get"),
        t("coordination.k8s.io", "leases", "create"),
        t("coordination.k8s.io", "leases", "patch"),
    ]
    .into_iter()
    .collect();
    let extra: Vec<_> = all.difference(&want).collect();
    let missing: Vec<_> = want.difference(&all).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "granted but unused: {extra:?}; used but not granted: {missing:?}"
    );
}
