//! The Queue reconciler: a kube-runtime Controller over Queues that owns their Jobs.
//!
//! Each reconcile wraps a finalizer and hands `Apply` to [`apply::apply`] and `Cleanup` to
//! [`cleanup::cleanup`]. Both are level-triggered and idempotent: they compare what exists with
//! what should, and record in status every command delivered, so a restart never repeats one.

pub mod apply;
pub mod cleanup;
pub mod observe;
pub mod policy;
pub mod validate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use streamforge_api::{Command, Queue};
use tracing::{info, warn};

use crate::config::WorkerDefaults;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::publisher::Publisher;
use crate::topics::DataTopics;

pub const FINALIZER: &str = "streamforge.io/cleanup";
/// Field manager of the reconciler's status fields.
pub const MANAGER: &str = "streamforge-operator";
/// How often a live Queue is looked at even when nothing changes.
pub const RESYNC: Duration = Duration::from_secs(300);
/// How often a run whose pods have not started is looked at again.
pub const POD_START_CHECK: Duration = Duration::from_secs(10);
/// How often a Queue that waits for others looks again (changes of those Queues also wake it).
pub const WAIT_CHECK: Duration = Duration::from_secs(30);
/// Retry of a failed reconcile: doubles from the first delay up to the cap, per Queue, and
/// starts again after a reconcile that succeeds.
pub const RETRY_FIRST: Duration = Duration::from_secs(2);
pub const RETRY_CAP: Duration = Duration::from_secs(300);

/// The delay before retry `n` (from 0) of a Queue's failing reconcile.
pub fn retry_delay(n: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(2u32.saturating_pow(n.min(16)))
        .min(RETRY_CAP)
}

/// One command delivered: run, command, when.
type Delivery = (u32, Command, Time);

pub struct Context {
    pub client: Client,
    pub workers: WorkerDefaults,
    pub publisher: Arc<dyn Publisher>,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub stop_grace: Duration,
    /// Failed reconciles in a row, per Queue UID (for the retry backoff).
    failures: Mutex<HashMap<String, u32>>,
    /// Commands this process delivered, per Queue UID: run, command and when. The Queue cache
    /// can lag behind this operator's own status write (the event of a Job it created can come
    /// first), and a reconcile of that stale copy must not deliver the same command again.
    sent: Mutex<HashMap<String, Vec<Delivery>>>,
    /// The operator's Jobs, kept by a watch; without it every reconcile lists its Queue's Jobs.
    pub job_cache: Option<Store<Job>>,
    /// The controller's Queues; without it a Queue that waits for others lists its namespace.
    pub queue_cache: Option<Store<Queue>>,
    /// Makes a Queue's data topic before its Jobs; without it the loader makes the topic.
    pub data_topics: Option<Arc<dyn DataTopics>>,
}

impl Context {
    pub fn new(
        client: Client,
        workers: WorkerDefaults,
        publisher: Arc<dyn Publisher>,
        metrics: Metrics,
        stop_grace: Duration,
    ) -> Self {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            workers,
            publisher,
            metrics,
            stop_grace,
            failures: Mutex::new(HashMap::new()),
            sent: Mutex::new(HashMap::new()),
            job_cache: None,
            queue_cache: None,
            data_topics: None,
        }
    }

    /// Read the Queues that others wait for from `store` (the controller's own).
    pub fn with_queue_cache(mut self, store: Store<Queue>) -> Self {
        self.queue_cache = Some(store);
        self
    }

    /// Make each Queue's data topic through `topics` before its Jobs.
    pub fn with_data_topics(mut self, topics: Arc<dyn DataTopics>) -> Self {
        self.data_topics = Some(topics);
        self
    }

    /// Read Jobs from `store` (kept by [`follow_jobs`]) instead of listing them.
    pub fn with_job_cache(mut self, store: Store<Job>) -> Self {
        self.job_cache = Some(store);
        self
    }

    /// When this process delivered `command` for `run` of Queue `uid`, if it did.
    pub fn sent_at(&self, uid: &str, run: u32, command: Command) -> Option<Time> {
        let sent = self.sent.lock().ok()?;
        sent.get(uid)?
            .iter()
            .find(|(r, c, _)| *r == run && *c == command)
            .map(|(_, _, t)| t.clone())
    }

    /// Remember a delivery; only the newest run of a Queue is kept.
    pub fn record_sent(&self, uid: &str, run: u32, command: Command, at: Time) {
        if let Ok(mut sent) = self.sent.lock() {
            let e = sent.entry(uid.to_owned()).or_default();
            e.retain(|(r, _, _)| *r >= run);
            e.push((run, command, at));
        }
    }

    /// Forget a Queue that is gone.
    pub fn forget(&self, uid: &str) {
        if let Ok(mut sent) = self.sent.lock() {
            sent.remove(uid);
        }
        if let Ok(mut f) = self.failures.lock() {
            f.remove(uid);
        }
    }

    /// Count one more failed reconcile of `uid`; returns how many came before it.
    fn failed(&self, uid: &str) -> u32 {
        let Ok(mut f) = self.failures.lock() else {
            return 0;
        };
        let n = f.entry(uid.to_owned()).or_insert(0);
        *n += 1;
        *n - 1
    }

    fn succeeded(&self, uid: &str) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(uid);
        }
    }

    /// Publish a Kubernetes Event about `queue`; a failure is logged, never fatal.
    pub async fn event(&self, queue: &Queue, warning: bool, reason: &str, note: String) {
        let ev = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &queue.object_ref(&())).await {
            warn!(queue = %queue.name_any(), error = %e, "publishing a Kubernetes Event failed");
        }
    }
}

pub async fn reconcile(queue: Arc<Queue>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    ctx.metrics.reconciles.inc();
    let ns = queue.namespace().unwrap_or_default();
    let name = queue.name_any();
    let api: Api<Queue> = Api::namespaced(ctx.client.clone(), &ns);
    let uid = queue.uid().unwrap_or_default();
    let result = finalizer(&api, FINALIZER, queue, |event| async {
        match event {
            Finalizer::Apply(q) => {
                let result = apply::apply(&q, &ctx).await;
                if let Err(e) = &result {
                    apply::report_error(&ctx, &q, e).await;
                }
                result
            }
            Finalizer::Cleanup(q) => cleanup::cleanup(&q, &ctx).await,
        }
    })
    .await;
    let result = match result {
        Ok(action) => Ok(action),
        Err(
            kube::runtime::finalizer::Error::ApplyFailed(e)
            | kube::runtime::finalizer::Error::CleanupFailed(e),
        ) => Err(e),
        // Cleaned up, and the Queue was gone before its finalizer could be taken off (a bulk
        // delete, or another replica): nothing is left to do.
        Err(kube::runtime::finalizer::Error::RemoveFinalizer(kube::Error::Api(s)))
            if s.code == 404 =>
        {
            Ok(Action::await_change())
        }
        Err(other) => Err(Error::Finalizer {
            queue: format!("{ns}/{name}"),
            message: other.to_string(),
        }),
    };
    ctx.metrics
        .reconcile_duration
        .observe(started.elapsed().as_secs_f64());
    if result.is_ok() {
        ctx.succeeded(&uid);
    }
    result
}

pub fn error_policy(queue: Arc<Queue>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(queue = %queue.name_any(), error = %error, source = ?std::error::Error::source(error), "reconcile failed");
    ctx.metrics
        .reconcile_errors
        .with_label_values(&[error.category()])
        .inc();
    let n = ctx.failed(&queue.uid().unwrap_or_default());
    Action::requeue(retry_delay(n))
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_the_cap() {
        assert_eq!(retry_delay(0), Duration::from_secs(2));
        assert_eq!(retry_delay(1), Duration::from_secs(4));
        assert_eq!(retry_delay(5), Duration::from_secs(64));
        assert_eq!(retry_delay(8), RETRY_CAP);
        assert_eq!(retry_delay(u32::MAX), RETRY_CAP);
    }
}

/// Selects the Jobs this operator made.
pub const JOBS_SELECTOR: &str = "app.kubernetes.io/managed-by=streamforge-operator";

/// A cache of the operator's Jobs, kept by a watch that runs until the process ends; ready once
/// the first list is in.
pub fn follow_jobs(jobs: Api<Job>) -> (Store<Job>, impl std::future::Future<Output = ()>) {
    let (store, writer) = reflector::store();
    let task = watcher(jobs, watcher::Config::default().labels(JOBS_SELECTOR))
        .default_backoff()
        .reflect(writer)
        .for_each(|ev| async move {
            if let Err(e) = ev {
                warn!(error = %e, "watching Jobs for the cache");
            }
        });
    (store, task)
}

/// The controller over `queues`, owning `jobs`. A change of a Queue also reconciles the Queues
/// that wait for it (`spec.after`), found in the controller's own cache.
pub fn controller(queues: Api<Queue>, jobs: Api<Job>) -> Controller<Queue> {
    let c = Controller::new(queues.clone(), watcher::Config::default().any_semantic());
    let store = c.store();
    c.owns(jobs, watcher::Config::default().labels(JOBS_SELECTOR))
        .watches(
            queues,
            watcher::Config::default().any_semantic(),
            move |changed: Queue| waiting_on(&store, &changed),
        )
        .shutdown_on_signal()
}

/// The Queues in `store` whose `spec.after` names `changed` (same namespace).
fn waiting_on(store: &Store<Queue>, changed: &Queue) -> Vec<ObjectRef<Queue>> {
    let name = changed.name_any();
    let ns = changed.namespace();
    store
        .state()
        .iter()
        .filter(|q| q.namespace() == ns && q.spec.after.contains(&name))
        .map(|q| ObjectRef::from_obj(q.as_ref()))
        .collect()
}

/// Run `controller` until shutdown.
pub async fn run(controller: Controller<Queue>, ctx: Arc<Context>) {
    controller
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => tracing::debug!(queue = %obj.name, "reconciled"),
                Err(e) => info!(error = %e, "reconcile loop"),
            }
        })
        .await;
}

#[cfg(test)]
mod tests;
