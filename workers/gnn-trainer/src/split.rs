//! Splitting nodes by time: the distinct `window_start`s in order, the first 70 % of windows for
//! training, the next 15 % for validation, the last 15 % for testing, with a purge gap of
//! `label_horizon` windows at the start of validation and of test: a label looks that many
//! windows ahead, so the last training labels see into the windows purged after them.
//!
//! Nodes without a label are in no split. Every node (labelled or not) still takes part in
//! message passing: features are computed from each node's own window and its past only, so
//! this is ordinary transductive training without look-ahead.

use serde::Serialize;

pub const TRAIN_SHARE: f64 = 0.70;
pub const VAL_SHARE: f64 = 0.15;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SplitError {
    #[error(
        "too few windows to split by time: {windows} window(s) with a purge gap of {gap}; the {split} split is empty"
    )]
    TooSmall {
        windows: usize,
        gap: usize,
        split: &'static str,
    },
}

/// The windows of one split (inclusive, ms since the epoch) and how many nodes it scores.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SplitRange {
    pub first_window: i64,
    pub last_window: i64,
    pub windows: usize,
    pub labelled_nodes: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// Labelled nodes of each split.
    pub train: Vec<i64>,
    pub val: Vec<i64>,
    pub test: Vec<i64>,
    /// Every node in a training window, labelled or not: what feature statistics are fit on.
    pub train_window_nodes: Vec<usize>,
    pub ranges: [SplitRange; 3],
    pub purge_gap: usize,
}

/// Split `window_start` (one per node) by time; see the module docs.
pub fn split_by_time(
    window_start: &[i64],
    labels: &[Option<i64>],
    purge_gap: usize,
) -> Result<Split, SplitError> {
    let mut windows: Vec<i64> = window_start.to_vec();
    windows.sort_unstable();
    windows.dedup();
    let t = windows.len();
    let n_train = (t as f64 * TRAIN_SHARE).floor() as usize;
    let n_val = (t as f64 * VAL_SHARE).floor() as usize;
    // [start, end) in window indices.
    let bounds = [
        (0, n_train),
        (n_train + purge_gap, n_train + n_val),
        (n_train + n_val + purge_gap, t),
    ];
    let names = ["train", "validation", "test"];
    let mut members: [Vec<i64>; 3] = Default::default();
    let mut train_window_nodes = Vec::new();
    for (i, w) in window_start.iter().enumerate() {
        let Ok(idx) = windows.binary_search(w) else {
            continue;
        };
        if idx < bounds[0].1 {
            train_window_nodes.push(i);
        }
        if labels.get(i).copied().flatten().is_none() {
            continue;
        }
        if let Some(s) = bounds.iter().position(|(a, b)| (*a..*b).contains(&idx)) {
            members[s].push(i as i64);
        }
    }
    let mut ranges = Vec::with_capacity(3);
    for (s, (a, b)) in bounds.iter().enumerate() {
        if a >= b || members[s].is_empty() {
            return Err(SplitError::TooSmall {
                windows: t,
                gap: purge_gap,
                split: names[s],
            });
        }
        ranges.push(SplitRange {
            first_window: windows[*a],
            last_window: windows[b - 1],
            windows: b - a,
            labelled_nodes: members[s].len(),
        });
    }
    let [train, val, test] = members;
    let ranges: [SplitRange; 3] = match ranges.try_into() {
        Ok(r) => r,
        Err(_) => unreachable!("three splits were pushed"),
    };
    Ok(Split {
        train,
        val,
        test,
        train_window_nodes,
        ranges,
        purge_gap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_do_not_overlap_in_time_and_keep_the_purge_gap() {
        // 40 windows × 3 symbols, shuffled node order; the last window is unlabelled.
        let mut ws = Vec::new();
        let mut labels = Vec::new();
        for _symbol in 0..3 {
            for w in (0..40i64).rev() {
                ws.push(1_000 + w * 300_000);
                labels.push((w < 39).then_some(w % 2));
            }
        }
        let gap = 2;
        let split = split_by_time(&ws, &labels, gap).unwrap();
        let windows_of = |ids: &[i64]| {
            let mut v: Vec<i64> = ids.iter().map(|&i| ws[i as usize]).collect();
            v.sort();
            v.dedup();
            v
        };
        let (tr, va, te) = (
            windows_of(&split.train),
            windows_of(&split.val),
            windows_of(&split.test),
        );
        assert_eq!(tr.len(), 28);
        // Validation: windows 28..34 minus 2 purged; test: 34..40 minus 2 purged, minus the
        // unlabelled last window.
        assert_eq!(va.len(), 6 - gap);
        assert_eq!(te.len(), 6 - gap - 1);
        let step = 300_000;
        assert!(tr.last().unwrap() + (gap as i64 + 1) * step <= va[0]);
        assert!(va.last().unwrap() + (gap as i64 + 1) * step <= te[0]);
        assert!(split.test.iter().all(|&i| labels[i as usize].is_some()));
        assert_eq!(split.train_window_nodes.len(), 28 * 3);
        assert_eq!(split.ranges[1].windows, 4);
    }

    #[test]
    fn too_few_windows_is_an_error_naming_the_empty_split() {
        let ws: Vec<i64> = (0..6).collect();
        let labels = vec![Some(1); 6];
        let err = split_by_time(&ws, &labels, 1).unwrap_err();
        assert!(err.to_string().contains("validation"), "{err}");
    }
}
