//! Cleanup on deletion: send `stop` to a live run, delete its Jobs, release the finalizer.
//!
//! The finalizer cannot wedge a namespace: when `stop` cannot be delivered within the grace
//! period after deletion was asked, a Warning event says so and the finalizer is released anyway
//! (the Jobs are deleted, so the workers end with their pods).

use chrono::Utc;
use k8s_openapi::api::batch::v1::Job;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use streamforge_api::{Command, Queue};
use tracing::warn;

use super::Context;
use super::apply::delete_run_jobs;
use super::observe;
use super::validate::validate;
use crate::error::Error;
use crate::jobs;
use crate::status::REASON_STOP_NOT_DELIVERED;

pub async fn cleanup(queue: &Queue, ctx: &Context) -> Result<Action, Error> {
    let st = queue.status.clone().unwrap_or_default();
    let run = st.run.unwrap_or(1);
    let live = st.start_sent_run == Some(run)
        && st.stop_sent_run != Some(run)
        && !st.phase.is_some_and(|p| p.is_terminal());
    if let (true, Ok(id)) = (live, validate(queue)) {
        for w in jobs::workers(queue, &id, run, &ctx.workers) {
            let cmd = jobs::command(
                queue,
                &id,
                &w,
                run,
                Command::Stop,
                Utc::now().timestamp_micros() as f64 / 1e6,
            );
            if let Err(e) = ctx.publisher.publish(cmd).await {
                ctx.metrics
                    .kafka_errors
                    .with_label_values(&["publish"])
                    .inc();
                let asked = queue
                    .metadata
                    .deletion_timestamp
                    .as_ref()
                    .map_or_else(Utc::now, crate::time::to_chrono);
                let waited = (Utc::now() - asked).to_std().unwrap_or_default();
                if waited < ctx.stop_grace {
                    return Err(e.into());
                }
                warn!(queue = %queue.name_any(), error = %e, "stop not delivered within the grace period; releasing the finalizer");
                ctx.event(
                    queue,
                    true,
                    REASON_STOP_NOT_DELIVERED,
                    format!(
                        "stop could not be delivered within {}s: {e}; Jobs deleted anyway",
                        ctx.stop_grace.as_secs()
                    ),
                )
                .await;
                break;
            }
            ctx.metrics.commands.with_label_values(&["stop"]).inc();
        }
    }
    if let Some(uid) = queue.uid() {
        let api: Api<Job> =
            Api::namespaced(ctx.client.clone(), &queue.namespace().unwrap_or_default());
        let existing = observe::jobs_of(&api, &queue.name_any(), &uid).await?;
        delete_run_jobs(&api, &existing, None).await?;
        ctx.forget(&uid);
    }
    Ok(Action::await_change())
}
