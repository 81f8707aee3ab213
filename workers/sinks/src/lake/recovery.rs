//! Exactly-once files across restarts.
//!
//! Records held back across batches (a directory whose period is still open) pin their
//! partition's committed offset at the oldest of them, while later records of the partition
//! may already be in files. The commit then carries [`CommitMeta`]: the offset consumed up to
//! (`next`), which intents are measured against instead of the committed offset, and the
//! highest key positions stored, so the replay from the committed offset drops what is already
//! in files and stores again only what was held. A write of held records alone (at the end of
//! a run) names its intents with an empty range at `next`; `flushed` says it was committed.
//!
//! The rest of this module's rule, unchanged: Before a batch's files are written, an intent naming
//! them is stored for each Kafka partition in the batch, under
//! `_streamforge/intents/<topic>/p<partition>/<start>-<end>.json`. Offsets are committed only
//! after the files are stored, all partitions of a batch in one commit, so on restart every
//! intent that starts at or after its partition's committed offset belongs to a batch whose
//! records Kafka will deliver again: its files and its sibling intents are deleted and the
//! replay writes them anew, whatever the new batch boundaries are. Files of committed batches
//! are never touched.

use std::collections::HashMap;

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

/// What the lake commits with a partition's offset (as JSON in the commit's metadata).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitMeta {
    /// The next offset consumed: every batch up to here was handed to the lake, and the next
    /// write's intents start here.
    pub next: i64,
    /// A write of held records alone, at `next`, is part of this commit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flushed: bool,
    /// The highest key position stored per key prefix, while records below `next` are held.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub written: HashMap<String, i64>,
}

impl CommitMeta {
    /// The metadata of a commit, if the lake wrote it.
    pub fn parse(metadata: &str) -> Option<CommitMeta> {
        serde_json::from_str(metadata).ok()
    }
}

/// Which of `intents` (of one partition) to undo when the last commit says consumption had
/// reached `next` (the committed offset itself when the commit has no [`CommitMeta`]), and
/// whether a write of held records alone at `next` was committed (`flushed`).
pub fn to_undo(intents: Vec<Intent>, next: i64, flushed: bool) -> Vec<Intent> {
    intents
        .into_iter()
        .filter(|i| i.start >= next && !(flushed && i.start == next && i.end < i.start))
        .collect()
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
        let undo = to_undo(all.clone(), 100, false);
        assert_eq!(undo, vec![intent(100, 199), intent(200, 250)]);
        assert!(to_undo(all.clone(), 251, false).is_empty(), "all committed");
        assert_eq!(
            to_undo(all, 0, false).len(),
            3,
            "nothing committed: everything is replayed"
        );
    }

    #[test]
    fn a_write_of_held_records_alone_is_undone_until_its_commit_says_flushed() {
        // Batches up to 199 committed, then the held records stored alone (an empty range at
        // 200), then a batch from 200.
        let all = vec![intent(100, 199), intent(200, 199), intent(200, 260)];
        assert_eq!(
            to_undo(all.clone(), 200, false),
            vec![intent(200, 199), intent(200, 260)],
            "the commit after the batch to 199: the flush is not committed"
        );
        assert_eq!(
            to_undo(all, 200, true),
            vec![intent(200, 260)],
            "the flush committed: only the next batch is undone"
        );
    }

    #[test]
    fn commit_metadata_round_trips_and_other_metadata_is_not_ours() {
        let m = CommitMeta {
            next: 42,
            flushed: true,
            written: HashMap::from([("BTCUSDT|1m".to_owned(), 1_700_000_000_000)]),
        };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(CommitMeta::parse(&text), Some(m));
        assert_eq!(
            serde_json::to_string(&CommitMeta {
                next: 7,
                ..CommitMeta::default()
            })
            .unwrap(),
            r#"{"next":7}"#
        );
        assert_eq!(CommitMeta::parse("some other tool's note"), None);
        assert_eq!(CommitMeta::parse(""), None);
    }
}
