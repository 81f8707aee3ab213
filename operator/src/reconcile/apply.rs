//! Apply: bring one Queue's run to what its spec asks, then write status last.
//!
//! Order within a reconcile: validate → (suspend: stop, delete Jobs) → create missing Jobs →
//! publish `start` once per run and record it at once → derive phase and conditions → status.

use chrono::Utc;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;
use streamforge_api::{Command, Phase, Queue, QueueStatus};
use tracing::info;

use super::observe;
use super::validate::{Identity, validate};
use super::{Context, MANAGER, RESYNC};
use crate::error::Error;
use crate::jobs::{self, LABEL_RUN, Worker};
use crate::status::*;

/// The part of a status the reconciler owns; telemetry fields cleared.
pub fn reconciler_view(st: &QueueStatus) -> QueueStatus {
    QueueStatus {
        records_written: None,
        progress: None,
        last_event_time: None,
        producers: vec![],
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

pub async fn apply(queue: &Queue, ctx: &Context) -> Result<Action, Error> {
    let old = queue.status.clone().unwrap_or_default();
    let mut st = reconciler_view(&old);
    let generation = queue.metadata.generation;
    st.observed_generation = generation;

    let id = match validate(queue) {
        Ok(id) => id,
        Err(e) => {
            st.phase = Some(Phase::Failed);
            st.message = Some(format!("invalid spec: {e}"));
            set_all(&mut st, generation, false, false, REASON_INVALID_SPEC);
            finish(ctx, queue, &old, &old, &st, REASON_INVALID_SPEC).await?;
            return Ok(Action::await_change());
        }
    };
    st.queue_id = Some(id.queue_id.clone());
    st.telemetry_id = Some(id.telemetry_id.clone());
    let invalid_before = old
        .condition(COND_FAILED)
        .is_some_and(|c| c.reason == REASON_INVALID_SPEC && c.status == "True");
    if old.phase.is_some_and(Phase::is_terminal) && !invalid_before {
        // Finished Queues stay finished: their Jobs may be gone (TTL), nothing is re-run.
        if reconciler_view(&old) != st {
            write_status(ctx, queue, &st).await?;
        }
        return Ok(Action::await_change());
    }

    let mut run = st.run.unwrap_or(1);
    let job_api: Api<Job> = Api::namespaced(ctx.client.clone(), &id.namespace);
    let existing = observe::jobs_of(&job_api, &id.name, &id.uid).await?;

    let mut written = old.clone();
    if queue.spec.suspend {
        let workers = jobs::workers(queue, &id, run, &ctx.workers);
        if old.start_sent_run == Some(run) && old.stop_sent_run != Some(run) {
            publish_all(ctx, queue, &id, &workers, run, Command::Stop).await?;
            st.stop_sent_run = Some(run);
            st.run = Some(run);
            write_status(ctx, queue, &st).await?;
            written = st.clone();
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
        set_all(&mut st, generation, false, true, REASON_SUSPENDED);
        finish(ctx, queue, &old, &written, &st, REASON_SUSPENDED).await?;
        return Ok(Action::await_change());
    }

    if old.phase == Some(Phase::Stopped) {
        run += 1;
        st.started_at = None;
        st.finished_at = None;
    }
    st.run = Some(run);
    let workers = jobs::workers(queue, &id, run, &ctx.workers);
    let pp = PostParams {
        field_manager: Some(MANAGER.into()),
        ..PostParams::default()
    };
    for w in &workers {
        if observe::find(&existing, &w.job_name).is_some() {
            continue;
        }
        let job = jobs::build_job(queue, &id, w, run, &ctx.workers);
        match job_api.create(&pp, &job).await {
            Ok(_) => info!(queue = %id.name, job = %w.job_name, "Job created"),
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(source) => {
                return Err(Error::CreateJob {
                    job: w.job_name.clone(),
                    source,
                });
            }
        }
    }
    st.job_name = workers.first().map(|w| w.job_name.clone());

    // The delivery is recorded by the one status write below: nothing between here and that
    // write can fail, so a restart never sends it again.
    let start_now = old.start_sent_run != Some(run);
    if start_now {
        publish_all(ctx, queue, &id, &workers, run, Command::Start).await?;
        st.start_sent_run = Some(run);
        st.started_at = Some(crate::time::now());
    }

    let states: Vec<(String, JobState)> = workers
        .iter()
        .map(|w| {
            let s = match job_state(observe::find(&existing, &w.job_name)) {
                JobState::Missing => JobState::Pending,
                s => s,
            };
            (w.job_name.clone(), s)
        })
        .collect();
    let producers: Vec<_> = old
        .producers
        .iter()
        .filter(|p| p.run == Some(run))
        .collect();
    let v = verdict(&states, &producers);
    st.phase = Some(v.phase);
    st.message = Some(v.message);
    if v.phase.is_terminal() {
        st.finished_at = st.finished_at.or_else(|| Some(crate::time::now()));
        if v.phase == Phase::Failed && st.stop_sent_run != Some(run) {
            // Tell the rest of the run (sinks still consuming) to stop; best effort.
            if publish_all(ctx, queue, &id, &workers, run, Command::Stop)
                .await
                .is_ok()
            {
                st.stop_sent_run = Some(run);
            }
        }
    }
    set_all(&mut st, generation, true, false, v.reason);
    finish(ctx, queue, &old, &written, &st, v.reason).await?;
    if start_now {
        let note = format!("run {run}: start delivered to {} worker(s)", workers.len());
        ctx.event(queue, false, REASON_START_SENT, note).await;
    }
    Ok(if v.phase.is_terminal() {
        Action::await_change()
    } else {
        Action::requeue(RESYNC)
    })
}
