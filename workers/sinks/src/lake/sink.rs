//! The lake as a sink [`Storage`]: each batch becomes, per Kafka partition and per
//! symbol/type/date directory, one Parquet file named by the partition's offset range in the
//! batch. An intent listing the files is stored first (see [`super::recovery`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};

use super::layout::{self, PATH_COLUMNS, PartitionDir};
use super::parquet_file;
use super::recovery::{self, Intent};
use super::store::{LakeLocation, OpenedLake, classify, open};
use crate::core::{Batch, Record, Storage, StorageError, WriteStats};

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
    requests: AtomicU64,
    bytes: AtomicU64,
    /// Highest position written per (partition, key prefix) in this run; see [`Self::plan`].
    written_up_to: HashMap<(i32, String), i64>,
    /// Records dropped as re-deliveries of a key already stored in this run.
    pub duplicates: u64,
}

/// One file to store.
struct DataFile {
    path: String,
    body: bytes::Bytes,
    rows: u64,
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
            requests: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            written_up_to: HashMap::new(),
            duplicates: 0,
        })
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

    async fn put(&self, path: &str, body: bytes::Bytes) -> Result<(), StorageError> {
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

    /// Is `r` a re-delivery of a record an earlier batch of this run stored? Record keys end
    /// with a position (`SYMBOL|5m|<open time>`, `SYMBOL|<trade id>`) that grows within a key
    /// prefix, and one key always lands in one partition; so a key whose position is not above
    /// the highest one earlier batches stored for its prefix in its partition is a duplicate (a
    /// producer retry, or a loader that sent it again). Files are immutable, so it is dropped
    /// rather than overwritten. Repeats within one batch are already merged by the batcher.
    fn is_repeat(&self, r: &Record, seen: &mut HashMap<(i32, String), i64>) -> bool {
        let Some((prefix, pos)) = r.key.rsplit_once('|') else {
            return false;
        };
        let Ok(pos) = pos.parse::<i64>() else {
            return false;
        };
        let slot = (r.partition, prefix.to_owned());
        if self.written_up_to.get(&slot).is_some_and(|top| pos <= *top) {
            return true;
        }
        let top = seen.entry(slot).or_insert(pos);
        *top = (*top).max(pos);
        false
    }

    /// The files and intents of a batch (pure but for the encoding and the repeat filter).
    fn plan(&mut self, batch: &Batch) -> Result<(Vec<Intent>, Vec<DataFile>), StorageError> {
        let mut by_partition: BTreeMap<i32, Vec<&Record>> = BTreeMap::new();
        for r in &batch.records {
            by_partition.entry(r.partition).or_default().push(r);
        }
        let mut intents = vec![];
        let mut files = vec![];
        let mut seen = HashMap::new();
        for (partition, mut records) in by_partition {
            records.sort_by_key(|r| r.offset);
            let (Some(first), Some(last)) = (records.first(), records.last()) else {
                continue;
            };
            let (start, end) = (first.offset, last.offset);
            let mut by_dir: BTreeMap<PartitionDir, Vec<&Record>> = BTreeMap::new();
            for r in records {
                if self.is_repeat(r, &mut seen) {
                    self.duplicates += 1;
                    continue;
                }
                by_dir
                    .entry(PartitionDir::of(
                        &r.doc,
                        r.timestamp,
                        &self.symbol,
                        &self.kind,
                    ))
                    .or_default()
                    .push(r);
            }
            let mut intent = Intent {
                topic: self.topic.clone(),
                partition,
                start,
                end,
                files: vec![],
            };
            for (dir, rows) in by_dir {
                let path = format!(
                    "{}/{}",
                    dir.path(&self.prefix),
                    layout::file_name(&self.topic, partition, start, end)
                );
                let body = parquet_file::encode(&rows, &PATH_COLUMNS).map_err(|e| {
                    StorageError::Refused(format!("encoding {path} as Parquet: {e}"))
                })?;
                intent.files.push(path.clone());
                files.push(DataFile {
                    path,
                    body,
                    rows: rows.len() as u64,
                });
            }
            intents.push(intent);
        }
        self.written_up_to.extend(seen);
        Ok((intents, files))
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
        resume: &'a HashMap<i32, i64>,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            // Consumption starts over from `resume`: what this run stored before does not count.
            self.written_up_to.clear();
            let mut undone = 0;
            for (&partition, &from) in resume {
                let intents = self.intents_from(partition, from).await?;
                for intent in recovery::to_undo(intents, from) {
                    tracing::info!(
                        partition,
                        start = intent.start,
                        end = intent.end,
                        files = intent.files.len(),
                        "undoing an uncommitted batch; its records will be written again"
                    );
                    for f in &intent.files {
                        match self.lake.store.delete(&Path::from(f.as_str())).await {
                            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                            Err(e) => return Err(classify(e)),
                        }
                    }
                    let path = layout::intent_path(
                        &self.prefix,
                        &self.topic,
                        partition,
                        intent.start,
                        intent.end,
                    );
                    match self.lake.store.delete(&Path::from(path)).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                        Err(e) => return Err(classify(e)),
                    }
                    undone += 1;
                }
            }
            Ok(undone)
        })
    }

    fn write<'a>(
        &'a mut self,
        batch: &'a Batch,
    ) -> BoxFuture<'a, Result<WriteStats, StorageError>> {
        Box::pin(async move {
            let (req0, bytes0) = self.counters();
            let (intents, files) = self.plan(batch)?;
            let rows = files.iter().map(|f| f.rows).sum();
            for i in &intents {
                let body = serde_json::to_vec(i)
                    .map_err(|e| StorageError::Refused(format!("intent: {e}")))?;
                let path =
                    layout::intent_path(&self.prefix, &self.topic, i.partition, i.start, i.end);
                self.put(&path, body.into()).await?;
            }
            let this = &*self;
            futures::stream::iter(files)
                .map(|f| async move { this.put(&f.path, f.body).await })
                .buffer_unordered(self.concurrency.max(1))
                .try_collect::<Vec<()>>()
                .await?;
            let (req1, bytes1) = self.counters();
            Ok(WriteStats {
                records: rows,
                requests: req1 - req0,
                bytes: bytes1 - bytes0,
            })
        })
    }
}
