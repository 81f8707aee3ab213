//! One Parquet file from a group of records. Columns follow the JSON fields (in each record's
//! key order, fields first seen in later records appended); each field's type is read from its values: whole numbers are INT64 (fields
//! named `time` or `*_time` are UTC millisecond timestamps), other numbers DOUBLE, booleans
//! BOOLEAN, strings UTF-8 (decimal prices stay exact strings), anything else or a mix of types
//! JSON text. Every data column is optional; `_key`, `_partition` and `_offset` say where each
//! row came from.

use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{Type, TypePtr};
use serde_json::Value;

use crate::core::Record;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Bool,
    Str,
    Json,
}

impl Kind {
    fn of(v: &Value) -> Option<Kind> {
        match v {
            Value::Null => None,
            Value::Bool(_) => Some(Kind::Bool),
            Value::Number(n) if n.is_i64() => Some(Kind::Int),
            Value::Number(_) => Some(Kind::Float),
            Value::String(_) => Some(Kind::Str),
            Value::Array(_) | Value::Object(_) => Some(Kind::Json),
        }
    }

    fn merge(self, other: Kind) -> Kind {
        match (self, other) {
            (a, b) if a == b => a,
            (Kind::Int, Kind::Float) | (Kind::Float, Kind::Int) => Kind::Float,
            _ => Kind::Json,
        }
    }
}

struct Column {
    name: String,
    kind: Option<Kind>,
}

fn is_time(name: &str) -> bool {
    name == "time" || name.ends_with("_time")
}

/// The data columns of `records`, minus `skip` (the columns kept in the path).
fn columns(records: &[&Record], skip: &[&str]) -> Vec<Column> {
    let mut cols: Vec<Column> = vec![];
    let mut index = std::collections::HashMap::new();
    for r in records {
        for (name, v) in &r.doc {
            if skip.contains(&name.as_str()) || name.starts_with('_') {
                continue;
            }
            let i = *index.entry(name.clone()).or_insert_with(|| {
                cols.push(Column {
                    name: name.clone(),
                    kind: None,
                });
                cols.len() - 1
            });
            if let Some(k) = Kind::of(v) {
                cols[i].kind = Some(cols[i].kind.map_or(k, |c| c.merge(k)));
            }
        }
    }
    cols
}

fn field(name: &str, kind: Kind, repetition: Repetition) -> Result<TypePtr, ParquetError> {
    let (physical, logical) = match kind {
        Kind::Int if is_time(name) => (
            Physical::INT64,
            Some(LogicalType::timestamp(true, TimeUnit::MILLIS)),
        ),
        Kind::Int => (Physical::INT64, None),
        Kind::Float => (Physical::DOUBLE, None),
        Kind::Bool => (Physical::BOOLEAN, None),
        Kind::Str => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
        Kind::Json => (Physical::BYTE_ARRAY, Some(LogicalType::Json)),
    };
    Ok(Arc::new(
        Type::primitive_type_builder(name, physical)
            .with_repetition(repetition)
            .with_logical_type(logical)
            .build()?,
    ))
}

fn text(v: &Value) -> ByteArray {
    match v {
        Value::String(s) => ByteArray::from(s.as_str()),
        other => ByteArray::from(other.to_string().into_bytes()),
    }
}

/// Encode `records` (already in the order they should be stored) as one Parquet file with one
/// row group, snappy-compressed.
pub fn encode(records: &[&Record], skip: &[&str]) -> Result<Bytes, ParquetError> {
    let cols = columns(records, skip);
    let mut fields = vec![
        field("_key", Kind::Str, Repetition::REQUIRED)?,
        Arc::new(
            Type::primitive_type_builder("_partition", Physical::INT32)
                .with_repetition(Repetition::REQUIRED)
                .build()?,
        ),
        Arc::new(
            Type::primitive_type_builder("_offset", Physical::INT64)
                .with_repetition(Repetition::REQUIRED)
                .build()?,
        ),
    ];
    for c in &cols {
        // A field that is null in every record is kept, as nullable text.
        fields.push(field(
            &c.name,
            c.kind.unwrap_or(Kind::Str),
            Repetition::OPTIONAL,
        )?);
    }
    let schema = Arc::new(
        Type::group_type_builder("record")
            .with_fields(fields)
            .build()?,
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("streamforge lake-connector".into())
            .build(),
    );
    let mut out = Vec::with_capacity(records.len() * 64 + 1024);
    let mut writer = SerializedFileWriter::new(&mut out, schema, props)?;
    let mut rg = writer.next_row_group()?;

    let keys: Vec<ByteArray> = records
        .iter()
        .map(|r| ByteArray::from(r.key.as_str()))
        .collect();
    write_required::<ByteArrayType>(&mut rg, &keys)?;
    let parts: Vec<i32> = records.iter().map(|r| r.partition).collect();
    write_required::<Int32Type>(&mut rg, &parts)?;
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    write_required::<Int64Type>(&mut rg, &offsets)?;

    for c in &cols {
        let values = records
            .iter()
            .map(|r| r.doc.get(&c.name).filter(|v| !v.is_null()));
        let defs: Vec<i16> = values.clone().map(|v| i16::from(v.is_some())).collect();
        match c.kind.unwrap_or(Kind::Str) {
            Kind::Int => {
                let v: Vec<i64> = values.flatten().filter_map(Value::as_i64).collect();
                write_optional::<Int64Type>(&mut rg, &v, &defs)?;
            }
            Kind::Float => {
                let v: Vec<f64> = values.flatten().filter_map(Value::as_f64).collect();
                write_optional::<DoubleType>(&mut rg, &v, &defs)?;
            }
            Kind::Bool => {
                let v: Vec<bool> = values.flatten().filter_map(Value::as_bool).collect();
                write_optional::<BoolType>(&mut rg, &v, &defs)?;
            }
            Kind::Str | Kind::Json => {
                let v: Vec<ByteArray> = values.flatten().map(text).collect();
                write_optional::<ByteArrayType>(&mut rg, &v, &defs)?;
            }
        }
    }
    rg.close()?;
    writer.close()?;
    Ok(Bytes::from(out))
}

fn next_column<'a, 'b, W: std::io::Write + Send>(
    rg: &'a mut parquet::file::writer::SerializedRowGroupWriter<'b, W>,
) -> Result<parquet::file::writer::SerializedColumnWriter<'a>, ParquetError> {
    rg.next_column()?
        .ok_or_else(|| ParquetError::General("schema has fewer columns than written".into()))
}

fn write_required<T: parquet::data_type::DataType>(
    rg: &mut parquet::file::writer::SerializedRowGroupWriter<'_, impl std::io::Write + Send>,
    values: &[T::T],
) -> Result<(), ParquetError> {
    let mut col = next_column(rg)?;
    col.typed::<T>().write_batch(values, None, None)?;
    col.close()
}

fn write_optional<T: parquet::data_type::DataType>(
    rg: &mut parquet::file::writer::SerializedRowGroupWriter<'_, impl std::io::Write + Send>,
    values: &[T::T],
    defs: &[i16],
) -> Result<(), ParquetError> {
    let mut col = next_column(rg)?;
    col.typed::<T>().write_batch(values, Some(defs), None)?;
    col.close()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    use serde_json::json;

    fn rec(key: &str, offset: i64, doc: Value) -> Record {
        Record {
            key: key.into(),
            doc: doc.as_object().cloned().unwrap(),
            partition: 1,
            offset,
            timestamp: None,
        }
    }

    #[test]
    fn types_follow_the_values_and_missing_fields_are_null() {
        let a = rec(
            "BTCUSDT|5m|0",
            7,
            json!({"symbol": "BTCUSDT", "open_time": 0, "close": "1.50", "trades": 3, "buyer_maker": true, "x": 1}),
        );
        let b = rec(
            "BTCUSDT|5m|300000",
            8,
            json!({"symbol": "BTCUSDT", "open_time": 300_000, "close": "1.60", "x": 2.5, "bids": [["1", "2"]]}),
        );
        let bytes = encode(&[&a, &b], &["symbol"]).unwrap();
        let reader = SerializedFileReader::new(bytes).unwrap();
        let schema = reader.metadata().file_metadata().schema_descr();
        let names: Vec<_> = schema
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        // Fields in each record's key order (serde_json sorts them), new ones appended.
        assert_eq!(
            names,
            [
                "_key",
                "_partition",
                "_offset",
                "buyer_maker",
                "close",
                "open_time",
                "trades",
                "x",
                "bids"
            ]
        );
        assert_eq!(
            schema.column(5).logical_type_ref(),
            Some(&LogicalType::timestamp(true, TimeUnit::MILLIS))
        );
        assert_eq!(
            schema.column(7).physical_type(),
            Physical::DOUBLE,
            "int and float merge to double"
        );
        assert_eq!(
            schema.column(8).logical_type_ref(),
            Some(&LogicalType::Json)
        );

        let rows: Vec<_> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(rows.len(), 2);
        let first: Vec<_> = rows[0]
            .get_column_iter()
            .map(|(n, f)| (n.clone(), f.clone()))
            .collect();
        assert_eq!(first[0].1, Field::Str("BTCUSDT|5m|0".into()));
        assert_eq!(first[2].1, Field::Long(7));
        assert_eq!(first[4].1, Field::Str("1.50".into()));
        assert_eq!(first[7].1, Field::Double(1.0));
        assert_eq!(first[8].1, Field::Null, "absent field is null");
        let second: Vec<_> = rows[1].get_column_iter().map(|(_, f)| f.clone()).collect();
        assert_eq!(
            second[6],
            Field::Null,
            "no trades field in the second record"
        );
        assert_eq!(second[8], Field::Str(r#"[["1","2"]]"#.into()));
    }

    #[test]
    fn the_same_records_give_the_same_bytes() {
        let a = rec("k|1", 1, json!({"price": "1.0", "time": 5}));
        let b = rec("k|2", 2, json!({"price": "2.0", "time": 6}));
        assert_eq!(
            encode(&[&a, &b], &[]).unwrap(),
            encode(&[&a, &b], &[]).unwrap()
        );
    }
}
