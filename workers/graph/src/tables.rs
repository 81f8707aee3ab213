//! `nodes.parquet` and `edges.parquet`: the node and edge tables as Parquet files (snappy, row
//! groups of at most [`ROW_GROUP`] rows) and back.

use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{ByteArray, ByteArrayType, DataType, DoubleType, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::types::{Type, TypePtr};

use crate::columns::ParquetColumns;
use crate::model::{EdgeKind, EdgeTable, NodeTable};
use crate::{GraphError, GraphManifest};

/// Rows per row group: bounded memory for readers that stream groups.
pub const ROW_GROUP: usize = 1 << 20;

fn column(
    name: &str,
    physical: Physical,
    repetition: Repetition,
    logical: Option<LogicalType>,
) -> Result<TypePtr, ParquetError> {
    Ok(Arc::new(
        Type::primitive_type_builder(name, physical)
            .with_repetition(repetition)
            .with_logical_type(logical)
            .build()?,
    ))
}

fn writer(
    out: &mut Vec<u8>,
    fields: Vec<TypePtr>,
) -> Result<SerializedFileWriter<&mut Vec<u8>>, ParquetError> {
    let schema = Arc::new(
        Type::group_type_builder("schema")
            .with_fields(fields)
            .build()?,
    );
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by("streamforge graph".into())
        .build();
    SerializedFileWriter::new(out, schema, Arc::new(props))
}

fn put<T: DataType>(
    rg: &mut SerializedRowGroupWriter<'_, &mut Vec<u8>>,
    values: &[T::T],
    defs: Option<&[i16]>,
) -> Result<(), ParquetError> {
    let mut col = rg
        .next_column()?
        .ok_or_else(|| ParquetError::General("schema has fewer columns than written".into()))?;
    col.typed::<T>().write_batch(values, defs, None)?;
    col.close()
}

pub fn encode_nodes(nodes: &NodeTable) -> Result<Bytes, ParquetError> {
    const REQUIRED: Repetition = Repetition::REQUIRED;
    const OPTIONAL: Repetition = Repetition::OPTIONAL;
    let mut fields = vec![
        column("node_id", Physical::INT64, REQUIRED, None)?,
        column(
            "symbol",
            Physical::BYTE_ARRAY,
            REQUIRED,
            Some(LogicalType::String),
        )?,
        column("window_start", Physical::INT64, REQUIRED, None)?,
    ];
    for (name, _) in &nodes.features {
        fields.push(column(name, Physical::DOUBLE, REQUIRED, None)?);
    }
    for (name, _) in &nodes.labels {
        fields.push(column(name, Physical::INT64, OPTIONAL, None)?);
    }
    let mut out = Vec::new();
    let mut w = writer(&mut out, fields)?;
    let n = nodes.len();
    for start in (0..n.max(1)).step_by(ROW_GROUP) {
        let r = start..(start + ROW_GROUP).min(n);
        let mut rg = w.next_row_group()?;
        put::<Int64Type>(&mut rg, &nodes.node_id[r.clone()], None)?;
        let symbols: Vec<ByteArray> = nodes.symbol[r.clone()]
            .iter()
            .map(|s| ByteArray::from(s.as_str()))
            .collect();
        put::<ByteArrayType>(&mut rg, &symbols, None)?;
        put::<Int64Type>(&mut rg, &nodes.window_start[r.clone()], None)?;
        for (_, v) in &nodes.features {
            put::<DoubleType>(&mut rg, &v[r.clone()], None)?;
        }
        for (_, v) in &nodes.labels {
            let v = &v[r.clone()];
            let defs: Vec<i16> = v.iter().map(|x| i16::from(x.is_some())).collect();
            let present: Vec<i64> = v.iter().flatten().copied().collect();
            put::<Int64Type>(&mut rg, &present, Some(&defs))?;
        }
        rg.close()?;
    }
    w.close()?;
    Ok(Bytes::from(out))
}

pub fn encode_edges(edges: &EdgeTable) -> Result<Bytes, ParquetError> {
    const REQUIRED: Repetition = Repetition::REQUIRED;
    let fields = vec![
        column("src", Physical::INT64, REQUIRED, None)?,
        column("dst", Physical::INT64, REQUIRED, None)?,
        column(
            "kind",
            Physical::BYTE_ARRAY,
            REQUIRED,
            Some(LogicalType::String),
        )?,
        column("weight", Physical::DOUBLE, REQUIRED, None)?,
    ];
    let mut out = Vec::new();
    let mut w = writer(&mut out, fields)?;
    let n = edges.len();
    for start in (0..n.max(1)).step_by(ROW_GROUP) {
        let r = start..(start + ROW_GROUP).min(n);
        let mut rg = w.next_row_group()?;
        put::<Int64Type>(&mut rg, &edges.src[r.clone()], None)?;
        put::<Int64Type>(&mut rg, &edges.dst[r.clone()], None)?;
        let kinds: Vec<ByteArray> = edges.kind[r.clone()]
            .iter()
            .map(|k| ByteArray::from(k.as_str()))
            .collect();
        put::<ByteArrayType>(&mut rg, &kinds, None)?;
        put::<DoubleType>(&mut rg, &edges.weight[r.clone()], None)?;
        rg.close()?;
    }
    w.close()?;
    Ok(Bytes::from(out))
}

/// The node table of `bytes` (from `path`), with the feature and label columns `manifest` names.
pub fn decode_nodes(
    bytes: Bytes,
    path: &str,
    manifest: &GraphManifest,
) -> Result<NodeTable, GraphError> {
    let f = ParquetColumns::open(bytes, path)?;
    let node_id = f.required("node_id", f.i64s("node_id")?)?;
    let symbol = f.required("symbol", f.strings("symbol")?)?;
    let window_start = f.required("window_start", f.i64s("window_start")?)?;
    let mut features = Vec::with_capacity(manifest.features.len());
    for name in &manifest.features {
        features.push((name.clone(), f.required(name, f.f64s(name)?)?));
    }
    let mut labels = Vec::with_capacity(manifest.labels.len());
    for name in &manifest.labels {
        labels.push((name.clone(), f.i64s(name)?));
    }
    Ok(NodeTable {
        node_id,
        symbol,
        window_start,
        features,
        labels,
    })
}

pub fn decode_edges(bytes: Bytes, path: &str) -> Result<EdgeTable, GraphError> {
    let f = ParquetColumns::open(bytes, path)?;
    let kind = f
        .required("kind", f.strings("kind")?)?
        .into_iter()
        .map(|k| k.parse::<EdgeKind>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|reason| GraphError::Schema {
            path: path.to_owned(),
            reason,
        })?;
    Ok(EdgeTable {
        src: f.required("src", f.i64s("src")?)?,
        dst: f.required("dst", f.i64s("dst")?)?,
        kind,
        weight: f.required("weight", f.f64s("weight")?)?,
    })
}
