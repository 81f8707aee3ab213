//! The `gnn-trainer` worker on the kit's lifecycle: wait for this run's `start`, read the graph
//! from the lake, train (resuming from this Queue's saved state if a pod before it left one),
//! report every epoch (`training`, at most [`EVENTS_PER_SECOND`] a second, always the first and
//! last), save snapshots every [`SAVE_EVERY`], and end `finished` with the report's extras, or
//! `stopped` on a `stop` (after the epoch in progress, with `last.pt` and `state.json` saved).
//!
//! Failures: bad settings, an unknown feature or label, a missing or invalid graph, a graph too
//! small to split, a missing CUDA device that was asked for: permanent. The store being away:
//! passing (the Job retries, and the new pod resumes).

use std::future::pending;
use std::time::{Duration, Instant};

use serde_json::json;
use streamforge_api::{Command, EventStatus};
use streamforge_graph::{GraphError, read_graph};
use streamforge_kit::lifecycle::{self, Ending, Failure, Start, WorkerRun};
use streamforge_kit::telemetry::Reporter;
use streamforge_kit::{KafkaSettings, WorkerEnv};
use streamforge_sinks::core::StorageError;
use streamforge_sinks::lake::store::{LakeLocation, open};
use tracing::{info, warn};

use crate::config::TrainConfig;
use crate::driver::{DriveError, Job, Observer, Ready, drive};
use crate::outputs::{CHECKPOINT, LAST, METRICS, ModelStore, PREDICTIONS};
use crate::session::{SavedFiles, SessionError};
use crate::trainer::EpochRecord;

pub const EVENTS_PER_SECOND: f64 = 2.0;
/// How often a running training saves `last.pt`, `checkpoint.pt` and `state.json`.
pub const SAVE_EVERY: Duration = Duration::from_secs(10);

fn storage(e: StorageError) -> Failure {
    if e.is_transient() {
        Failure::transient(e)
    } else {
        Failure::permanent(e)
    }
}

fn graph_failure(e: GraphError) -> Failure {
    if e.is_transient() {
        Failure::transient(e)
    } else {
        Failure::permanent(e)
    }
}

fn store_failure(what: &str, e: object_store::Error) -> Failure {
    storage(streamforge_sinks::lake::store::classify(e)).map_message(what)
}

trait MapMessage {
    fn map_message(self, what: &str) -> Self;
}

impl MapMessage for Failure {
    fn map_message(self, what: &str) -> Self {
        match self {
            Failure::Transient(m) => Failure::Transient(format!("{what}: {m}")),
            Failure::Permanent(m) => Failure::Permanent(format!("{what}: {m}")),
        }
    }
}

fn drive_failure(e: DriveError) -> Failure {
    match e {
        DriveError::Session(SessionError::Torch(t)) => Failure::permanent(format!("libtorch: {t}")),
        other => Failure::permanent(other),
    }
}

/// Per-epoch telemetry and snapshot uploads.
struct Telemetry<'a> {
    reporter: &'a Reporter,
    models: &'a ModelStore,
    model_uri: String,
    last_event: Option<Instant>,
}

impl Observer for Telemetry<'_> {
    async fn ready(&mut self, r: &Ready) {
        info!(device = %r.device, nodes = r.nodes, labelled = r.labelled, resumed_from = r.resumed_from, note = r.resume_note.as_deref().unwrap_or(""), "training");
    }

    async fn epoch(&mut self, r: &EpochRecord, epochs: usize) {
        let due = self
            .last_event
            .is_none_or(|t| t.elapsed().as_secs_f64() >= 1.0 / EVENTS_PER_SECOND);
        if !(r.epoch <= 1 || r.epoch == epochs || due) {
            return;
        }
        self.last_event = Some(Instant::now());
        let mut e = self.reporter.event(
            EventStatus::Training,
            format!(
                "epoch {}/{epochs}: loss {:.4}, validation accuracy {:.3} (best {:.3} at epoch {})",
                r.epoch, r.loss, r.val_accuracy, r.best_val_accuracy, r.best_epoch
            ),
        );
        e.progress = Some(r.epoch as f64 / epochs.max(1) as f64);
        let extra = json!({
            "epoch": r.epoch,
            "epochs": epochs,
            "loss": r.loss,
            "train_accuracy": r.train_accuracy,
            "val_accuracy": r.val_accuracy,
            "best_val_accuracy": r.best_val_accuracy,
            "model_path": self.model_uri,
        });
        if let serde_json::Value::Object(m) = extra {
            e.extra.extend(m);
        }
        if let Err(err) = self.reporter.send(e).await {
            warn!(error = %err, "training event not delivered");
        }
    }

    async fn save(&mut self, files: SavedFiles) {
        if let Err(e) = self.models.save(&files).await {
            warn!(error = %e, "snapshot not saved; the next one may be");
        }
    }
}

/// Run the worker; returns the process exit code.
pub async fn run(
    env: WorkerEnv,
    kafka: KafkaSettings,
    config: TrainConfig,
    lake: LakeLocation,
    start_timeout: Duration,
) -> u8 {
    let mut run = match WorkerRun::open(env, kafka) {
        Ok(r) => r,
        Err(f) => {
            warn!(reason = %f, "cannot open the run");
            return f.exit_code();
        }
    };
    let result = match run.wait_for_start(start_timeout).await {
        Err(f) => Err(f),
        Ok(Start::Stopped) => Ok(Ending::Stopped {
            records: None,
            message: "stopped before it started".into(),
        }),
        Ok(Start::Go(_)) => train(&mut run, config, &lake).await,
    };
    lifecycle::conclude(&run.reporter, &result).await
}

async fn train(
    run: &mut WorkerRun,
    config: TrainConfig,
    lake: &LakeLocation,
) -> Result<Ending, Failure> {
    run.reporter
        .report(
            EventStatus::Started,
            format!(
                "training {} on graph {} from {}",
                config.model,
                config.graph_name,
                lake.describe()
            ),
            Some(0),
            None,
        )
        .await;
    let opened = open(lake).map_err(storage)?;
    let graph = read_graph(&opened.store, &config.graph_name)
        .await
        .map_err(graph_failure)?;
    let models = ModelStore::new(
        opened.store.clone(),
        ModelStore::base_of(lake),
        &config.graph_name,
        &run.env.queue_id,
    );
    let resume = models
        .resume_files()
        .await
        .map_err(|e| store_failure("reading the saved state", e))?;
    let model_uri = models.uri(CHECKPOINT);
    let job = Job {
        graph,
        config,
        run: run.env.run,
        resume,
        model_uri: model_uri.clone(),
        metrics_uri: models.uri(METRICS),
        save_every: SAVE_EVERY,
    };
    let WorkerRun {
        reporter, control, ..
    } = run;
    let mut observer = Telemetry {
        reporter,
        models: &models,
        model_uri,
        last_event: None,
    };
    let stop = async {
        loop {
            match control.next().await {
                Some(c) if c.command == Command::Stop => {
                    info!("stop received; ending after the epoch in progress");
                    return;
                }
                Some(_) => {}
                None => {
                    warn!("queue-control listener ended; training goes on without commands");
                    pending::<()>().await;
                }
            }
        }
    };
    let outcome = drive(job, &mut observer, stop)
        .await
        .map_err(drive_failure)?;
    models
        .save(&outcome.files)
        .await
        .map_err(|e| store_failure("saving the checkpoint", e))?;
    let report = outcome.report;
    let records = Some(report.labelled_nodes as u64);
    if outcome.stopped {
        return Ok(Ending::Stopped {
            records,
            message: format!(
                "stopped after epoch {} of {}; {} and the best model so far saved",
                report.epochs_done,
                report
                    .parameters
                    .get("epochs")
                    .and_then(|v| v.as_u64())
                    .unwrap_or_default(),
                models.uri(LAST)
            ),
        });
    }
    models
        .put(PREDICTIONS, outcome.predictions)
        .await
        .map_err(|e| store_failure("saving predictions.json", e))?;
    let metrics = serde_json::to_vec_pretty(&report).unwrap_or_default();
    models
        .put(METRICS, metrics)
        .await
        .map_err(|e| store_failure("saving metrics.json", e))?;
    Ok(Ending::Finished {
        records,
        message: report.message(),
        extra: Some(report.finished_extra()),
    })
}
