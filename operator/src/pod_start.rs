//! Why a run's pods do not start (pure): from the pods of a run, and the Job controller's
//! `FailedCreate` Events when there are no pods at all, to one reason and message that status
//! shows while the Queue waits, and fails with once the wait is too long.
//!
//! Only reasons that need a person are reported (an image that cannot be pulled, a missing
//! Secret, a pod refused by admission or quota, no node that fits); a pod that is merely
//! being scheduled or pulling is normal start-up.

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::ResourceExt;

/// Container waiting reasons that do not mend themselves, as the kubelet names them.
const STUCK_WAITING: [&str; 6] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// Reason when the Job controller could not create a pod (quota, Pod Security admission, ...).
pub const REASON_FAILED_CREATE: &str = "PodCreateRefused";
/// Reason when no node can take the pod.
pub const REASON_UNSCHEDULABLE: &str = "Unschedulable";
/// Reason when a Secret the worker needs does not exist: the Queue fails at once, naming it.
pub const REASON_SECRET_MISSING: &str = "SecretMissing";

#[derive(Clone, Debug, PartialEq)]
pub struct PodProblem {
    pub reason: &'static str,
    pub message: String,
    /// Waiting cannot mend it: the Queue fails now rather than after the start timeout.
    pub fatal: bool,
}

/// The Secret a kubelet's `CreateContainerConfigError` says is missing
/// (`secret "streamforge-minio" not found`).
fn missing_secret(message: &str) -> Option<&str> {
    let rest = &message[message.find("secret \"")? + "secret \"".len()..];
    let (name, tail) = rest.split_once('"')?;
    tail.trim_start().starts_with("not found").then_some(name)
}

fn cut(s: &str) -> String {
    s.chars().take(512).collect()
}

/// The first problem among `pods` that keeps a worker from starting.
pub fn pod_problem(pods: &[Pod]) -> Option<PodProblem> {
    for pod in pods {
        let Some(status) = &pod.status else {
            continue;
        };
        let waiting = status
            .container_statuses
            .iter()
            .flatten()
            .chain(status.init_container_statuses.iter().flatten())
            .filter_map(|c| c.state.as_ref()?.waiting.as_ref());
        for w in waiting {
            if let Some(reason) = w.reason.as_deref()
                && let Some(known) = STUCK_WAITING.iter().find(|r| **r == reason)
            {
                let detail = w.message.as_deref().unwrap_or("");
                if reason == "CreateContainerConfigError"
                    && let Some(secret) = missing_secret(detail)
                {
                    return Some(PodProblem {
                        reason: REASON_SECRET_MISSING,
                        message: cut(&format!(
                            "Secret {secret:?} is missing in namespace {}: the worker needs it \
                             (create it, or set its name to \"\" in the operator's configuration \
                             if that store takes no credentials)",
                            pod.namespace().unwrap_or_default()
                        )),
                        fatal: true,
                    });
                }
                return Some(PodProblem {
                    reason: known,
                    message: cut(&format!("pod {}: {reason}: {detail}", pod.name_any())),
                    fatal: false,
                });
            }
        }
        let unschedulable = status.conditions.iter().flatten().find(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        });
        if let Some(c) = unschedulable {
            return Some(PodProblem {
                reason: REASON_UNSCHEDULABLE,
                message: cut(&format!(
                    "pod {}: {}",
                    pod.name_any(),
                    c.message.as_deref().unwrap_or("no node fits")
                )),
                fatal: false,
            });
        }
    }
    None
}

/// The newest `FailedCreate` Event of Job `job` among `events`: why it has no pod.
pub fn create_refused(job: &str, events: &[Event]) -> Option<PodProblem> {
    events
        .iter()
        .filter(|e| {
            e.reason.as_deref() == Some("FailedCreate")
                && e.involved_object.kind.as_deref() == Some("Job")
                && e.involved_object.name.as_deref() == Some(job)
        })
        .max_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0))
        .map(|e| PodProblem {
            reason: REASON_FAILED_CREATE,
            message: cut(&format!(
                "Job {job} cannot create its pod: {}",
                e.message.as_deref().unwrap_or("")
            )),
            fatal: false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "btc-candles-a1b2c3-r1-x7k2p"},
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn an_image_that_cannot_be_pulled_is_a_problem_pulling_is_not() {
        let stuck = pod(json!({"phase": "Pending", "containerStatuses": [{
            "name": "worker", "image": "streamforge/nope:1", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"streamforge/nope:1\""}}}]}));
        let p = pod_problem(&[stuck]).unwrap();
        assert_eq!(p.reason, "ImagePullBackOff");
        assert!(p.message.contains("streamforge/nope:1"), "{}", p.message);

        let pulling = pod(json!({"phase": "Pending", "containerStatuses": [{
            "name": "worker", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}}}]}));
        assert_eq!(pod_problem(&[pulling]), None);
    }

    #[test]
    fn a_missing_secret_fails_at_once_and_names_the_secret() {
        let p = pod(json!({"phase": "Pending", "containerStatuses": [{
            "name": "worker", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "CreateContainerConfigError",
                "message": "secret \"streamforge-minio\" not found"}}}]}));
        let p = pod_problem(&[p]).unwrap();
        assert_eq!(p.reason, REASON_SECRET_MISSING);
        assert!(p.fatal);
        assert!(
            p.message
                .starts_with("Secret \"streamforge-minio\" is missing"),
            "{}",
            p.message
        );

        // Another configuration error (a missing key, a ConfigMap) waits as before.
        let key = pod(json!({"phase": "Pending", "containerStatuses": [{
            "name": "worker", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "CreateContainerConfigError",
                "message": "couldn't find key secretKey in Secret default/streamforge-minio"}}}]}));
        let p = pod_problem(&[key]).unwrap();
        assert_eq!((p.reason, p.fatal), ("CreateContainerConfigError", false));
    }

    #[test]
    fn no_node_that_fits_is_a_problem() {
        let p = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."}]}),
        );
        let p = pod_problem(&[p]).unwrap();
        assert_eq!(p.reason, REASON_UNSCHEDULABLE);
        assert!(p.message.contains("nvidia.com/gpu"));
    }

    #[test]
    fn a_pod_refused_at_admission_shows_the_job_controllers_event() {
        let ev: Event = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "e1", "namespace": "default"},
            "involvedObject": {"kind": "Job", "name": "btc-candles-a1b2c3-r1"},
            "reason": "FailedCreate",
            "message": "Error creating: pods \"btc-candles-a1b2c3-r1-abcde\" is forbidden: violates PodSecurity \"restricted:latest\": runAsNonRoot != true",
            "lastTimestamp": "2026-11-30T10:00:00Z"
        }))
        .unwrap();
        let p = create_refused("btc-candles-a1b2c3-r1", std::slice::from_ref(&ev)).unwrap();
        assert_eq!(p.reason, REASON_FAILED_CREATE);
        assert!(p.message.contains("violates PodSecurity"));
        assert_eq!(create_refused("other-job", &[ev]), None);
    }
}
