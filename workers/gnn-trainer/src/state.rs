//! `state.json`: what a restarted run needs to go on from its last saved epoch (with `last.pt`
//! and `checkpoint.pt` beside it). The optimiser's moments are not saved: a resumed run
//! restarts Adam's averages, which costs a few epochs of warm-up, not correctness.
//!
//! A state is used only when its `fingerprint` (model, sizes, features, label, loss, learning
//! rate, seed and the graph's identity) equals the new run's; anything else starts afresh.

use serde::{Deserialize, Serialize};

use crate::trainer::{BestSoFar, EpochRecord};

pub const STATE_FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedState {
    pub format: u32,
    /// The run (of the Queue) that saved it.
    pub run: u32,
    /// Epochs done.
    pub epoch: usize,
    pub epochs: usize,
    pub fingerprint: String,
    pub best: BestSoFar,
    pub history: Vec<EpochRecord>,
    pub saved_at: String,
}

impl SavedState {
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Whether this state can continue a run with `fingerprint`.
    pub fn fits(&self, fingerprint: &str) -> bool {
        self.format == STATE_FORMAT
            && self.fingerprint == fingerprint
            && self.history.last().map(|r| r.epoch) == Some(self.epoch)
    }
}
