//! Releasing the operator's finalizers when it is uninstalled (`streamforge-operator
//! --release-finalizers`, run by the chart's post-delete hook).
//!
//! With the operator gone, a Queue's `streamforge.io/cleanup` finalizer would hold its deletion,
//! and its namespace's, for ever. Once the operator's pods are gone (so none adds the finalizer
//! back), this takes it off every Queue in scope. The Queues, and the Jobs they own, stay: a new
//! install adopts them, and deleting a Queue (or its namespace) now goes through at once, the
//! garbage collector taking its Jobs.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use streamforge_api::Queue;
use tracing::{info, warn};

use crate::reconcile::FINALIZER;

/// The JSON patch that takes `FINALIZER` off `queue`, if it carries it: a `test` of the entry
/// first, so a list changed since it was read fails the patch instead of removing another entry.
pub fn removal_patch(queue: &Queue) -> Option<json_patch::Patch> {
    let i = queue.finalizers().iter().position(|f| f == FINALIZER)?;
    let path = format!("/metadata/finalizers/{i}");
    serde_json::from_value(json!([
        {"op": "test", "path": path, "value": FINALIZER},
        {"op": "remove", "path": path},
    ]))
    .ok()
}

/// Wait until no pod matches `selector` in `pods` (the operator's own, being removed), for at
/// most `wait`. Whether they went.
pub async fn wait_for_operator_gone(pods: &Api<Pod>, selector: &str, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match pods.list(&ListParams::default().labels(selector)).await {
            Ok(list) if list.items.is_empty() => return true,
            Ok(list) => info!(
                pods = list.items.len(),
                selector, "waiting for the operator's pods to go"
            ),
            Err(e) => warn!(error = %e, "listing the operator's pods"),
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Take the finalizer off every Queue `queues` lists; retried a few times for Queues changed
/// meanwhile. How many were released.
pub async fn release_finalizers(queues: &Api<Queue>) -> Result<usize, kube::Error> {
    let mut released = 0;
    for attempt in 1..=5 {
        let mut conflicts = 0;
        for q in queues.list(&ListParams::default()).await?.items {
            let Some(patch) = removal_patch(&q) else {
                continue;
            };
            let api: Api<Queue> = match q.namespace() {
                Some(ns) => Api::namespaced(queues.clone().into_client(), &ns),
                None => queues.clone(),
            };
            match api
                .patch(
                    &q.name_any(),
                    &PatchParams::default(),
                    &Patch::Json::<()>(patch),
                )
                .await
            {
                Ok(_) => {
                    released += 1;
                    info!(queue = %q.name_any(), namespace = ?q.namespace(), "finalizer released");
                }
                // Gone meanwhile, or its finalizers changed: read it again next round.
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(kube::Error::Api(s)) if s.code == 422 || s.code == 409 => conflicts += 1,
                Err(e) => return Err(e),
            }
        }
        if conflicts == 0 {
            break;
        }
        warn!(
            conflicts,
            attempt, "some Queues changed while released; again"
        );
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::QueueExt;

    #[test]
    fn the_patch_tests_then_removes_only_our_entry() {
        let mut q = Queue::test();
        assert!(removal_patch(&q).is_none(), "nothing to release");
        q.metadata.finalizers = Some(vec!["other.io/keep".into(), FINALIZER.into()]);
        let patch = serde_json::to_value(removal_patch(&q).unwrap()).unwrap();
        assert_eq!(
            patch,
            json!([
                {"op": "test", "path": "/metadata/finalizers/1", "value": FINALIZER},
                {"op": "remove", "path": "/metadata/finalizers/1"},
            ])
        );
        let mut doc = serde_json::to_value(&q).unwrap();
        json_patch::patch(&mut doc, &removal_patch(&q).unwrap()).unwrap();
        assert_eq!(doc["metadata"]["finalizers"], json!(["other.io/keep"]));
    }
}
