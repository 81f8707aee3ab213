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
    #[error("listing the Queues of namespace {namespace}")]
    ListQueues {
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error("creating Job {job}")]
    CreateJob {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("Job {job} exists and belongs to something else; rename the Queue or remove that Job")]
    JobNameTaken { job: String },
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
    #[error("making the data topic of Queue {queue}")]
    DataTopic {
        queue: String,
        #[source]
        source: streamforge_kit::topics::TopicError,
    },
    #[error("finalizer of Queue {queue}: {message}")]
    Finalizer { queue: String, message: String },
}

impl Error {
    /// A small fixed set for metric labels and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::ListJobs { .. } | Error::CreateJob { .. } | Error::DeleteJob { .. } => "jobs",
            Error::JobNameTaken { .. } => "conflict",
            Error::ListQueues { .. } => "queues",
            Error::PatchStatus { .. } => "status",
            Error::Publish(_) | Error::DataTopic { .. } => "kafka",
            Error::Finalizer { .. } => "finalizer",
        }
    }
}

impl Error {
    /// The reason of the `Stalled` condition and the Warning Event that show this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::ListJobs { .. } => "ListJobsFailed",
            Error::ListQueues { .. } => "ListQueuesFailed",
            Error::CreateJob { source, .. } => match source {
                kube::Error::Api(e) if e.code == 403 => "JobForbidden",
                kube::Error::Api(e) if e.code == 422 => "JobInvalid",
                _ => "CreateJobFailed",
            },
            Error::JobNameTaken { .. } => "JobNameTaken",
            Error::DeleteJob { .. } => "DeleteJobFailed",
            Error::PatchStatus { .. } => "StatusWriteFailed",
            Error::Publish(_) => "CommandNotDelivered",
            Error::DataTopic { .. } => "DataTopicNotMade",
            Error::Finalizer { .. } => "FinalizerFailed",
        }
    }
}
