//! Candles from the lake, as the lake-connector writes them:
//! `<prefix>/symbol=<SYMBOL>/type=<type>/month=<YYYY-MM>/*.parquet` (the period directory as
//! [`PartitionDir`] names it for the type), prices as exact `DECIMAL(38, 8)` (decimal strings,
//! as older lakes hold them, and floating-point or integer numbers are taken too), `open_time` an INT64 millisecond timestamp, `symbol` in the path only. Only the period
//! directories of the time range are listed; rows outside the range
//! are skipped; a record repeated by a replay is kept once (by open time, per symbol).
//!
//! A file that is not Parquet, lacks a column, or holds an unusable price in the range is bad
//! input (a permanent error naming the file); an unreachable store is an outage.

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::path::Path;
use streamforge_graph::GraphError;
use streamforge_graph::columns::ParquetColumns;
use streamforge_sinks::lake::layout::PartitionDir;
use streamforge_sinks::lake::store::classify;

use crate::candles::{Candle, CandleSet};
use crate::source::SourceError;

/// Files fetched at once.
pub const CONCURRENT_FILES: usize = 8;

/// The period directories (months for candles) of `symbol`'s `source_type` records opening in
/// `[start, end)` ms.
pub fn period_dirs(
    prefix: &str,
    symbol: &str,
    source_type: &str,
    start: i64,
    end: i64,
) -> Vec<String> {
    PartitionDir::covering(symbol, source_type, start, end)
        .iter()
        .map(|d| d.path(prefix))
        .collect()
}

/// The Parquet files under `dirs` (names starting with `_` or `.` are not data), sorted.
pub async fn list_files(
    store: &Arc<dyn ObjectStore>,
    dirs: &[String],
) -> Result<Vec<Path>, SourceError> {
    let listed: Vec<Vec<Path>> = futures::stream::iter(dirs.iter().cloned())
        .map(|dir| {
            let store = store.clone();
            async move {
                let prefix = Path::from(dir.as_str());
                let found = store.list(Some(&prefix)).try_collect::<Vec<_>>().await;
                match found {
                    Ok(metas) => Ok(metas
                        .into_iter()
                        .map(|m| m.location)
                        .filter(|p| {
                            p.filename().is_some_and(|f| {
                                f.ends_with(".parquet")
                                    && !f.starts_with('_')
                                    && !f.starts_with('.')
                            })
                        })
                        .collect()),
                    Err(object_store::Error::NotFound { .. }) => Ok(vec![]),
                    Err(e) => Err(SourceError::from(classify(e))),
                }
            }
        })
        .buffer_unordered(CONCURRENT_FILES)
        .try_collect()
        .await?;
    let mut files: Vec<Path> = listed.into_iter().flatten().collect();
    files.sort();
    Ok(files)
}

pub async fn fetch(store: &Arc<dyn ObjectStore>, path: &Path) -> Result<Bytes, SourceError> {
    let got = store
        .get(path)
        .await
        .map_err(|e| SourceError::from(classify(e)))?;
    got.bytes()
        .await
        .map_err(|e| SourceError::from(classify(e)))
}

fn bad_file(path: &str) -> impl Fn(GraphError) -> SourceError + '_ {
    move |e| match e {
        GraphError::Parquet { .. } | GraphError::Schema { .. } => SourceError::Bad(e.to_string()),
        other => SourceError::Bad(format!("{path}: {other}")),
    }
}

/// A price or quantity column: decimals, decimal strings, or floating-point or integer numbers.
fn numbers(f: &ParquetColumns, path: &str, name: &str) -> Result<Vec<Option<f64>>, SourceError> {
    if !f.has(name) {
        return Err(SourceError::Bad(format!(
            "Parquet file {path}: has no column {name:?}, not a candle file"
        )));
    }
    if f.is_decimal(name) {
        return f.decimals(name).map_err(bad_file(path));
    }
    // Parsed straight from the page; only a value that does not parse is copied, to be named.
    let parsed = f.text_map(name, |s| s.trim().parse::<f64>().map_err(|_| s.to_owned()));
    if let Ok(values) = parsed {
        return values
            .into_iter()
            .enumerate()
            .map(|(row, v)| match v {
                None => Ok(None),
                Some(Ok(x)) => Ok(Some(x)),
                Some(Err(s)) => Err(SourceError::Bad(format!(
                    "Parquet file {path}: row {row}: {name} {s:?} is not a number"
                ))),
            })
            .collect();
    }
    match f.f64s(name) {
        Ok(v) => Ok(v),
        Err(_) => Ok(f
            .i64s(name)
            .map_err(bad_file(path))?
            .into_iter()
            .map(|v| v.map(|x| x as f64))
            .collect()),
    }
}

/// The candles of one lake file opening in `[start, end)`, in file order.
pub fn decode_file(
    bytes: Bytes,
    path: &str,
    start: i64,
    end: i64,
) -> Result<Vec<Candle>, SourceError> {
    let f = ParquetColumns::open(bytes, path).map_err(bad_file(path))?;
    if !f.has("open_time") {
        return Err(SourceError::Bad(format!(
            "Parquet file {path}: has no column \"open_time\", not a candle file"
        )));
    }
    let times = f.i64s("open_time").map_err(bad_file(path))?;
    let [open, high, low, close, volume] =
        ["open", "high", "low", "close", "volume"].map(|c| numbers(&f, path, c));
    let (open, high, low, close, volume) = (open?, high?, low?, close?, volume?);
    let mut taken = Vec::new();
    for (row, t) in times.iter().enumerate() {
        let Some(t) = *t else {
            return Err(SourceError::Bad(format!(
                "Parquet file {path}: row {row} has no open_time"
            )));
        };
        if t < start || t >= end {
            continue;
        }
        let get = |col: &[Option<f64>], name: &str| {
            col.get(row).copied().flatten().ok_or_else(|| {
                SourceError::Bad(format!("Parquet file {path}: row {row} has no {name}"))
            })
        };
        let c = Candle {
            open_time: t,
            open: get(&open, "open")?,
            high: get(&high, "high")?,
            low: get(&low, "low")?,
            close: get(&close, "close")?,
            volume: get(&volume, "volume")?,
        };
        c.check()
            .map_err(|e| SourceError::Bad(format!("Parquet file {path}: row {row}: {e}")))?;
        taken.push(c);
    }
    Ok(taken)
}

/// Every `source_type` candle of `symbol` opening in `[start, end)`: the files of the range's
/// date directories read [`CONCURRENT_FILES`] at a time and decoded off the runtime, merged in
/// file-name order (so that of two differing copies of a record the same one wins every time).
/// `on_file` hears the rows each file gave.
pub async fn read_symbol(
    store: &Arc<dyn ObjectStore>,
    files: &[Path],
    start: i64,
    end: i64,
    mut on_file: impl FnMut(usize),
) -> Result<CandleSet, SourceError> {
    let mut set = CandleSet::default();
    let mut decoded = futures::stream::iter(files.iter().cloned())
        .map(|path| {
            let store = store.clone();
            async move {
                let bytes = fetch(&store, &path).await?;
                let name = path.to_string();
                tokio::task::spawn_blocking(move || decode_file(bytes, &name, start, end))
                    .await
                    .map_err(|e| SourceError::Unavailable(format!("decoding {path}: {e}")))?
            }
        })
        .buffered(CONCURRENT_FILES);
    while let Some(candles) = decoded.next().await {
        let candles = candles?;
        on_file(candles.len());
        candles.into_iter().for_each(|c| set.add(c));
    }
    Ok(set)
}
