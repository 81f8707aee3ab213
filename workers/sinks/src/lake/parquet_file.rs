//! One Parquet file from a group of records. Columns follow the JSON fields (in payload order,
//! fields first seen in later records appended); each field's type is read from its values:
//! whole numbers are INT64 (fields named `time` or `*_time` are UTC millisecond timestamps),
//! other numbers DOUBLE, booleans BOOLEAN, strings that all hold plain decimals (prices and
//! quantities) exact `DECIMAL(38, 8)` ([`super::decimal`]), other strings UTF-8, anything else
//! or a mix of types JSON text. Every data column is optional; `_key`,
//! `_partition` and `_offset` say where each row came from.
//!
//! Values are read from the records' raw JSON text in one pass; strings are sliced out of the
//! message payloads, not copied.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DoubleType, FixedLenByteArray, FixedLenByteArrayType,
    Int32Type, Int64Type,
};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnPath, Type, TypePtr};

use super::decimal;
use crate::core::Record;
use crate::core::record::{RawKind, json_f64, json_i64, json_string};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Bool,
    /// A string holding a plain decimal ([`decimal::parse`]).
    Decimal,
    Str,
    Json,
}

/// A JSON number that is an INT64: digits only (after a sign), and in range.
fn is_whole(raw: &[u8]) -> bool {
    let digits = raw.strip_prefix(b"-").unwrap_or(raw);
    !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() < 19 || json_i64(raw).is_some())
}

impl Kind {
    fn of(raw: &[u8]) -> Option<Kind> {
        match RawKind::of(raw) {
            RawKind::Null => None,
            RawKind::Bool => Some(Kind::Bool),
            RawKind::Number if is_whole(raw) => Some(Kind::Int),
            RawKind::Number => Some(Kind::Float),
            RawKind::String if decimal::parse(raw).is_some() => Some(Kind::Decimal),
            RawKind::String => Some(Kind::Str),
            RawKind::Nested => Some(Kind::Json),
        }
    }

    fn merge(self, other: Kind) -> Kind {
        match (self, other) {
            (a, b) if a == b => a,
            (Kind::Int, Kind::Float) | (Kind::Float, Kind::Int) => Kind::Float,
            // One string that is not a decimal: the column stays text, as sent.
            (Kind::Decimal, Kind::Str) | (Kind::Str, Kind::Decimal) => Kind::Str,
            _ => Kind::Json,
        }
    }
}

/// One data column: its type so far and each row's raw value (`None`: absent or null).
struct Column<'r> {
    name: &'r [u8],
    kind: Option<Kind>,
    raws: Vec<Option<&'r [u8]>>,
}

fn is_time(name: &str) -> bool {
    name == "time" || name.ends_with("_time")
}

/// Where a field name goes: a column, or nowhere (a path column or a `_` name).
const SKIPPED: usize = usize::MAX;

/// The data columns of `records`, minus `skip` (the columns kept in the path).
fn columns<'r>(records: &[&'r Record], skip: &[&str]) -> Vec<Column<'r>> {
    let mut cols: Vec<Column<'r>> = vec![];
    let mut index: HashMap<&'r [u8], usize, ahash::RandomState> = HashMap::default();
    // Records of one topic nearly always list the same fields in the same order: the previous
    // record's names and columns answer most lookups with one comparison.
    let mut previous: Vec<(&'r [u8], usize)> = vec![];
    for (row, r) in records.iter().enumerate() {
        for (k, (name, raw)) in r.fields().enumerate() {
            let i = match previous.get(k) {
                Some(&(n, i)) if n == name => i,
                _ => {
                    let i = *index.entry(name).or_insert_with(|| {
                        if name.starts_with(b"_") || skip.iter().any(|s| s.as_bytes() == name) {
                            return SKIPPED;
                        }
                        cols.push(Column {
                            name,
                            kind: None,
                            raws: Vec::with_capacity(records.len()),
                        });
                        cols.len() - 1
                    });
                    previous.truncate(k);
                    previous.push((name, i));
                    i
                }
            };
            if i == SKIPPED {
                continue;
            }
            let c = &mut cols[i];
            // A name given twice in one record: the last value counts.
            c.raws.resize(row + 1, None);
            let kind = Kind::of(raw);
            c.raws[row] = kind.map(|_| raw);
            if let Some(k) = kind {
                c.kind = Some(c.kind.map_or(k, |have| have.merge(k)));
            }
        }
    }
    for c in &mut cols {
        c.raws.resize(records.len(), None);
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
        Kind::Decimal => {
            return Ok(Arc::new(
                Type::primitive_type_builder(name, Physical::FIXED_LEN_BYTE_ARRAY)
                    .with_repetition(repetition)
                    .with_length(decimal::WIDTH as i32)
                    .with_precision(decimal::PRECISION)
                    .with_scale(decimal::SCALE)
                    .with_logical_type(Some(LogicalType::decimal(
                        decimal::SCALE,
                        decimal::PRECISION,
                    )))
                    .build()?,
            ));
        }
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

/// A string value as stored: sliced out of the payload, unescaped only when it has escapes;
/// any other value as its JSON text.
fn string(r: &Record, raw: &[u8]) -> ByteArray {
    match raw.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")) {
        Some(inner) if !inner.contains(&b'\\') => ByteArray::from(r.slice(inner)),
        Some(_) => match json_string(raw) {
            Some(text) => ByteArray::from(text.into_owned().into_bytes()),
            None => ByteArray::from(r.slice(raw)),
        },
        None => ByteArray::from(r.slice(raw)),
    }
}

/// How the columns are written. No dictionaries: market data is mostly distinct prices and
/// volumes, for which a dictionary costs more time than plain values and makes files larger
/// (measured in the `lake_encode` bench). Min/max statistics only for numbers (decimals
/// included), times and booleans, which readers use to skip row groups and pages (`open_time`
/// ranges); for text (keys) they would be ordered as bytes, which prunes nothing useful, and
/// they cost a comparison per value.
fn properties(cols: &[Column<'_>]) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(false)
        .set_created_by("streamforge lake-connector".into())
        .set_column_statistics_enabled(ColumnPath::from("_key"), EnabledStatistics::None);
    for c in cols {
        if matches!(c.kind.unwrap_or(Kind::Str), Kind::Str | Kind::Json) {
            props = props.set_column_statistics_enabled(
                ColumnPath::from(String::from_utf8_lossy(c.name).into_owned()),
                EnabledStatistics::None,
            );
        }
    }
    props.build()
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
            &String::from_utf8_lossy(c.name),
            c.kind.unwrap_or(Kind::Str),
            Repetition::OPTIONAL,
        )?);
    }
    let schema = Arc::new(
        Type::group_type_builder("record")
            .with_fields(fields)
            .build()?,
    );
    let props = Arc::new(properties(&cols));
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
        let defs: Vec<i16> = c.raws.iter().map(|v| i16::from(v.is_some())).collect();
        let present = || {
            c.raws
                .iter()
                .zip(records)
                .filter_map(|(v, r)| v.map(|raw| (*r, raw)))
        };
        match c.kind.unwrap_or(Kind::Str) {
            Kind::Int => {
                let v: Vec<i64> = present().filter_map(|(_, raw)| json_i64(raw)).collect();
                write_optional::<Int64Type>(&mut rg, &v, &defs)?;
            }
            Kind::Float => {
                let v: Vec<f64> = present().filter_map(|(_, raw)| json_f64(raw)).collect();
                write_optional::<DoubleType>(&mut rg, &v, &defs)?;
            }
            Kind::Bool => {
                let v: Vec<bool> = present().map(|(_, raw)| raw == b"true").collect();
                write_optional::<BoolType>(&mut rg, &v, &defs)?;
            }
            Kind::Decimal => {
                // One buffer for the column, each value a slice of it.
                let mut buf = Vec::with_capacity(c.raws.len() * decimal::WIDTH);
                for (_, raw) in present() {
                    let v = decimal::parse(raw).ok_or_else(|| {
                        ParquetError::General("a decimal column holds a non-decimal".into())
                    })?;
                    buf.extend_from_slice(&v.to_be_bytes());
                }
                let buf = Bytes::from(buf);
                let v: Vec<FixedLenByteArray> = (0..buf.len() / decimal::WIDTH)
                    .map(|i| {
                        FixedLenByteArray::from(ByteArray::from(
                            buf.slice(i * decimal::WIDTH..(i + 1) * decimal::WIDTH),
                        ))
                    })
                    .collect();
                write_optional::<FixedLenByteArrayType>(&mut rg, &v, &defs)?;
            }
            Kind::Str | Kind::Json => {
                let v: Vec<ByteArray> = present().map(|(r, raw)| string(r, raw)).collect();
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

    fn rec(key: &str, offset: i64, payload: &str) -> Record {
        crate::core::record::parse(
            Some(key.as_bytes()),
            Some(payload.as_bytes()),
            1,
            offset,
            None,
        )
        .unwrap()
    }

    #[test]
    fn types_follow_the_values_and_missing_fields_are_null() {
        let a = rec(
            "BTCUSDT|5m|0",
            7,
            r#"{"symbol":"BTCUSDT","open_time":0,"close":"1.50","trades":3,"buyer_maker":true,"x":1,"note":"a\"b","_x":1,"id":"7"}"#,
        );
        let b = rec(
            "BTCUSDT|5m|300000",
            8,
            r#"{"symbol":"BTCUSDT","open_time":300000,"close":"1.60","x":2.5,"bids":[["1","2"]],"note":null,"id":"n/a"}"#,
        );
        let bytes = encode(&[&a, &b], &["symbol"]).unwrap();
        let reader = SerializedFileReader::new(bytes).unwrap();
        let schema = reader.metadata().file_metadata().schema_descr();
        let names: Vec<_> = schema
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        // Fields in payload order, new ones appended; path columns and `_` names left out.
        assert_eq!(
            names,
            [
                "_key",
                "_partition",
                "_offset",
                "open_time",
                "close",
                "trades",
                "buyer_maker",
                "x",
                "note",
                "id",
                "bids"
            ]
        );
        assert_eq!(
            schema.column(4).logical_type_ref(),
            Some(&LogicalType::decimal(8, 38)),
            "decimal strings are exact decimals"
        );
        assert_eq!(
            schema.column(4).physical_type(),
            Physical::FIXED_LEN_BYTE_ARRAY
        );
        assert_eq!(
            schema.column(9).logical_type_ref(),
            Some(&LogicalType::String),
            "a column with one string that is not a decimal stays text"
        );
        assert_eq!(
            schema.column(3).logical_type_ref(),
            Some(&LogicalType::timestamp(true, TimeUnit::MILLIS))
        );
        assert_eq!(
            schema.column(7).physical_type(),
            Physical::DOUBLE,
            "int and float merge to double"
        );
        assert_eq!(
            schema.column(10).logical_type_ref(),
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
        assert_eq!(first[3].1, Field::TimestampMillis(0));
        let Field::Decimal(close) = &first[4].1 else {
            panic!("{:?}", first[4]);
        };
        assert_eq!((close.precision(), close.scale()), (38, 8));
        assert_eq!(close.data(), 150_000_000i128.to_be_bytes());
        assert_eq!(first[9].1, Field::Str("7".into()));
        assert_eq!(first[5].1, Field::Long(3));
        assert_eq!(first[6].1, Field::Bool(true));
        assert_eq!(first[7].1, Field::Double(1.0));
        assert_eq!(first[8].1, Field::Str("a\"b".into()), "escapes decoded");
        assert_eq!(first[10].1, Field::Null, "absent field is null");
        let second: Vec<_> = rows[1].get_column_iter().map(|(_, f)| f.clone()).collect();
        assert_eq!(
            second[5],
            Field::Null,
            "no trades field in the second record"
        );
        assert_eq!(second[8], Field::Null, "a null value is null");
        assert_eq!(second[10], Field::Str(r#"[["1","2"]]"#.into()));
    }

    #[test]
    fn numbers_decimals_and_times_carry_min_max_text_does_not_and_nothing_has_a_dictionary() {
        let a = rec(
            "BTCUSDT|1m|60000",
            4,
            r#"{"open_time":60000,"close":"2.50","trades":9,"x":1.5,"ok":true}"#,
        );
        let b = rec(
            "BTCUSDT|1m|0",
            5,
            r#"{"open_time":0,"close":"10.00","trades":3,"x":-1,"ok":false}"#,
        );
        let reader = SerializedFileReader::new(encode(&[&a, &b], &[]).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        let stats = |name: &str| {
            let c = group
                .columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .unwrap();
            assert_eq!(c.dictionary_page_offset(), None, "{name} has a dictionary");
            c.statistics().map(|s| {
                (
                    s.min_bytes_opt().map(<[u8]>::to_vec),
                    s.max_bytes_opt().map(<[u8]>::to_vec),
                )
            })
        };
        let le = |v: i64| Some(v.to_le_bytes().to_vec());
        assert_eq!(stats("open_time"), Some((le(0), le(60_000))));
        assert_eq!(stats("trades"), Some((le(3), le(9))));
        assert_eq!(stats("_offset"), Some((le(4), le(5))));
        let x = stats("x").unwrap();
        assert_eq!(
            (x.0, x.1),
            (
                Some((-1f64).to_le_bytes().to_vec()),
                Some(1.5f64.to_le_bytes().to_vec())
            )
        );
        assert!(stats("ok").is_some());
        let close = stats("close").unwrap();
        assert_eq!(
            close,
            (
                Some(250_000_000i128.to_be_bytes().to_vec()),
                Some(1_000_000_000i128.to_be_bytes().to_vec())
            ),
            "decimals compare as numbers"
        );
        let key = stats("_key");
        assert!(
            key.is_none() || key == Some((None, None)),
            "_key has min/max: {key:?}"
        );
    }

    #[test]
    fn the_same_records_give_the_same_bytes() {
        let a = rec("k|1", 1, r#"{"price": "1.0", "time": 5}"#);
        let b = rec("k|2", 2, r#"{"price": "2.0", "time": 6}"#);
        assert_eq!(
            encode(&[&a, &b], &[]).unwrap(),
            encode(&[&a, &b], &[]).unwrap()
        );
    }
}
