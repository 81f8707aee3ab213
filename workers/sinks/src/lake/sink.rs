//! The lake as a sink [`Storage`], its I/O: each batch is planned (pure, [`super::plan`]) into
//! one Parquet file per symbol/type/period directory (more past [`MAX_FILE_ROWS`]) and its
//! intents; the intents are stored first
//! (see [`super::recovery`]), then the files. Files are encoded on blocking threads, one
//! per core, and uploaded several at once. A directory whose period is still open is held
//! back for the next batch (at most [`HOLD_RECORDS`] records, for at most [`HOLD_FOR`]), and
//! the commit says how far that is safe ([`Storage::commit_points`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryFutureExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};

use super::layout::{self, Grain};
use super::parquet_file;
use super::plan::{FilePlan, Latest, Plan, Planner, Positions, Rows, mark_written};
use super::recovery::{self, CommitMeta, Intent};
use super::store::{LakeLocation, OpenedLake, classify, open};
use crate::core::{Batch, CommitPoint, Record, Resume, Storage, StorageError, WriteStats};

/// The most rows one file holds by default (`LAKE_FILE_ROWS`): about 20 MB of 1m candles or
/// trades. Files are otherwise as large as a batch's rows of one directory.
pub const MAX_FILE_ROWS: usize = 1_000_000;

/// The lake connector's batch by default (`BATCH_RECORDS`). Files do not follow batches
/// (directories still open are held back, [`HOLD_RECORDS`]): the batch sets the memory of the
/// loop (two batches, one read while the other is stored) and how often complete directories
/// can be stored.
pub const BATCH_RECORDS: usize = 100_000;

/// The most records held back across batches by default (`LAKE_HOLD_RECORDS`): a month of
/// 1m candles of ten symbols (446,400) fits, so a topic of ten symbols gets one file per
/// symbol and month, not one per batch. About 150 MB of 1m candles (docs/sinks.md).
pub const HOLD_RECORDS: usize = 500_000;

/// How long records are held back at most by default (`LAKE_HOLD_SECS`): a live stream's
/// open day or month is stored this often, so the lake lags the topic by no more.
pub const HOLD_FOR: Duration = Duration::from_secs(600);

pub struct LakeSink {
    lake: OpenedLake,
    pub location: LakeLocation,
    /// Path prefix inside the bucket or directory ("" for its root).
    pub prefix: String,
    pub topic: String,
    /// The `type=` directory: the Queue's data type (`api_candles_5m`, ...).
    pub kind: String,
    /// The symbol for records that carry none.
    pub symbol: String,
    /// Files stored at once.
    pub concurrency: usize,
    /// The most rows one file holds.
    pub max_file_rows: usize,
    /// How much time one directory holds, from `kind`.
    grain: Grain,
    /// Files encoded at once (one per core).
    encoders: tokio::sync::Semaphore,
    requests: AtomicU64,
    bytes: AtomicU64,
    /// Highest position written per partition and key prefix in this run; see
    /// [`Planner::is_repeat`]. Shared with the planning thread while a batch is planned.
    written_up_to: Arc<Positions>,
    /// Records dropped as re-deliveries of a key already stored in this run.
    pub duplicates: u64,
    /// The most records held back across batches; 0 stores every batch whole.
    pub hold_records: usize,
    /// How long records are held back at most.
    pub hold_for: Duration,
    /// Records held back for the next write, in (partition, offset) order.
    held: Arc<Vec<Record>>,
    /// Since when records are held back.
    held_since: Option<Instant>,
    /// The next offset per partition handed to the lake (the batches' commit positions).
    consumed: HashMap<i32, i64>,
    /// Partitions whose stored or held records changed since the last commit.
    touched: HashSet<i32>,
    /// Partitions whose held records were stored alone, at which consumed offset.
    flushed_at: HashMap<i32, i64>,
    /// The latest period seen per symbol and partition in this run.
    latest: Arc<Latest>,
    /// The topic's partitions, from the positions the run resumes from.
    partitions: Vec<i32>,
}

impl LakeSink {
    pub fn new(
        location: LakeLocation,
        prefix: &str,
        topic: &str,
        kind: &str,
        symbol: &str,
    ) -> Result<Self, StorageError> {
        Ok(Self {
            lake: open(&location)?,
            location,
            prefix: prefix.trim_matches('/').to_owned(),
            topic: topic.to_owned(),
            kind: kind.to_owned(),
            symbol: symbol.to_owned(),
            concurrency: 8,
            max_file_rows: MAX_FILE_ROWS,
            grain: Grain::of(kind),
            encoders: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, usize::from),
            ),
            requests: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            written_up_to: Arc::default(),
            duplicates: 0,
            hold_records: HOLD_RECORDS,
            hold_for: HOLD_FOR,
            held: Arc::default(),
            held_since: None,
            consumed: HashMap::new(),
            touched: HashSet::new(),
            flushed_at: HashMap::new(),
            latest: Arc::default(),
            partitions: vec![],
        })
    }

    /// The same lake through another handle on its store, such as a wrapper that counts,
    /// slows down or fails requests; bucket creation still uses the S3 settings.
    pub fn with_store(mut self, store: Arc<dyn ObjectStore>) -> Self {
        self.lake.store = store;
        self
    }

    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.lake.store.clone()
    }

    /// Requests sent and bytes stored so far.
    pub fn counters(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }

    async fn put(&self, path: &str, body: Bytes) -> Result<(), StorageError> {
        let len = body.len() as u64;
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.lake
            .store
            .put(&Path::from(path), PutPayload::from_bytes(body))
            .await
            .map_err(classify)?;
        self.bytes.fetch_add(len, Ordering::Relaxed);
        Ok(())
    }

    /// The plan for `rows` (see [`Planner::plan`]), made on a blocking thread: it sorts and
    /// reads every record (tens of milliseconds for a large batch), and the intake, polled in
    /// the same task as the writer, keeps reading meanwhile.
    async fn plan(&self, rows: &Rows, flush: bool) -> Result<Plan, StorageError> {
        let prefix = self.prefix.clone();
        let topic = self.topic.clone();
        let kind = self.kind.clone();
        let symbol = self.symbol.clone();
        let max_file_rows = self.max_file_rows;
        let hold_records = self.hold_records;
        let written_up_to = self.written_up_to.clone();
        let consumed = self.consumed.clone();
        let latest = self.latest.clone();
        let partitions = self.partitions.clone();
        let rows = rows.clone();
        tokio::task::spawn_blocking(move || {
            Planner {
                prefix: &prefix,
                topic: &topic,
                kind: &kind,
                symbol: &symbol,
                max_file_rows,
                written_up_to: &written_up_to,
                hold_records,
                flush,
                consumed: &consumed,
                latest: &latest,
                partitions: &partitions,
            }
            .plan(&rows)
        })
        .await
        .map_err(|e| StorageError::Refused(format!("planning a batch: {e}")))
    }

    /// How many records are held back for the next write.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Delete an object; one already gone is fine.
    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        match self.lake.store.delete(&Path::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }

    async fn put_intent(&self, i: &Intent) -> Result<(), StorageError> {
        let body =
            serde_json::to_vec(i).map_err(|e| StorageError::Refused(format!("intent: {e}")))?;
        let path = layout::intent_path(&self.prefix, &self.topic, i.partition, i.start, i.end);
        self.put(&path, body.into()).await
    }

    /// Encode one file, then store it once `intents_stored` says its intents are.
    async fn store_file(
        &self,
        batch: &Rows,
        file: &FilePlan,
        intents_stored: impl Future<Output = Result<(), StorageError>>,
    ) -> Result<(), StorageError> {
        let t = std::time::Instant::now();
        let body = self.encode(batch, file).await?;
        let encoded = t.elapsed();
        intents_stored.await?;
        let put = std::time::Instant::now();
        self.put(&file.path, body).await?;
        tracing::trace!(
            rows = file.rows.len(),
            encode_ms = encoded.as_millis() as u64,
            put_ms = put.elapsed().as_millis() as u64,
            "lake file"
        );
        Ok(())
    }

    /// Encode one planned file as Parquet on a blocking thread, at most one per core at once.
    async fn encode(&self, batch: &Rows, file: &FilePlan) -> Result<Bytes, StorageError> {
        let _slot = self
            .encoders
            .acquire()
            .await
            .map_err(|_| StorageError::Refused("the encoder pool is closed".into()))?;
        let batch = batch.clone();
        let rows = file.rows.clone();
        let skip = self.grain.path_columns();
        let encoded = tokio::task::spawn_blocking(move || {
            let records: Vec<&Record> = rows.iter().map(|&i| batch.get(i)).collect();
            parquet_file::encode(&records, skip)
        })
        .await
        .map_err(|e| StorageError::Refused(format!("encoding {}: {e}", file.path)))?;
        encoded
            .map_err(|e| StorageError::Refused(format!("encoding {} as Parquet: {e}", file.path)))
    }

    /// The intents of `partition` from offset `from` on.
    async fn intents_from(&self, partition: i32, from: i64) -> Result<Vec<Intent>, StorageError> {
        let dir = Path::from(layout::intents_dir(&self.prefix, &self.topic, partition));
        let offset = Path::from(layout::intents_from(
            &self.prefix,
            &self.topic,
            partition,
            from,
        ));
        let metas: Vec<_> = self
            .lake
            .store
            .list_with_offset(Some(&dir), &offset)
            .try_collect()
            .await
            .map_err(classify)?;
        let mut out = vec![];
        for m in metas {
            let body = self
                .lake
                .store
                .get(&m.location)
                .await
                .map_err(classify)?
                .bytes()
                .await
                .map_err(classify)?;
            let intent: Intent = serde_json::from_slice(&body).map_err(|e| {
                StorageError::Refused(format!(
                    "intent {} is not readable ({e}); remove it after checking its files",
                    m.location
                ))
            })?;
            out.push(intent);
        }
        out.sort_by_key(|i| i.start);
        Ok(out)
    }
}

impl Storage for LakeSink {
    fn prepare(&mut self) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move { self.lake.ensure_bucket().await })
    }

    fn recover<'a>(
        &'a mut self,
        resume: &'a HashMap<i32, Resume>,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            // Consumption starts over from `resume`: what this run stored or held before does
            // not count, but what the last commit says is stored does.
            let mut written = Positions::new();
            self.held = Arc::default();
            self.held_since = None;
            self.consumed.clear();
            self.touched.clear();
            self.flushed_at.clear();
            self.latest = Arc::default();
            self.partitions = resume.keys().copied().collect();
            let mut undone = 0;
            for (&partition, r) in resume {
                let meta = r.metadata.as_deref().and_then(CommitMeta::parse);
                let (next, flushed) = meta
                    .as_ref()
                    .map_or((r.offset, false), |m| (m.next, m.flushed));
                if let Some(m) = meta {
                    written.insert(partition, m.written.into_iter().collect());
                }
                let intents = self.intents_from(partition, next).await?;
                for intent in recovery::to_undo(intents, next, flushed) {
                    tracing::info!(
                        partition,
                        start = intent.start,
                        end = intent.end,
                        files = intent.files.len(),
                        "undoing an uncommitted batch; its records will be written again"
                    );
                    for f in &intent.files {
                        self.delete(f).await?;
                    }
                    // This intent last: were the undo cut short, a restart finds it again.
                    for r in intent.batch.iter().filter(|r| r.partition != partition) {
                        self.delete(&layout::intent_path(
                            &self.prefix,
                            &self.topic,
                            r.partition,
                            r.start,
                            r.end,
                        ))
                        .await?;
                    }
                    self.delete(&layout::intent_path(
                        &self.prefix,
                        &self.topic,
                        partition,
                        intent.start,
                        intent.end,
                    ))
                    .await?;
                    undone += 1;
                }
            }
            self.written_up_to = Arc::new(written);
            Ok(undone)
        })
    }

    fn write(&mut self, batch: Arc<Batch>) -> BoxFuture<'_, Result<WriteStats, StorageError>> {
        Box::pin(async move {
            let flush = self.held_until().is_some_and(|t| t <= Instant::now());
            let rows = Rows {
                held: self.held.clone(),
                batch,
            };
            self.store_rows(rows, flush).await
        })
    }

    fn flush_held(&mut self) -> BoxFuture<'_, Result<WriteStats, StorageError>> {
        Box::pin(async move {
            if self.held.is_empty() {
                return Ok(WriteStats::default());
            }
            let partitions: Vec<i32> = self.held.iter().map(|r| r.partition).collect();
            let rows = Rows {
                held: self.held.clone(),
                batch: Arc::default(),
            };
            let stats = self.store_rows(rows, true).await?;
            for p in partitions {
                if let Some(&next) = self.consumed.get(&p) {
                    self.flushed_at.insert(p, next);
                }
            }
            Ok(stats)
        })
    }

    fn held_until(&self) -> Option<Instant> {
        self.held_since.map(|t| t + self.hold_for)
    }

    fn held_records(&self) -> usize {
        self.held.len()
    }

    fn commit_points(&mut self, consumed: &HashMap<i32, i64>) -> HashMap<i32, CommitPoint> {
        for (&p, &next) in consumed {
            self.consumed.insert(p, next);
            self.touched.insert(p);
        }
        // The oldest held record of each partition (held is in (partition, offset) order).
        let mut oldest: HashMap<i32, i64> = HashMap::new();
        for r in self.held.iter() {
            oldest.entry(r.partition).or_insert(r.offset);
        }
        let mut points = HashMap::new();
        for p in std::mem::take(&mut self.touched) {
            let Some(&next) = self.consumed.get(&p) else {
                continue;
            };
            let offset = oldest.get(&p).map_or(next, |&o| o.min(next));
            let meta = CommitMeta {
                next,
                flushed: self.flushed_at.get(&p) == Some(&next),
                written: if offset < next {
                    self.written_up_to
                        .get(&p)
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
                        .unwrap_or_default()
                } else {
                    HashMap::new()
                },
            };
            let metadata = serde_json::to_string(&meta).ok();
            points.insert(p, CommitPoint { offset, metadata });
        }
        points
    }
}

impl LakeSink {
    /// Store the directories the plan for `rows` says are due, and hold the rest back.
    async fn store_rows(&mut self, rows: Rows, flush: bool) -> Result<WriteStats, StorageError> {
        let (req0, bytes0) = self.counters();
        let planning = std::time::Instant::now();
        let Plan {
            intents,
            files,
            positions,
            repeats,
            held,
            latest,
            partitions,
        } = self.plan(&rows, flush).await?;
        let plan_ms = planning.elapsed().as_millis() as u64;
        let this = &*self;
        let limit = this.concurrency.max(1);
        // Every intent is stored before any file it names: files are encoded while the
        // intents upload, and each waits for them before its own upload.
        // Futures collected first: a lazy `map` adapter held across an await trips the
        // compiler's higher-ranked lifetime check for `Send`.
        let puts: Vec<_> = intents.iter().map(|i| this.put_intent(i)).collect();
        let intents_stored = futures::stream::iter(puts)
            .buffer_unordered(limit)
            .try_collect::<Vec<()>>()
            .map_ok(|_| ())
            .boxed()
            .shared();
        let stores: Vec<_> = files
            .iter()
            .map(|f| this.store_file(&rows, f, intents_stored.clone()))
            .collect();
        futures::try_join!(
            intents_stored,
            futures::stream::iter(stores)
                .buffer_unordered(limit)
                .try_collect::<Vec<()>>()
        )?;
        self.duplicates += repeats;
        // Every partition with records stored or held, before or now, commits anew.
        self.touched.extend(partitions);
        mark_written(Arc::make_mut(&mut self.written_up_to), positions);
        self.held_since = match (held.is_empty(), self.held_since) {
            (true, _) => None,
            (false, Some(since)) if !self.held.is_empty() => Some(since),
            (false, _) => Some(Instant::now()),
        };
        self.held = Arc::new(held);
        self.latest = Arc::new(latest);
        let (req1, bytes1) = self.counters();
        tracing::debug!(
            plan_ms,
            files = files.len(),
            held = self.held.len(),
            store_ms = planning.elapsed().as_millis() as u64 - plan_ms,
            "lake batch"
        );
        Ok(WriteStats {
            records: files.iter().map(|f| f.rows.len() as u64).sum(),
            requests: req1 - req0,
            bytes: bytes1 - bytes0,
            ..WriteStats::default()
        })
    }
}
