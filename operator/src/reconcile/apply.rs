//! Apply: bring one Queue's run to what its spec asks, then write status last.
//!
//! Order within a reconcile: validate → (suspend: stop, delete Jobs) → make the data topic
//! (when Jobs are missing) → create missing Jobs → publish `start` once per run and record it
//! at once → derive phase and conditions → status.

use chrono::Utc;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;
use streamforge_api::{Command, Phase, ProducerSummary, Queue, QueueStatus};
use tracing::info;

use std::collections::HashMap;
use std::sync::Arc;

use super::observe;
use super::policy;
use super::validate::{Identity, validate};
use super::{Context, MANAGER, POD_START_CHECK, RESYNC, WAIT_CHECK};
use crate::dependencies::{REASON_WAITING, Readiness, readiness};
use crate::error::Error;
use crate::jobs::{self, LABEL_RUN, Worker};
use crate::pod_start::{PodProblem, create_refused, pod_problem};
use crate::status::*;

/// The part of a status the reconciler owns; telemetry fields cleared.
pub fn reconciler_view(st: &QueueStatus) -> QueueStatus {
    QueueStatus {
        records_written: None,
        progress: None,
        last_event_time: None,
        producers: vec![],
        training: None,
        graph: None,
        output_path: None,
        ..st.clone()
    }
}

fn now_secs() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1e6
}

pub async fn write_status(ctx: &Context, queue: &Queue, st: &QueueStatus) -> Result<(), Error> {
    let api: Api<Queue> =
        Api::namespaced(ctx.client.clone(), &queue.namespace().unwrap_or_default());
    let body = json!({ "apiVersion": "streamforge.io/v1alpha1", "kind": "Queue", "status": st });
    let result = api
        .patch_status(
            &queue.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await;
    let label = if result.is_ok() { "ok" } else { "error" };
    ctx.metrics
        .status_patches
        .with_label_values(&["reconciler", label])
        .inc();
    result.map(|_| ()).map_err(|source| Error::PatchStatus {
        queue: queue.name_any(),
        source,
    })
}

fn set_all(
    st: &mut QueueStatus,
    generation: Option<i64>,
    started: bool,
    suspended: bool,
    live: bool,
    reason: &str,
) {
    let now = Utc::now();
    let phase = st.phase;
    let msg = st.message.clone().unwrap_or_default();
    let c = &mut st.conditions;
    let (start_reason, start_msg) = if started {
        (REASON_START_SENT, "start delivered to queue-control")
    } else {
        (REASON_NOT_STARTED, "start not sent for this run")
    };
    set_condition(
        c,
        COND_STARTED,
        started,
        start_reason,
        start_msg,
        generation,
        now,
    );
    let succeeded = phase == Some(Phase::Succeeded);
    set_condition(c, COND_COMPLETE, succeeded, reason, &msg, generation, now);
    let failed = phase == Some(Phase::Failed);
    set_condition(c, COND_FAILED, failed, reason, &msg, generation, now);
    set_condition(c, COND_SUSPENDED, suspended, reason, &msg, generation, now);
    let k = kstatus(phase, live);
    set_condition(c, COND_READY, k.ready, reason, &msg, generation, now);
    set_condition(
        c,
        COND_RECONCILING,
        k.reconciling,
        reason,
        &msg,
        generation,
        now,
    );
    set_condition(c, COND_STALLED, k.stalled, reason, &msg, generation, now);
}

/// Write `st` when the reconciler's part changed, and announce a phase change.
async fn finish(
    ctx: &Context,
    queue: &Queue,
    old: &QueueStatus,
    written: &QueueStatus,
    st: &QueueStatus,
    reason: &str,
) -> Result<(), Error> {
    // Compared with what the API server holds (`written`); events compare with `old`.
    if reconciler_view(written) != *st {
        write_status(ctx, queue, st).await?;
    }
    if old.phase != st.phase
        && let Some(phase) = st.phase
    {
        let warning = phase == Phase::Failed;
        let note = format!(
            "{}: {}",
            phase.as_str(),
            st.message.clone().unwrap_or_default()
        );
        ctx.event(queue, warning, reason, note).await;
    }
    Ok(())
}

async fn publish_all(
    ctx: &Context,
    queue: &Queue,
    id: &Identity,
    workers: &[Worker],
    run: u32,
    command: Command,
) -> Result<(), Error> {
    for w in workers {
        let cmd = jobs::command(queue, id, w, run, command, now_secs());
        if let Err(e) = ctx.publisher.publish(cmd).await {
            ctx.metrics
                .kafka_errors
                .with_label_values(&["publish"])
                .inc();
            return Err(e.into());
        }
        ctx.metrics
            .commands
            .with_label_values(&[command.as_str()])
            .inc();
    }
    info!(queue = %queue.name_any(), queue_id = %id.queue_id, run, command = command.as_str(), workers = workers.len(), "command delivered");
    Ok(())
}

/// Make the data topic of a Queue whose workers use it, before any of its Jobs (see
/// `crate::topics`); only when Jobs are about to be created, so a running Queue asks nothing.
async fn ensure_data_topic(ctx: &Context, queue: &Queue, id: &Identity) -> Result<(), Error> {
    let Some(topics) = &ctx.data_topics else {
        return Ok(());
    };
    if !crate::topics::uses_data_topic(queue) {
        return Ok(());
    }
    if let Err(source) = topics.ensure(&id.kafka_topic).await {
        ctx.metrics
            .kafka_errors
            .with_label_values(&["data_topic"])
            .inc();
        return Err(Error::DataTopic {
            queue: queue.name_any(),
            source,
        });
    }
    Ok(())
}

/// Delete the Jobs of `run` that still exist (background propagation: pods follow).
pub async fn delete_run_jobs(
    api: &Api<Job>,
    existing: &[Job],
    run: Option<u32>,
) -> Result<usize, Error> {
    let mut deleted = 0;
    for job in existing {
        let in_run = run.is_none_or(|r| {
            job.labels().get(LABEL_RUN).map(String::as_str) == Some(r.to_string().as_str())
        });
        if !in_run || job.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let name = job.name_any();
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => deleted += 1,
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(source) => return Err(Error::DeleteJob { job: name, source }),
        }
    }
    Ok(deleted)
}

/// Create the Job of `w` unless it exists. A 409 for a Job this Queue does not own is refused:
/// the name belongs to someone else, and waiting would leave the Queue Pending for ever.
async fn create_job(
    ctx: &Context,
    job_api: &Api<Job>,
    queue: &Queue,
    id: &Identity,
    w: &Worker,
    run: u32,
) -> Result<(), Error> {
    let pp = PostParams {
        field_manager: Some(MANAGER.into()),
        ..PostParams::default()
    };
    let job = jobs::build_job(queue, id, w, run, &ctx.workers);
    match job_api.create(&pp, &job).await {
        Ok(_) => {
            info!(queue = %id.name, job = %w.job_name, "Job created");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let existing =
                job_api
                    .get_opt(&w.job_name)
                    .await
                    .map_err(|source| Error::CreateJob {
                        job: w.job_name.clone(),
                        source,
                    })?;
            match existing {
                // Ours: created by an earlier reconcile the cache had not seen yet.
                Some(j) if owned_by(&j, &id.uid) => Ok(()),
                Some(_) => Err(Error::JobNameTaken {
                    job: w.job_name.clone(),
                }),
                // Deleted in between: the next reconcile creates it.
                None => Ok(()),
            }
        }
        Err(source) => Err(Error::CreateJob {
            job: w.job_name.clone(),
            source,
        }),
    }
}

fn owned_by(job: &Job, uid: &str) -> bool {
    job.owner_references().iter().any(|o| o.uid == uid)
}

/// The state of worker `w`'s Job. A missing Job that this run saw complete, or whose worker
/// said it finished, is Succeeded: its TTL removed it, and nothing re-runs it.
fn worker_state(
    existing: &[Job],
    w: &Worker,
    succeeded: &[String],
    producers: &[&ProducerSummary],
) -> JobState {
    match job_state(observe::find(existing, &w.job_name)) {
        JobState::Missing
            if succeeded.contains(&w.job_name)
                || producers.iter().any(|p| {
                    p.telemetry_id == w.telemetry_id && p.finished && p.status == "finished"
                }) =>
        {
            JobState::Succeeded
        }
        s => s,
    }
}

/// Before its first run, a loader's data topic must not be one an older running loader writes
/// (read from the controller's cache; without one the check is skipped).
fn topic_free(
    ctx: &Context,
    queue: &Queue,
    old: &QueueStatus,
    id: &Identity,
) -> Result<(), policy::PolicyViolation> {
    let (None, Some(store)) = (old.run, &ctx.queue_cache) else {
        return Ok(());
    };
    let queues = store.state();
    match policy::topic_writer(queue, id, queues.iter().map(|q| q.as_ref())) {
        Some(owner) => Err(policy::PolicyViolation::TopicInUse {
            topic: id.kafka_topic.clone(),
            owner,
        }),
        None => Ok(()),
    }
}

pub async fn apply(queue: &Queue, ctx: &Context) -> Result<Action, Error> {
    let old = queue.status.clone().unwrap_or_default();
    let mut st = reconciler_view(&old);
    let generation = queue.metadata.generation;
    st.observed_generation = generation;
    let live = queue.spec.time_range.is_none() && queue.spec.target.is_loader();

    let refused = match validate(queue) {
        Ok(id) => match policy::check(queue, &id, &ctx.workers)
            .and_then(|()| topic_free(ctx, queue, &old, &id))
        {
            Ok(()) => Ok(id),
            Err(e) => Err((format!("not allowed: {e}"), REASON_NOT_ALLOWED)),
        },
        Err(e) => Err((format!("invalid spec: {e}"), REASON_INVALID_SPEC)),
    };
    let id = match refused {
        Ok(id) => id,
        Err((message, reason)) => {
            st.phase = Some(Phase::Failed);
            st.message = Some(message);
            set_all(&mut st, generation, false, false, live, reason);
            finish(ctx, queue, &old, &old, &st, reason).await?;
            return Ok(Action::await_change());
        }
    };
    st.queue_id = Some(id.queue_id.clone());
    st.telemetry_id = Some(id.telemetry_id.clone());
    let invalid_before = old.condition(COND_FAILED).is_some_and(|c| {
        (c.reason == REASON_INVALID_SPEC || c.reason == REASON_NOT_ALLOWED) && c.status == "True"
    });
    if old.phase.is_some_and(Phase::is_terminal) && !invalid_before {
        // Finished Queues stay finished: their Jobs may be gone (TTL), nothing is re-run.
        if reconciler_view(&old) != st {
            write_status(ctx, queue, &st).await?;
        }
        return Ok(Action::await_change());
    }

    let mut run = st.run.unwrap_or(1);
    let job_api: Api<Job> = Api::namespaced(ctx.client.clone(), &id.namespace);
    let existing = observe::jobs(&job_api, ctx.job_cache.as_ref(), &id.name, &id.uid).await?;

    let mut written = old.clone();
    if queue.spec.suspend {
        let workers = jobs::workers(queue, &id, run, &ctx.workers);
        if old.start_sent_run == Some(run)
            && old.stop_sent_run != Some(run)
            && ctx.sent_at(&id.uid, run, Command::Stop).is_none()
        {
            publish_all(ctx, queue, &id, &workers, run, Command::Stop).await?;
            ctx.record_sent(&id.uid, run, Command::Stop, crate::time::now());
            st.stop_sent_run = Some(run);
            st.run = Some(run);
            write_status(ctx, queue, &st).await?;
            written = st.clone();
        } else if ctx.sent_at(&id.uid, run, Command::Stop).is_some() {
            st.stop_sent_run = Some(run);
        }
        let deleted = delete_run_jobs(&job_api, &existing, None).await?;
        st.run = Some(run);
        st.phase = Some(Phase::Stopped);
        st.message = Some(format!(
            "suspended; {deleted} Job(s) deleted now, resume starts run {}",
            run + 1
        ));
        if old.phase == Some(Phase::Stopped) {
            st.message = old.message.clone();
        }
        st.finished_at = st.finished_at.or_else(|| Some(crate::time::now()));
        set_all(&mut st, generation, false, true, live, REASON_SUSPENDED);
        finish(ctx, queue, &old, &written, &st, REASON_SUSPENDED).await?;
        return Ok(Action::await_change());
    }

    if old.phase == Some(Phase::Stopped) {
        run += 1;
        st.started_at = None;
        st.finished_at = None;
    }
    if old.run != Some(run) {
        st.succeeded_jobs.clear();
    }
    st.run = Some(run);

    // A Queue that waits for others starts only when they have all succeeded.
    let run_label = run.to_string();
    let run_begun = old.start_sent_run == Some(run)
        || existing
            .iter()
            .any(|j| j.labels().get(LABEL_RUN) == Some(&run_label));
    if !queue.spec.after.is_empty() && !run_begun {
        match wait_readiness(ctx, queue, &id.namespace).await? {
            Readiness::Ready => {}
            Readiness::Waiting { message } => {
                st.phase = Some(Phase::Waiting);
                st.message = Some(message);
                set_all(&mut st, generation, false, false, live, REASON_WAITING);
                finish(ctx, queue, &old, &written, &st, REASON_WAITING).await?;
                return Ok(Action::requeue(WAIT_CHECK));
            }
            Readiness::Failed { reason, message } => {
                st.phase = Some(Phase::Failed);
                st.message = Some(message);
                st.finished_at = st.finished_at.or_else(|| Some(crate::time::now()));
                set_all(&mut st, generation, false, false, live, reason);
                finish(ctx, queue, &old, &written, &st, reason).await?;
                return Ok(Action::await_change());
            }
        }
    }

    let workers = jobs::workers(queue, &id, run, &ctx.workers);
    let producers: Vec<&ProducerSummary> = old
        .producers
        .iter()
        .filter(|p| p.run == Some(run))
        .collect();
    let missing: Vec<&Worker> = workers
        .iter()
        .filter(|w| worker_state(&existing, w, &st.succeeded_jobs, &producers) == JobState::Missing)
        .collect();
    if !missing.is_empty() {
        ensure_data_topic(ctx, queue, &id).await?;
    }
    for w in missing {
        create_job(ctx, &job_api, queue, &id, w, run).await?;
    }
    st.job_name = workers.first().map(|w| w.job_name.clone());

    // The delivery is recorded by the one status write below: nothing between here and that
    // write can fail, so a restart never sends it again.
    let mut start_now = old.start_sent_run != Some(run);
    if start_now {
        st.start_sent_run = Some(run);
        if let Some(at) = ctx.sent_at(&id.uid, run, Command::Start) {
            // Delivered by this process; the cached Queue does not show it yet.
            st.started_at = Some(at);
            start_now = false;
        } else {
            publish_all(ctx, queue, &id, &workers, run, Command::Start).await?;
            let at = crate::time::now();
            ctx.record_sent(&id.uid, run, Command::Start, at.clone());
            st.started_at = Some(at);
        }
    }

    let states: Vec<(String, JobState)> = workers
        .iter()
        .map(|w| {
            let s = match worker_state(&existing, w, &st.succeeded_jobs, &producers) {
                JobState::Missing => JobState::Pending,
                s => s,
            };
            (w.job_name.clone(), s)
        })
        .collect();
    for (name, s) in &states {
        if *s == JobState::Succeeded && !st.succeeded_jobs.contains(name) {
            st.succeeded_jobs.push(name.clone());
        }
    }

    // The producer is done: its sinks store what is left and finish, whether or not its
    // `finished` event reached them.
    let main_done = states
        .first()
        .is_some_and(|(_, s)| *s == JobState::Succeeded);
    let sinks: Vec<Worker> = workers
        .iter()
        .zip(&states)
        .skip(1)
        .filter(|(_, (_, s))| !matches!(s, JobState::Succeeded | JobState::Failed { .. }))
        .map(|(w, _)| w.clone())
        .collect();
    if main_done && !sinks.is_empty() && old.drain_sent_run != Some(run) {
        if ctx.sent_at(&id.uid, run, Command::Drain).is_none() {
            publish_all(ctx, queue, &id, &sinks, run, Command::Drain).await?;
            ctx.record_sent(&id.uid, run, Command::Drain, crate::time::now());
        }
        st.drain_sent_run = Some(run);
    }

    let mut v = verdict(&states, &producers);
    // Jobs that existed before this reconcile and whose pods have not started: look at why.
    let starting: Vec<&Job> = workers
        .iter()
        .zip(&states)
        .filter(|(_, (_, s))| *s == JobState::Pending)
        .filter_map(|(w, _)| observe::find(&existing, &w.job_name))
        .collect();
    let mut requeue = RESYNC;
    if !v.phase.is_terminal() && !starting.is_empty() {
        requeue = POD_START_CHECK;
        if let Some(p) = starting_problem(ctx, &id, run, &starting).await {
            let since = starting
                .iter()
                .filter_map(|j| j.metadata.creation_timestamp.as_ref())
                .map(crate::time::to_chrono)
                .min();
            let waited = since.map_or(0, |t| (Utc::now() - t).num_seconds().max(0) as u64);
            let timeout = ctx.workers.pod_start_timeout_seconds;
            v = if p.fatal {
                Verdict {
                    phase: Phase::Failed,
                    reason: p.reason,
                    message: p.message,
                }
            } else if waited >= timeout {
                Verdict {
                    phase: Phase::Failed,
                    reason: p.reason,
                    message: format!("workers could not start within {timeout}s: {}", p.message),
                }
            } else {
                Verdict {
                    phase: v.phase,
                    reason: p.reason,
                    message: p.message,
                }
            };
        }
    }
    st.phase = Some(v.phase);
    st.message = Some(v.message);
    if v.phase.is_terminal() {
        st.finished_at = st.finished_at.or_else(|| Some(crate::time::now()));
        if v.phase == Phase::Failed && st.stop_sent_run != Some(run) {
            // Tell the rest of the run (sinks still consuming) to stop; best effort.
            if ctx.sent_at(&id.uid, run, Command::Stop).is_some()
                || publish_all(ctx, queue, &id, &workers, run, Command::Stop)
                    .await
                    .is_ok()
            {
                ctx.record_sent(&id.uid, run, Command::Stop, crate::time::now());
                st.stop_sent_run = Some(run);
            }
        }
    }
    set_all(&mut st, generation, true, false, live, v.reason);
    finish(ctx, queue, &old, &written, &st, v.reason).await?;
    if start_now {
        let note = format!("run {run}: start delivered to {} worker(s)", workers.len());
        ctx.event(queue, false, REASON_START_SENT, note).await;
    }
    Ok(if v.phase.is_terminal() {
        Action::await_change()
    } else {
        Action::requeue(requeue)
    })
}

/// Whether the Queues `queue` waits for let it start: read from the controller's cache, else
/// from one list of the namespace.
async fn wait_readiness(ctx: &Context, queue: &Queue, namespace: &str) -> Result<Readiness, Error> {
    let queues: Vec<Arc<Queue>> = match &ctx.queue_cache {
        Some(store) => store
            .state()
            .into_iter()
            .filter(|q| q.namespace().as_deref() == Some(namespace))
            .collect(),
        None => {
            let api: Api<Queue> = Api::namespaced(ctx.client.clone(), namespace);
            api.list(&ListParams::default())
                .await
                .map_err(|source| Error::ListQueues {
                    namespace: namespace.to_owned(),
                    source,
                })?
                .items
                .into_iter()
                .map(Arc::new)
                .collect()
        }
    };
    let by_name: HashMap<String, &Queue> =
        queues.iter().map(|q| (q.name_any(), q.as_ref())).collect();
    Ok(readiness(queue, |name| by_name.get(name).copied()))
}

/// Why the pods of `starting` Jobs do not start, if a person is needed: a pod's stuck waiting
/// reason, else the Job controller's refusal to create one. Read errors are logged and leave the
/// question open until the next look.
async fn starting_problem(
    ctx: &Context,
    id: &Identity,
    run: u32,
    starting: &[&Job],
) -> Option<PodProblem> {
    let pods = match observe::pods_of(&ctx.client, &id.namespace, &id.uid, run).await {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(error = %e, queue = %id.name, "listing the run's pods failed");
            return None;
        }
    };
    if let Some(p) = pod_problem(&pods) {
        return Some(p);
    }
    let without_pods: Vec<String> = starting
        .iter()
        .map(|j| j.name_any())
        .filter(|name| {
            !pods
                .iter()
                .any(|p| p.labels().get("job-name") == Some(name))
        })
        .collect();
    if without_pods.is_empty() {
        return None;
    }
    let events = match observe::failed_creates(&ctx.client, &id.namespace).await {
        Ok(e) => e,
        Err(e) => {
            tracing::debug!(error = %e, queue = %id.name, "listing FailedCreate events failed");
            return None;
        }
    };
    without_pods
        .iter()
        .find_map(|job| create_refused(job, &events))
}

/// Show an error that stopped this reconcile on the Queue: `Stalled` with the error's reason and
/// message (the rest of the reconciler's status as it was), and a Warning Event. Best effort: the
/// error itself is retried with backoff either way.
pub async fn report_error(ctx: &Context, queue: &Queue, error: &Error) {
    let old = queue.status.clone().unwrap_or_default();
    let mut st = reconciler_view(&old);
    let message = error_message(error);
    let already = old
        .condition(COND_STALLED)
        .is_some_and(|c| c.status == "True" && c.reason == error.reason() && c.message == message);
    if already {
        return;
    }
    set_condition(
        &mut st.conditions,
        COND_STALLED,
        true,
        error.reason(),
        &message,
        queue.metadata.generation,
        Utc::now(),
    );
    if let Err(e) = write_status(ctx, queue, &st).await {
        tracing::debug!(error = %e, "could not show the reconcile error in status");
    }
    ctx.event(queue, true, error.reason(), message).await;
}

/// An error with its causes, as one line.
fn error_message(error: &Error) -> String {
    let mut msg = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg.chars().take(1024).collect()
}
