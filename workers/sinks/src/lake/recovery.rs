//! Exactly-once files across restarts. Before a batch's files are written, an intent naming
//! them is stored for each Kafka partition in the batch, under
//! `_streamforge/intents/<topic>/p<partition>/<start>-<end>.json`. Offsets are committed only
//! after the files are stored, all partitions of a batch in one commit, so on restart every
//! intent that starts at or after its partition's committed offset belongs to a batch whose
//! records Kafka will deliver again: its files and its sibling intents are deleted and the
//! replay writes them anew, whatever the new batch boundaries are. Files of committed batches
//! are never touched.

use serde::{Deserialize, Serialize};

use super::layout::OffsetRange;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub topic: String,
    pub partition: i32,
    pub start: i64,
    pub end: i64,
    /// Object paths of the batch's data files.
    pub files: Vec<String>,
    /// Every partition's range in the batch (this one included), to find sibling intents.
    #[serde(default)]
    pub batch: Vec<OffsetRange>,
}

/// Which of `intents` (of one partition) to undo when consumption resumes at `resume`.
pub fn to_undo(intents: Vec<Intent>, resume: i64) -> Vec<Intent> {
    intents.into_iter().filter(|i| i.start >= resume).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(start: i64, end: i64) -> Intent {
        Intent {
            topic: "t".into(),
            partition: 0,
            start,
            end,
            files: vec![format!("f{start}")],
            batch: vec![],
        }
    }

    #[test]
    fn only_batches_that_will_be_replayed_are_undone() {
        let all = vec![intent(0, 99), intent(100, 199), intent(200, 250)];
        let undo = to_undo(all.clone(), 100);
        assert_eq!(undo, vec![intent(100, 199), intent(200, 250)]);
        assert!(to_undo(all.clone(), 251).is_empty(), "all committed");
        assert_eq!(
            to_undo(all, 0).len(),
            3,
            "nothing committed: everything is replayed"
        );
    }
}
