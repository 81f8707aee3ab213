//! Running a session on a blocking thread while the async side keeps serving: the thread
//! trains epoch after epoch and sends each epoch's record (and, every `save_every`, a snapshot
//! of the files) over a bounded channel; the async side hands them to an [`Observer`]
//! (telemetry and uploads in the worker, printing in the CLI) and raises the stop flag when
//! `stop` resolves. The thread looks at the flag between epochs, so a stop ends the run after
//! the epoch in progress, with its files.
//!
//! ```text
//!  blocking thread: Session::new ─► Ready ─► [Epoch (Save)?]* ─► Outcome (report, files, stopped)
//!  async side:      observer.ready / observer.epoch / observer.save      stop ─► flag
//! ```

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use streamforge_graph::Graph;
use tokio::sync::mpsc;

use crate::config::TrainConfig;
use crate::report::Report;
use crate::session::{ResumeFiles, SavedFiles, Session, SessionError};
use crate::trainer::EpochRecord;

/// Messages in flight between the training thread and the async side.
const CHANNEL: usize = 64;

/// What the run found once its data and model were ready.
#[derive(Clone, Debug)]
pub struct Ready {
    pub device: String,
    pub nodes: usize,
    pub labelled: usize,
    pub features: Vec<String>,
    pub resumed_from: Option<usize>,
    pub resume_note: Option<String>,
    pub epochs: usize,
}

pub enum Progress {
    Ready(Ready),
    Epoch(EpochRecord),
    Save(SavedFiles),
}

pub struct Job {
    pub graph: Graph,
    pub config: TrainConfig,
    pub run: u32,
    pub resume: ResumeFiles,
    pub model_uri: String,
    pub metrics_uri: String,
    pub save_every: Duration,
}

#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub files: SavedFiles,
    /// `predictions.json` of the best model.
    pub predictions: Vec<u8>,
    pub stopped: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("the training thread failed: {0}")]
    Thread(String),
}

pub trait Observer {
    fn ready(&mut self, ready: &Ready) -> impl Future<Output = ()>;
    fn epoch(&mut self, record: &EpochRecord, epochs: usize) -> impl Future<Output = ()>;
    fn save(&mut self, files: SavedFiles) -> impl Future<Output = ()>;
}

fn train(
    job: Job,
    stop: &AtomicBool,
    tx: &mpsc::Sender<Progress>,
) -> Result<Outcome, SessionError> {
    let mut s = Session::new(&job.graph, job.config, job.run, job.resume)?;
    drop(job.graph);
    let _ = tx.blocking_send(Progress::Ready(Ready {
        device: s.device_name(),
        nodes: s.dataset.nodes(),
        labelled: s.dataset.labelled(),
        features: s.dataset.feature_names.clone(),
        resumed_from: s.resumed_from,
        resume_note: s.resume_note.clone(),
        epochs: s.config.epochs,
    }));
    let mut last_save = Instant::now();
    let mut stopped = false;
    while !s.done() {
        if stop.load(Ordering::Relaxed) {
            stopped = true;
            break;
        }
        let record = s.step();
        let _ = tx.blocking_send(Progress::Epoch(record));
        if !s.done() && last_save.elapsed() >= job.save_every {
            let _ = tx.blocking_send(Progress::Save(s.files()?));
            last_save = Instant::now();
        }
    }
    Ok(Outcome {
        report: s.report(&job.model_uri, &job.metrics_uri),
        files: s.files()?,
        predictions: s.predictions()?,
        stopped,
    })
}

/// Run `job` to its end or until `stop` resolves; see the module docs.
pub async fn drive<O: Observer>(
    job: Job,
    observer: &mut O,
    stop: impl Future<Output = ()>,
) -> Result<Outcome, DriveError> {
    let flag = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = mpsc::channel(CHANNEL);
    let thread_flag = flag.clone();
    let handle = tokio::task::spawn_blocking(move || train(job, &thread_flag, &tx));
    let mut epochs = 0;
    let mut stop = std::pin::pin!(stop);
    let mut stopping = false;
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Progress::Ready(r)) => {
                    epochs = r.epochs;
                    observer.ready(&r).await;
                }
                Some(Progress::Epoch(r)) => observer.epoch(&r, epochs).await,
                Some(Progress::Save(f)) => observer.save(f).await,
                None => break,
            },
            () = &mut stop, if !stopping => {
                stopping = true;
                flag.store(true, Ordering::Relaxed);
            }
        }
    }
    match handle.await {
        Ok(r) => Ok(r?),
        Err(e) => Err(DriveError::Thread(e.to_string())),
    }
}
