//! Errors of the reconciler, each saying what was being done and to what.

use crate::publisher::PublishError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("listing Jobs of Queue {queue}")]
    ListJobs {
        queue: String,
        #[source]
        source: kube::Error,
    },
    #[error("creating Job {job}")]
    CreateJob {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting Job {job}")]
    DeleteJob {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing status of Queue {queue}")]
    PatchStatus {
        queue: String,
        #[source]
        source: kube::Error,
    },
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("finalizer of Queue {queue}: {message}")]
    Finalizer { queue: String, message: String },
}

impl Error {
    /// A small fixed set for metric labels and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::ListJobs { .. } | Error::CreateJob { .. } | Error::DeleteJob { .. } => "jobs",
            Error::PatchStatus { .. } => "status",
            Error::Publish(_) => "kafka",
            Error::Finalizer { .. } => "finalizer",
        }
    }
}
