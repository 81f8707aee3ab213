//! Observe (I/O only): the Jobs that exist for a Queue.

use k8s_openapi::api::batch::v1::Job;
use kube::api::ListParams;
use kube::{Api, ResourceExt};

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
