//! Phase, conditions and their reasons (pure): from what the reconciler observed to the status
//! it writes. Conditions keep `lastTransitionTime` while their status does not change.
//!
//! Condition types, each always present once the Queue has been reconciled:
//! `Started` (start delivered for this run), `Complete`, `Failed`, `Suspended`, and the three
//! that kstatus (Flux, kpt, Argo CD) reads: `Ready` (settled and well: succeeded, suspended, or a
//! live stream running), `Reconciling` (still working towards it) and `Stalled` (cannot get
//! there without help: failed, or a reconcile error that stops progress).

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use streamforge_api::{Phase, ProducerSummary};

pub const COND_STARTED: &str = "Started";
pub const COND_COMPLETE: &str = "Complete";
pub const COND_FAILED: &str = "Failed";
pub const COND_SUSPENDED: &str = "Suspended";
pub const COND_READY: &str = "Ready";
pub const COND_RECONCILING: &str = "Reconciling";
pub const COND_STALLED: &str = "Stalled";

pub const REASON_PENDING: &str = "JobsPending";
pub const REASON_RUNNING: &str = "WorkerRunning";
pub const REASON_SUCCEEDED: &str = "AllJobsSucceeded";
pub const REASON_JOB_FAILED: &str = "JobFailed";
pub const REASON_WORKER_ERROR: &str = "WorkerReportedError";
pub const REASON_INVALID_SPEC: &str = "InvalidSpec";
/// The spec asks for what the cluster's policy refuses (an image, a reserved topic).
pub const REASON_NOT_ALLOWED: &str = "NotAllowed";
pub const REASON_SUSPENDED: &str = "Suspended";
pub const REASON_START_SENT: &str = "StartSent";
pub const REASON_NOT_STARTED: &str = "StartNotSent";
pub const REASON_STOP_NOT_DELIVERED: &str = "StopNotDelivered";

/// What kstatus should read from a phase. `live`: a stream without an end, whose normal state
/// is Running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kstatus {
    pub ready: bool,
    pub reconciling: bool,
    pub stalled: bool,
}

pub fn kstatus(phase: Option<Phase>, live: bool) -> Kstatus {
    match phase {
        Some(Phase::Succeeded | Phase::Stopped) => Kstatus {
            ready: true,
            reconciling: false,
            stalled: false,
        },
        Some(Phase::Failed) => Kstatus {
            ready: false,
            reconciling: false,
            stalled: true,
        },
        Some(Phase::Running) if live => Kstatus {
            ready: true,
            reconciling: false,
            stalled: false,
        },
        _ => Kstatus {
            ready: false,
            reconciling: true,
            stalled: false,
        },
    }
}

/// The state of one Job as the reconciler sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum JobState {
    Missing,
    Pending,
    Running,
    Succeeded,
    Failed { reason: String, message: String },
}

pub fn job_state(job: Option<&Job>) -> JobState {
    let Some(job) = job else {
        return JobState::Missing;
    };
    let status = job.status.as_ref();
    let conditions = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    for c in conditions.iter().filter(|c| c.status == "True") {
        match c.type_.as_str() {
            "Complete" => return JobState::Succeeded,
            "Failed" => {
                return JobState::Failed {
                    reason: c.reason.clone().unwrap_or_else(|| "Failed".into()),
                    message: c.message.clone().unwrap_or_default(),
                };
            }
            _ => {}
        }
    }
    // Running once a pod is ready (a worker has no readiness probe: its container started).
    // Clusters that do not report `ready` count active pods.
    let active = status.and_then(|s| s.active).unwrap_or(0);
    match status.and_then(|s| s.ready) {
        Some(ready) if ready > 0 => JobState::Running,
        None if active > 0 => JobState::Running,
        _ => JobState::Pending,
    }
}

/// Phase, reason and message of a run that is not suspended.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub phase: Phase,
    pub reason: &'static str,
    pub message: String,
}

/// Decide the phase of a run from its Jobs (named) and what its workers reported.
/// A failed Job or a worker's `error` fails the Queue; success needs every Job to complete.
pub fn verdict(jobs: &[(String, JobState)], producers: &[&ProducerSummary]) -> Verdict {
    if let Some((name, JobState::Failed { reason, message })) = jobs
        .iter()
        .find(|(_, s)| matches!(s, JobState::Failed { .. }))
    {
        return Verdict {
            phase: Phase::Failed,
            reason: REASON_JOB_FAILED,
            message: format!("Job {name} failed: {reason}: {message}")
                .trim_end_matches([' ', ':'])
                .to_owned(),
        };
    }
    if let Some(p) = producers.iter().find(|p| p.finished && p.status == "error") {
        return Verdict {
            phase: Phase::Failed,
            reason: REASON_WORKER_ERROR,
            message: format!(
                "{} reported an error: {}",
                p.telemetry_id,
                p.message.as_deref().unwrap_or("no message")
            ),
        };
    }
    if !jobs.is_empty() && jobs.iter().all(|(_, s)| *s == JobState::Succeeded) {
        return Verdict {
            phase: Phase::Succeeded,
            reason: REASON_SUCCEEDED,
            message: format!("{} of {} Jobs succeeded", jobs.len(), jobs.len()),
        };
    }
    let running = jobs
        .iter()
        .filter(|(_, s)| matches!(s, JobState::Running | JobState::Succeeded))
        .count();
    if running > 0 || producers.iter().any(|p| !p.status.is_empty()) {
        return Verdict {
            phase: Phase::Running,
            reason: REASON_RUNNING,
            message: format!("{running} of {} Jobs running or done", jobs.len()),
        };
    }
    Verdict {
        phase: Phase::Pending,
        reason: REASON_PENDING,
        message: format!("waiting for {} Job(s) to start", jobs.len()),
    }
}

/// Set condition `type_` in `conditions`, keeping its transition time when its status holds.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: DateTime<Utc>,
) {
    let status = if status { "True" } else { "False" }.to_owned();
    let existing = conditions.iter_mut().find(|c| c.type_ == type_);
    let last_transition_time = match &existing {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => crate::time::from_chrono(now),
    };
    let new = Condition {
        type_: type_.into(),
        status,
        reason: reason.into(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time,
    };
    match existing {
        Some(c) => *c = new,
        None => conditions.push(new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::job_with;

    fn producer(status: &str, finished: bool, message: &str) -> ProducerSummary {
        ProducerSummary {
            telemetry_id: "loader-producer__a1b2c3".into(),
            status: status.into(),
            finished,
            message: Some(message.into()),
            ..ProducerSummary::default()
        }
    }

    #[test]
    fn job_states_from_job_status() {
        assert_eq!(job_state(None), JobState::Missing);
        assert_eq!(job_state(Some(&job_with("j", 0, None))), JobState::Pending);
        assert_eq!(job_state(Some(&job_with("j", 1, None))), JobState::Running);
        let mut starting = job_with("j", 1, None);
        starting.status.as_mut().unwrap().ready = Some(0);
        assert_eq!(
            job_state(Some(&starting)),
            JobState::Pending,
            "a pod not yet started"
        );
        assert_eq!(
            job_state(Some(&job_with("j", 0, Some(("Complete", "Completed", ""))))),
            JobState::Succeeded
        );
        assert_eq!(
            job_state(Some(&job_with(
                "j",
                0,
                Some((
                    "Failed",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit"
                ))
            ))),
            JobState::Failed {
                reason: "BackoffLimitExceeded".into(),
                message: "Job has reached the specified backoff limit".into()
            }
        );
    }

    #[test]
    fn a_failed_job_fails_the_queue_with_its_reason() {
        let jobs = vec![
            ("q-r1".to_string(), JobState::Succeeded),
            (
                "q-arango-r1".to_string(),
                JobState::Failed {
                    reason: "BackoffLimitExceeded".into(),
                    message: "Job has reached the specified backoff limit".into(),
                },
            ),
        ];
        let v = verdict(&jobs, &[]);
        assert_eq!(v.phase, Phase::Failed);
        assert_eq!(v.reason, REASON_JOB_FAILED);
        assert_eq!(
            v.message,
            "Job q-arango-r1 failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
        );
    }

    #[test]
    fn a_worker_error_fails_the_queue() {
        let p = producer("error", true, "symbol delisted");
        let v = verdict(&[("q-r1".into(), JobState::Running)], &[&p]);
        assert_eq!(v.phase, Phase::Failed);
        assert_eq!(
            v.message,
            "loader-producer__a1b2c3 reported an error: symbol delisted"
        );
    }

    #[test]
    fn success_needs_every_job() {
        let p = producer("finished", true, "done");
        let partial = vec![
            ("a".to_string(), JobState::Succeeded),
            ("b".to_string(), JobState::Running),
        ];
        assert_eq!(verdict(&partial, &[&p]).phase, Phase::Running);
        let all = vec![
            ("a".to_string(), JobState::Succeeded),
            ("b".to_string(), JobState::Succeeded),
        ];
        assert_eq!(verdict(&all, &[]).phase, Phase::Succeeded);
        assert_eq!(
            verdict(&[("a".into(), JobState::Pending)], &[]).phase,
            Phase::Pending
        );
        let started = producer("started", false, "");
        assert_eq!(
            verdict(&[("a".into(), JobState::Pending)], &[&started]).phase,
            Phase::Running
        );
    }

    #[test]
    fn kstatus_tells_working_from_settled() {
        let k = |p, live| kstatus(Some(p), live);
        assert!(k(Phase::Succeeded, false).ready);
        assert!(k(Phase::Stopped, false).ready);
        assert!(k(Phase::Running, false).reconciling && !k(Phase::Running, false).ready);
        assert!(k(Phase::Running, true).ready && !k(Phase::Running, true).reconciling);
        assert!(k(Phase::Pending, true).reconciling);
        assert!(kstatus(None, false).reconciling);
        let failed = k(Phase::Failed, false);
        assert!(failed.stalled && !failed.ready && !failed.reconciling);
    }

    #[test]
    fn conditions_keep_their_transition_time() {
        let t0 = Utc::now() - chrono::Duration::hours(1);
        let t1 = Utc::now();
        let mut c = vec![];
        set_condition(
            &mut c,
            COND_COMPLETE,
            false,
            REASON_RUNNING,
            "a",
            Some(1),
            t0,
        );
        set_condition(
            &mut c,
            COND_COMPLETE,
            false,
            REASON_RUNNING,
            "b",
            Some(2),
            t1,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].last_transition_time, crate::time::from_chrono(t0));
        assert_eq!(
            (c[0].message.as_str(), c[0].observed_generation),
            ("b", Some(2))
        );
        set_condition(
            &mut c,
            COND_COMPLETE,
            true,
            REASON_SUCCEEDED,
            "done",
            Some(2),
            t1,
        );
        assert_eq!(c[0].last_transition_time, crate::time::from_chrono(t1));
        assert_eq!(c[0].status, "True");
    }
}
