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

/// A whole JSON number as an INT64; digits are read directly when there are too few to
/// overflow.
fn whole(raw: &[u8]) -> Option<i64> {
    let (negative, digits) = match raw.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, raw),
    };
    if digits.is_empty() || digits.len() >= 19 {
        return json_i64(raw);
    }
    let mut v = 0i64;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(if negative { -v } else { v })
}

impl Kind {
    /// The kind of a raw value (`None`: null) and, for a decimal, its value.
    fn of(raw: &[u8]) -> (Option<Kind>, Option<i128>) {
        let kind = match RawKind::of(raw) {
            RawKind::Null => None,
            RawKind::Bool => Some(Kind::Bool),
            RawKind::Number if is_whole(raw) => Some(Kind::Int),
            RawKind::Number => Some(Kind::Float),
            RawKind::String => {
                return match decimal::parse(raw) {
                    Some(v) => (Some(Kind::Decimal), Some(v)),
                    None => (Some(Kind::Str), None),
                };
            }
            RawKind::Nested => Some(Kind::Json),
        };
        (kind, None)
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
    /// While every value so far is a decimal (or null): the present values as stored, 16
    /// big-endian bytes each, read in the same pass that finds the column's type.
    decimals: Option<Vec<u8>>,
    /// The row whose value ends `decimals`, if any.
    last_decimal_row: Option<usize>,
}

impl Column<'_> {
    fn keep_decimal(&mut self, row: usize, value: Option<i128>, rows: usize) {
        if self.kind.is_some_and(|k| k != Kind::Decimal) {
            self.decimals = None;
            return;
        }
        let Some(buf) = &mut self.decimals else {
            return;
        };
        // A name given twice in one record: the last value counts.
        if self.last_decimal_row == Some(row) {
            buf.truncate(buf.len() - decimal::WIDTH);
            self.last_decimal_row = None;
        }
        if let Some(v) = value {
            if buf.capacity() == 0 {
                buf.reserve_exact((rows - row) * decimal::WIDTH);
            }
            buf.extend_from_slice(&v.to_be_bytes());
            self.last_decimal_row = Some(row);
        }
    }
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
                            decimals: Some(Vec::new()),
                            last_decimal_row: None,
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
            let (kind, value) = Kind::of(raw);
            c.raws[row] = kind.map(|_| raw);
            if let Some(k) = kind {
                c.kind = Some(c.kind.map_or(k, |have| have.merge(k)));
            }
            c.keep_decimal(row, value, records.len());
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
    let mut cols = columns(records, skip);
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

    // The keys in one buffer, each a slice of it.
    let mut key_buf = Vec::with_capacity(records.iter().map(|r| r.key.len()).sum());
    for r in records {
        key_buf.extend_from_slice(r.key.as_bytes());
    }
    let key_buf = Bytes::from(key_buf);
    let mut start = 0;
    let keys = records.iter().map(|r| {
        let end = start + r.key.len();
        let key = ByteArray::from(key_buf.slice(start..end));
        start = end;
        key
    });
    write_required::<ByteArrayType>(&mut rg, keys)?;
    write_required::<Int32Type>(&mut rg, records.iter().map(|r| r.partition))?;
    write_required::<Int64Type>(&mut rg, records.iter().map(|r| r.offset))?;

    for c in &mut cols {
        let raws = &c.raws;
        match c.kind.unwrap_or(Kind::Str) {
            Kind::Int => write_optional::<Int64Type>(&mut rg, raws, |_, raw| whole(raw))?,
            Kind::Float => write_optional::<DoubleType>(&mut rg, raws, |_, raw| json_f64(raw))?,
            Kind::Bool => write_optional::<BoolType>(&mut rg, raws, |_, raw| Some(raw == b"true"))?,
            Kind::Decimal => {
                // Read while the column's type was found: one buffer, each value a slice of it.
                let buf = Bytes::from(c.decimals.take().unwrap_or_default());
                if buf.len() != raws.iter().flatten().count() * decimal::WIDTH {
                    return Err(ParquetError::General(
                        "a decimal column holds a non-decimal".into(),
                    ));
                }
                let mut at = 0;
                write_optional::<FixedLenByteArrayType>(&mut rg, raws, |_, _| {
                    let v = buf.slice(at..at + decimal::WIDTH);
                    at += decimal::WIDTH;
                    Some(FixedLenByteArray::from(ByteArray::from(v)))
                })?;
            }
            Kind::Str | Kind::Json => {
                write_optional::<ByteArrayType>(&mut rg, raws, |row, raw| {
                    records.get(row).map(|r| string(r, raw))
                })?
            }
        }
    }
    rg.close()?;
    writer.close()?;
    Ok(Bytes::from(out))
}

/// Rows handed to a column writer at a time: a multiple of its mini-batch (1,024 rows), so pages
/// are cut where one call with the whole column would cut them, while the values built for a
/// call stay small enough to be reused from cache.
const CHUNK: usize = 8 * 1024;

fn next_column<'a, 'b, W: std::io::Write + Send>(
    rg: &'a mut parquet::file::writer::SerializedRowGroupWriter<'b, W>,
) -> Result<parquet::file::writer::SerializedColumnWriter<'a>, ParquetError> {
    rg.next_column()?
        .ok_or_else(|| ParquetError::General("schema has fewer columns than written".into()))
}

fn write_required<T: parquet::data_type::DataType>(
    rg: &mut parquet::file::writer::SerializedRowGroupWriter<'_, impl std::io::Write + Send>,
    mut values: impl Iterator<Item = T::T>,
) -> Result<(), ParquetError> {
    let mut col = next_column(rg)?;
    let writer = col.typed::<T>();
    let mut chunk = Vec::with_capacity(CHUNK.min(values.size_hint().0));
    loop {
        chunk.clear();
        chunk.extend(values.by_ref().take(CHUNK));
        if chunk.is_empty() {
            break;
        }
        writer.write_batch(&chunk, None, None)?;
    }
    col.close()
}

/// An optional column from each row's raw value (`None`: null); `value` gives the stored value
/// of a present one from its row and raw JSON.
fn write_optional<T: parquet::data_type::DataType>(
    rg: &mut parquet::file::writer::SerializedRowGroupWriter<'_, impl std::io::Write + Send>,
    raws: &[Option<&[u8]>],
    mut value: impl FnMut(usize, &[u8]) -> Option<T::T>,
) -> Result<(), ParquetError> {
    let mut col = next_column(rg)?;
    let writer = col.typed::<T>();
    let mut defs = Vec::with_capacity(CHUNK.min(raws.len()));
    let mut values = Vec::with_capacity(CHUNK.min(raws.len()));
    for (n, chunk) in raws.chunks(CHUNK).enumerate() {
        defs.clear();
        values.clear();
        for (i, raw) in chunk.iter().enumerate() {
            defs.push(i16::from(raw.is_some()));
            if let Some(raw) = raw {
                values.extend(value(n * CHUNK + i, raw));
            }
        }
        writer.write_batch(&values, Some(&defs), None)?;
    }
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
    fn a_decimal_given_twice_in_a_record_keeps_its_last_value() {
        let records = [
            rec("k|1", 1, r#"{"p":"1.5","q":"1","p":"2.5"}"#),
            rec("k|2", 2, r#"{"p":"3.5","q":"2","p":null}"#),
            rec("k|3", 3, r#"{"p":null,"q":"3","p":"4.5"}"#),
            rec("k|4", 4, r#"{"q":"4"}"#),
            rec("k|5", 5, r#"{"p":"-6","q":"5"}"#),
        ];
        let refs: Vec<_> = records.iter().collect();
        let reader = SerializedFileReader::new(encode(&refs, &[]).unwrap()).unwrap();
        let values: Vec<_> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                let cells: Vec<_> = r.get_column_iter().map(|(_, f)| f.clone()).collect();
                match &cells[3] {
                    Field::Decimal(d) => Some(i128::from_be_bytes(d.data().try_into().unwrap())),
                    Field::Null => None,
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(
            values,
            [
                Some(250_000_000),
                None,
                Some(450_000_000),
                None,
                Some(-600_000_000)
            ]
        );
    }

    #[test]
    fn whole_numbers_read_as_the_standard_parser_reads_them() {
        for text in [
            "0",
            "-0",
            "7",
            "-7",
            "123456789012345678",
            "-123456789012345678",
            "999999999999999999",
            "1234567890123456789",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "12a",
            "-",
            "",
        ] {
            assert_eq!(whole(text.as_bytes()), text.parse::<i64>().ok(), "{text:?}");
        }
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
