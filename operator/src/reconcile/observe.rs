//! Observe (I/O only): the Jobs that exist for a Queue, and the pods and pod-creation Events of
//! a run whose workers have not started.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::ListParams;
use kube::runtime::reflector::Store;
use kube::{Api, Client, ResourceExt};

use crate::error::Error;
use crate::jobs;

/// Every Job of the Queue with `uid`, across runs: from the operator's Job cache when it has
/// one (no API request per reconcile), else listed. A Job created a moment ago may be missing
/// from the cache; creating it again answers 409 for a Job the Queue owns, which is fine.
pub async fn jobs(
    api: &Api<Job>,
    cache: Option<&Store<Job>>,
    queue: &str,
    uid: &str,
) -> Result<Vec<Job>, Error> {
    match cache {
        Some(store) => Ok(cached_jobs_of(store, uid)),
        None => jobs_of(api, queue, uid).await,
    }
}

/// The Jobs of the Queue with `uid` in `store`.
pub fn cached_jobs_of(store: &Store<Job>, uid: &str) -> Vec<Job> {
    store
        .state()
        .iter()
        .filter(|j| j.labels().get(jobs::LABEL_QUEUE_UID).map(String::as_str) == Some(uid))
        .map(|j| j.as_ref().clone())
        .collect()
}

/// Every Job of the Queue with `uid`, across runs, listed from the API server.
pub async fn jobs_of(api: &Api<Job>, queue: &str, uid: &str) -> Result<Vec<Job>, Error> {
    let list = api
        .list(&ListParams::default().labels(&jobs::queue_selector(uid)))
        .await
        .map_err(|source| Error::ListJobs {
            queue: queue.to_owned(),
            source,
        })?;
    Ok(list.items)
}

pub fn find<'a>(jobs: &'a [Job], name: &str) -> Option<&'a Job> {
    jobs.iter().find(|j| j.name_any() == name)
}

/// The pods of `run` of the Queue with `uid`.
pub async fn pods_of(
    client: &Client,
    namespace: &str,
    uid: &str,
    run: u32,
) -> Result<Vec<Pod>, kube::Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = format!("{},{}={run}", jobs::queue_selector(uid), jobs::LABEL_RUN);
    Ok(api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items)
}

/// The Job controller's `FailedCreate` Events in `namespace`.
pub async fn failed_creates(client: &Client, namespace: &str) -> Result<Vec<Event>, kube::Error> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().fields("reason=FailedCreate,involvedObject.kind=Job");
    Ok(api.list(&lp).await?.items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::job_with;
    use kube::runtime::{reflector, watcher};
    use std::collections::BTreeMap;

    #[test]
    fn the_cache_gives_a_queues_jobs_only() {
        let (store, mut writer) = reflector::store::<Job>();
        let labelled = |name: &str, uid: &str| {
            let mut j = job_with(name, 1, None);
            j.metadata.labels = Some(BTreeMap::from([(
                jobs::LABEL_QUEUE_UID.to_owned(),
                uid.to_owned(),
            )]));
            j
        };
        writer.apply_watcher_event(&watcher::Event::Apply(labelled("a-r1", "uid-a")));
        writer.apply_watcher_event(&watcher::Event::Apply(labelled("a-lake-r1", "uid-a")));
        writer.apply_watcher_event(&watcher::Event::Apply(labelled("b-r1", "uid-b")));
        let mut names: Vec<String> = cached_jobs_of(&store, "uid-a")
            .iter()
            .map(|j| j.name_any())
            .collect();
        names.sort();
        assert_eq!(names, ["a-lake-r1", "a-r1"]);
        assert!(cached_jobs_of(&store, "uid-c").is_empty());
    }
}
