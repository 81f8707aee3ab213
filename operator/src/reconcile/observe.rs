//! Observe (I/O only): the Jobs that exist for a Queue, and the pods and pod-creation Events of
//! a run whose workers have not started.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};

use crate::error::Error;
use crate::jobs;

/// Every Job of the Queue with `uid`, across runs.
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
