//! A graph as the trainer needs it: the chosen features as one row-major f32 matrix, the
//! chosen label, each node's window and the edges as given (messages `src` → `dst`; never
//! reversed, since temporal edges point to the future on purpose).
//!
//! Feature names (`FEATURES`) match the manifest's `features` by this rule, case-insensitively:
//! a name equal to a feature selects it; otherwise a name selects every feature that starts
//! with the name followed by `_` (so `VWAP` selects `vwap_gap`, `RETURN` selects `return_1`
//! and `return_5`). A name that selects nothing is an error that lists the graph's features.
//! The selection keeps the manifest's column order.

use streamforge_graph::Graph;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DatasetError {
    #[error("unknown feature(s) {unknown:?}; the graph has {available:?}")]
    UnknownFeatures {
        unknown: Vec<String>,
        available: Vec<String>,
    },
    #[error("unknown label {label:?}; the graph has {available:?}")]
    UnknownLabel {
        label: String,
        available: Vec<String>,
    },
    #[error("label {label:?} has value {value} at node {node}; labels are 0 or 1")]
    LabelValue {
        label: String,
        node: usize,
        value: i64,
    },
    #[error("feature {feature:?} has no column in the node table")]
    MissingColumn { feature: String },
    #[error("the graph has no features")]
    NoFeatures,
}

/// The trainer's view of one graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub feature_names: Vec<String>,
    /// `n × f`, row-major.
    pub features: Vec<f32>,
    pub labels: Vec<Option<i64>>,
    pub label_name: String,
    pub window_start: Vec<i64>,
    pub src: Vec<i64>,
    pub dst: Vec<i64>,
    /// How many windows ahead the labels look: the purge gap between splits.
    pub label_horizon: usize,
}

/// Two classes: labels are 0/1 by the graph format.
pub const CLASSES: i64 = 2;

impl Dataset {
    pub fn nodes(&self) -> usize {
        self.labels.len()
    }

    pub fn width(&self) -> usize {
        self.feature_names.len()
    }

    pub fn labelled(&self) -> usize {
        self.labels.iter().filter(|l| l.is_some()).count()
    }

    /// Build from a validated graph with the requested features (empty: all) and label.
    pub fn from_graph(
        graph: &Graph,
        requested: &[String],
        label: &str,
    ) -> Result<Self, DatasetError> {
        let names = select_features(&graph.manifest.features, requested)?;
        let n = graph.nodes.len();
        let mut columns = Vec::with_capacity(names.len());
        for name in &names {
            let col = graph
                .nodes
                .feature(name)
                .ok_or_else(|| DatasetError::MissingColumn {
                    feature: name.clone(),
                })?;
            columns.push(col);
        }
        let mut features = vec![0f32; n * names.len()];
        for (j, col) in columns.iter().enumerate() {
            for (i, v) in col.iter().enumerate().take(n) {
                features[i * names.len() + j] = *v as f32;
            }
        }
        let labels = graph
            .nodes
            .label(label)
            .ok_or_else(|| DatasetError::UnknownLabel {
                label: label.to_owned(),
                available: graph.manifest.labels.clone(),
            })?
            .to_vec();
        if let Some((node, value)) = labels
            .iter()
            .enumerate()
            .find_map(|(i, l)| l.filter(|v| *v != 0 && *v != 1).map(|v| (i, v)))
        {
            return Err(DatasetError::LabelValue {
                label: label.to_owned(),
                node,
                value,
            });
        }
        Ok(Dataset {
            feature_names: names,
            features,
            labels,
            label_name: label.to_owned(),
            window_start: graph.nodes.window_start.clone(),
            src: graph.edges.src.clone(),
            dst: graph.edges.dst.clone(),
            label_horizon: graph.manifest.label_horizon.max(1) as usize,
        })
    }
}

/// The features `requested` selects from `available` by the rule in the module docs (all of
/// them when nothing is requested), in `available`'s order.
pub fn select_features(
    available: &[String],
    requested: &[String],
) -> Result<Vec<String>, DatasetError> {
    if available.is_empty() {
        return Err(DatasetError::NoFeatures);
    }
    if requested.is_empty() {
        return Ok(available.to_vec());
    }
    let mut chosen = vec![false; available.len()];
    let mut unknown = Vec::new();
    for r in requested {
        let r = r.trim().to_ascii_lowercase();
        let exact: Vec<usize> = (0..available.len())
            .filter(|&i| available[i].to_ascii_lowercase() == r)
            .collect();
        let hits = if exact.is_empty() {
            let prefix = format!("{r}_");
            (0..available.len())
                .filter(|&i| available[i].to_ascii_lowercase().starts_with(&prefix))
                .collect()
        } else {
            exact
        };
        if hits.is_empty() {
            unknown.push(r);
        }
        for i in hits {
            chosen[i] = true;
        }
    }
    if !unknown.is_empty() {
        return Err(DatasetError::UnknownFeatures {
            unknown,
            available: available.to_vec(),
        });
    }
    Ok(available
        .iter()
        .zip(chosen)
        .filter(|(_, c)| *c)
        .map(|(n, _)| n.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn features_match_by_name_or_prefix_case_insensitively() {
        let avail = names(&["return", "volatility", "rsi", "vwap_gap", "return_5"]);
        assert_eq!(select_features(&avail, &[]).unwrap(), avail);
        assert_eq!(
            select_features(&avail, &names(&["VWAP", "RSI"])).unwrap(),
            names(&["rsi", "vwap_gap"])
        );
        // An exact name wins over the prefix rule.
        assert_eq!(
            select_features(&avail, &names(&["Return"])).unwrap(),
            names(&["return"])
        );
        let err = select_features(&avail, &names(&["rsi", "macd"])).unwrap_err();
        assert_eq!(
            err,
            DatasetError::UnknownFeatures {
                unknown: names(&["macd"]),
                available: avail.clone()
            }
        );
        assert!(err.to_string().contains("vwap_gap"), "{err}");
    }
}
