//! One training run from a graph to its files and report, on one thread (libtorch work is
//! blocking: the worker runs a session on a blocking thread, the CLI in place).
//!
//! ```text
//!  Session::new: dataset → prepare → baselines → trainer (resumed from saved files if they fit)
//!  step() per epoch ──► EpochRecord      files() ──► checkpoint.pt, last.pt, state.json
//!  report() ──► metrics.json and the `finished` extras
//! ```

use std::time::Instant;

use serde_json::json;
use streamforge_graph::Graph;
use tch::Device;

use crate::baselines::{self, Baselines};
use crate::config::TrainConfig;
use crate::dataset::{Dataset, DatasetError};
use crate::model::{DROPOUT, GAT_HEADS, gat_per_head};
use crate::prepare::{DeviceError, Prepared, device, device_name};
use crate::report::Report;
use crate::split::SplitError;
use crate::state::{STATE_FORMAT, SavedState};
use crate::torch_file::{TorchFileError, read_state_dict, write_state_dict};
use crate::trainer::{EpochRecord, Trainer, WEIGHT_DECAY, WeightsError};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error(transparent)]
    File(#[from] TorchFileError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

/// The files of a saved run, as bytes.
#[derive(Clone, Debug)]
pub struct SavedFiles {
    pub checkpoint: Vec<u8>,
    pub last: Vec<u8>,
    pub state: Vec<u8>,
}

/// What a run may resume from: the three files as found in the store.
#[derive(Clone, Debug, Default)]
pub struct ResumeFiles {
    pub state: Option<Vec<u8>>,
    pub last: Option<Vec<u8>>,
    pub checkpoint: Option<Vec<u8>>,
}

pub struct Session {
    pub config: TrainConfig,
    pub run: u32,
    pub device: Device,
    pub dataset: Dataset,
    pub prepared: Prepared,
    pub baselines: Baselines,
    pub trainer: Trainer,
    pub fingerprint: String,
    pub graph_summary: serde_json::Value,
    /// The epoch a saved state let this run continue from.
    pub resumed_from: Option<usize>,
    pub resume_note: Option<String>,
    pub timings: Timings,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Timings {
    pub prepare_s: f64,
    pub baselines_s: f64,
    pub train_s: f64,
}

impl Session {
    pub fn new(
        graph: &Graph,
        config: TrainConfig,
        run: u32,
        resume: ResumeFiles,
    ) -> Result<Self, SessionError> {
        let started = Instant::now();
        let dataset = Dataset::from_graph(graph, &config.features, &config.label)?;
        let device = device(config.device)?;
        let prepared = Prepared::new(&dataset, device)?;
        let prepare_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let baselines = baselines::run(&prepared, config.learning_rate, config.seed)?;
        let baselines_s = started.elapsed().as_secs_f64();
        let trainer = Trainer::new(
            &prepared,
            config.model,
            config.hidden,
            config.loss,
            config.learning_rate,
            config.seed,
        )?;
        let fingerprint = json!({
            "model_type": config.model.as_str(),
            "hidden_size": config.hidden,
            "features": dataset.feature_names,
            "label": config.label,
            "loss_fn": config.loss.as_str(),
            "learning_rate": config.learning_rate,
            "seed": config.seed,
            "graph": graph.manifest.graph_name,
            "graph_created_at": graph.manifest.created_at,
            "nodes": graph.manifest.node_count,
            "edges": graph.manifest.edge_count,
        })
        .to_string();
        let graph_summary = json!({
            "graph_name": graph.manifest.graph_name,
            "symbols": graph.manifest.symbols,
            "source_type": graph.manifest.source_type,
            "time_range": graph.manifest.time_range,
            "created_at": graph.manifest.created_at,
            "nodes": dataset.nodes(),
            "edges": dataset.src.len(),
            "labelled_nodes": dataset.labelled(),
            "label_horizon": dataset.label_horizon,
        });
        let mut s = Session {
            config,
            run,
            device,
            dataset,
            prepared,
            baselines,
            trainer,
            fingerprint,
            graph_summary,
            resumed_from: None,
            resume_note: None,
            timings: Timings {
                prepare_s,
                baselines_s,
                train_s: 0.0,
            },
        };
        s.resume(resume);
        Ok(s)
    }

    /// Continue from saved files when they belong to this run's settings; otherwise note why
    /// not and start from epoch 0.
    fn resume(&mut self, files: ResumeFiles) {
        let Some(state_bytes) = files.state else {
            return;
        };
        let note = match self.try_resume(&state_bytes, files.last, files.checkpoint) {
            Ok(epoch) => {
                self.resumed_from = Some(epoch);
                format!("resumed after epoch {epoch}")
            }
            Err(why) => format!("saved state not used: {why}"),
        };
        tracing::info!(%note, "resume");
        self.resume_note = Some(note);
    }

    fn try_resume(
        &mut self,
        state: &[u8],
        last: Option<Vec<u8>>,
        checkpoint: Option<Vec<u8>>,
    ) -> Result<usize, String> {
        let state = SavedState::parse(state).map_err(|e| format!("state.json: {e}"))?;
        if !state.fits(&self.fingerprint) {
            return Err("it was saved with other settings or another graph".into());
        }
        let (Some(last), Some(best)) = (last, checkpoint) else {
            return Err("last.pt or checkpoint.pt is missing".into());
        };
        let last = read_state_dict(&last).map_err(|e| format!("last.pt: {e}"))?;
        let best = read_state_dict(&best).map_err(|e| format!("checkpoint.pt: {e}"))?;
        self.trainer
            .resume(&last, &best, state.best, state.history)
            .map_err(|e: WeightsError| e.to_string())?;
        Ok(state.epoch)
    }

    pub fn done(&self) -> bool {
        self.trainer.epoch >= self.config.epochs
    }

    pub fn step(&mut self) -> EpochRecord {
        let started = Instant::now();
        let r = self.trainer.step(&self.prepared);
        self.timings.train_s += started.elapsed().as_secs_f64();
        r
    }

    /// The best weights, the current weights and the state, as the files to store.
    pub fn files(&self) -> Result<SavedFiles, SessionError> {
        let best = self
            .trainer
            .best
            .clone()
            .unwrap_or(crate::trainer::BestSoFar {
                epoch: 0,
                val_accuracy: 0.0,
                val_loss: f64::MAX,
                train_accuracy: 0.0,
                test_accuracy: 0.0,
            });
        let state = SavedState {
            format: STATE_FORMAT,
            run: self.run,
            epoch: self.trainer.epoch,
            epochs: self.config.epochs,
            fingerprint: self.fingerprint.clone(),
            best,
            history: self.trainer.history.clone(),
            saved_at: chrono::Utc::now().to_rfc3339(),
        };
        Ok(SavedFiles {
            checkpoint: write_state_dict(&self.trainer.best_weights())?,
            last: write_state_dict(&self.trainer.weights())?,
            state: serde_json::to_vec_pretty(&state).unwrap_or_default(),
        })
    }

    pub fn device_name(&self) -> String {
        device_name(self.device)
    }

    /// `predictions.json`: the best model's probability of class 1 for every node (rows are
    /// node ids), with the node's split (`train`, `val`, `test`, or `none` for nodes without a
    /// label or in a purge gap) and label, as columns.
    pub fn predictions(&mut self) -> Result<Vec<u8>, SessionError> {
        let current = self.trainer.weights();
        self.trainer.load(&self.trainer.best_weights())?;
        let logits = self.trainer.predict(&self.prepared);
        self.trainer.load(&current)?;
        let p1 = if logits.size()[1] == 1 {
            logits.squeeze_dim(1).sigmoid()
        } else {
            logits.softmax(1, tch::Kind::Float).select(1, 1)
        };
        let probability: Vec<f32> =
            Vec::<f32>::try_from(p1.to_kind(tch::Kind::Float).to_device(Device::Cpu))?;
        let n = probability.len();
        let mut split = vec!["none"; n];
        let s = &self.prepared.split;
        for (name, idx) in [("train", &s.train), ("val", &s.val), ("test", &s.test)] {
            for &i in idx {
                if let Some(slot) = usize::try_from(i).ok().and_then(|i| split.get_mut(i)) {
                    *slot = name;
                }
            }
        }
        let round = |p: f32| (f64::from(p) * 1e6).round() / 1e6;
        Ok(serde_json::to_vec(&json!({
            "format": 1,
            "label": self.dataset.label_name,
            "probability_of": 1,
            "node_id": (0..n).collect::<Vec<_>>(),
            "probability": probability.iter().map(|p| round(*p)).collect::<Vec<_>>(),
            "split": split,
            "label_value": self.dataset.labels,
        }))
        .unwrap_or_default())
    }

    /// Everything the run measured, for `metrics.json` and the final event.
    pub fn report(&self, model_path: &str, metrics_path: &str) -> Report {
        let best = self.trainer.best.clone();
        let test = best.as_ref().map_or(0.0, |b| b.test_accuracy);
        let b = &self.baselines;
        let epochs_run = self.trainer.history.len()
            - self
                .resumed_from
                .unwrap_or(0)
                .min(self.trainer.history.len());
        Report {
            model_type: self.config.model.as_str().into(),
            device: self.device_name(),
            graph: self.graph_summary.clone(),
            label: self.config.label.clone(),
            loss_fn: self.config.loss.as_str().into(),
            features: self.dataset.feature_names.clone(),
            feature_mean: self.prepared.standardizer.mean.clone(),
            feature_std: self.prepared.standardizer.std.clone(),
            parameters: json!({
                "epochs": self.config.epochs,
                "learning_rate": self.config.learning_rate,
                "hidden_size": self.config.hidden,
                "dropout": DROPOUT,
                "weight_decay": WEIGHT_DECAY,
                "optimizer": "Adam",
                "seed": self.config.seed,
                "gat_heads": GAT_HEADS,
                "gat_units_per_head": gat_per_head(self.config.hidden as i64),
                "baseline_logistic_epochs": baselines::LOGISTIC_EPOCHS,
            }),
            split: json!({
                "train": self.prepared.split.ranges[0],
                "validation": self.prepared.split.ranges[1],
                "test": self.prepared.split.ranges[2],
                "purge_gap_windows": self.prepared.split.purge_gap,
            }),
            epochs_done: self.trainer.epoch,
            best_epoch: best.as_ref().map_or(0, |b| b.epoch),
            train_accuracy: best.as_ref().map_or(0.0, |b| b.train_accuracy),
            val_accuracy: best.as_ref().map_or(0.0, |b| b.val_accuracy),
            test_accuracy: test,
            baseline_majority_accuracy: b.majority_accuracy,
            baseline_majority_class: b.majority_class,
            baseline_logistic_accuracy: b.logistic_accuracy,
            beats_baselines: test > b.majority_accuracy && test > b.logistic_accuracy,
            labelled_nodes: self.dataset.labelled(),
            resumed_from: self.resumed_from,
            resume_note: self.resume_note.clone(),
            mean_epoch_ms: if epochs_run == 0 {
                0.0
            } else {
                self.timings.train_s * 1000.0 / epochs_run as f64
            },
            timings: self.timings.clone(),
            history: self.trainer.history.clone(),
            model_path: model_path.into(),
            metrics_path: metrics_path.into(),
            created_at: chrono::Utc::now().to_rfc3339(),
        }
    }
}
