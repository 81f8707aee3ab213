//! Where a run's files live in the lake: `models/<graph_name>/<run_id>/` (the run id is the
//! Queue's `QUEUE_ID`, or the CLI's `--run-id`):
//!
//! ```text
//! checkpoint.pt   the best epoch's weights (a torch.save state dict)
//! last.pt         the latest saved epoch's weights, for a resume
//! state.json      the epoch, best so far and history of last.pt (written after both .pt files)
//! metrics.json    the run's report, written at the end
//! predictions.json  the best model's probability per node, its split and label, at the end
//! ```
//!
//! Paths are reported as `s3://<bucket>/models/...` or as local paths.

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use streamforge_sinks::lake::store::LakeLocation;

use crate::session::{ResumeFiles, SavedFiles};

pub const CHECKPOINT: &str = "checkpoint.pt";
pub const LAST: &str = "last.pt";
pub const STATE: &str = "state.json";
pub const METRICS: &str = "metrics.json";
pub const PREDICTIONS: &str = "predictions.json";

pub struct ModelStore {
    store: Arc<dyn ObjectStore>,
    base: String,
    prefix: String,
}

impl ModelStore {
    /// `base` is how paths are shown: `s3://bucket` or a directory.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        base: impl Into<String>,
        graph: &str,
        run_id: &str,
    ) -> Self {
        ModelStore {
            store,
            base: base.into().trim_end_matches('/').to_owned(),
            prefix: format!("models/{graph}/{run_id}"),
        }
    }

    /// How a lake location shows its paths.
    pub fn base_of(location: &LakeLocation) -> String {
        location.base()
    }

    fn path(&self, file: &str) -> Path {
        Path::from(format!("{}/{file}", self.prefix))
    }

    pub fn uri(&self, file: &str) -> String {
        format!("{}/{}/{file}", self.base, self.prefix)
    }

    pub async fn put(&self, file: &str, bytes: Vec<u8>) -> Result<(), object_store::Error> {
        self.store
            .put(&self.path(file), PutPayload::from(bytes))
            .await
            .map(|_| ())
    }

    /// A file's bytes, `None` when it does not exist.
    pub async fn get(&self, file: &str) -> Result<Option<Vec<u8>>, object_store::Error> {
        match self.store.get(&self.path(file)).await {
            Ok(r) => Ok(Some(r.bytes().await?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Store a snapshot: both weight files first, then the state that describes them.
    pub async fn save(&self, files: &SavedFiles) -> Result<(), object_store::Error> {
        self.put(CHECKPOINT, files.checkpoint.clone()).await?;
        self.put(LAST, files.last.clone()).await?;
        self.put(STATE, files.state.clone()).await
    }

    /// What an earlier pod of this run saved, if anything.
    pub async fn resume_files(&self) -> Result<ResumeFiles, object_store::Error> {
        let state = self.get(STATE).await?;
        if state.is_none() {
            return Ok(ResumeFiles::default());
        }
        Ok(ResumeFiles {
            state,
            last: self.get(LAST).await?,
            checkpoint: self.get(CHECKPOINT).await?,
        })
    }
}
