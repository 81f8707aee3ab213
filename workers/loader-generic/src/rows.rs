//! A file's rows (sync, no I/O: the bytes are in memory): CSV with a header line, JSON lines
//! (one object a line; blank lines skipped) or Parquet (flat columns), each row as column →
//! value with its row number and, for text formats, the line as it was (the dead-letter
//! payload). A row that cannot be read as a row (a CSV line with the wrong number of fields, a
//! line that is not a JSON object) comes with why; a file that cannot be read at all is a
//! [`DecodeError`].

use bytes::{Buf, Bytes};
use parquet::data_type::Decimal;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, reader::RowIter};
use serde_json::Value;
use streamforge_api::SourceFormat;

use crate::mapping::{BadRow, Row};

/// One row of the file.
#[derive(Clone, Debug, PartialEq)]
pub struct RawRow {
    /// 1-based: the line of a text file (the CSV header is line 1), the row of a Parquet file.
    pub number: u64,
    pub fields: Result<Row, BadRow>,
    /// The line as it was (text formats).
    pub raw: Option<Bytes>,
    /// How far into the file this row is, 0 to 1.
    pub fraction: f64,
}

impl RawRow {
    /// What goes to the dead-letter topic: the line as it was, else the row as JSON.
    pub fn letter_payload(&self) -> Vec<u8> {
        match (&self.raw, &self.fields) {
            (Some(raw), _) => raw.to_vec(),
            (None, Ok(row)) => serde_json::to_vec(row).unwrap_or_default(),
            (None, Err(_)) => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("reading the CSV header: {0}")]
    CsvHeader(String),
    #[error("the file is not Parquet, or not one this loader reads: {0}")]
    Parquet(String),
    #[error("reading Parquet row {row}: {reason}")]
    ParquetRow { row: u64, reason: String },
    #[error("the file lacks columns the mapping needs: {0}")]
    MissingColumns(String),
    #[error("the file cannot be read: {0}")]
    Unreadable(String),
}

/// The rows of `bytes`, read as `format`; `header_check` gets the columns of a CSV or Parquet
/// file and refuses a file that lacks what every row needs (a refusal is permanent).
pub fn rows(
    format: SourceFormat,
    bytes: Bytes,
    header_check: impl Fn(&[String]) -> Vec<String>,
) -> Result<Box<dyn Iterator<Item = Result<RawRow, DecodeError>> + Send>, DecodeError> {
    let check = |header: &[String]| {
        let missing = header_check(header);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::MissingColumns(format!(
                "{}; the file's columns: {}",
                missing.join(", "),
                header.join(", ")
            )))
        }
    };
    match format {
        SourceFormat::Csv => {
            let rows = CsvRows::new(bytes)?;
            check(&rows.header)?;
            Ok(Box::new(rows))
        }
        SourceFormat::Jsonl => Ok(Box::new(JsonLines {
            bytes,
            at: 0,
            line: 0,
        })),
        SourceFormat::Parquet => {
            let reader = SerializedFileReader::new(bytes)
                .map_err(|e| DecodeError::Parquet(e.to_string()))?;
            let header: Vec<String> = reader
                .metadata()
                .file_metadata()
                .schema_descr()
                .root_schema()
                .get_fields()
                .iter()
                .map(|f| f.name().to_owned())
                .collect();
            check(&header)?;
            let total = u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0);
            Ok(Box::new(ParquetRows {
                rows: RowIter::from_file_into(Box::new(reader)),
                number: 0,
                total,
                failed: false,
            }))
        }
    }
}

struct CsvRows {
    bytes: Bytes,
    reader: csv::Reader<bytes::buf::Reader<Bytes>>,
    header: Vec<String>,
    record: csv::ByteRecord,
    /// Line feeds before `counted`.
    lines: u64,
    counted: usize,
}

impl CsvRows {
    fn new(bytes: Bytes) -> Result<Self, DecodeError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::Headers)
            .from_reader(bytes.clone().reader());
        let header = reader
            .headers()
            .map_err(|e| DecodeError::CsvHeader(e.to_string()))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_owned())
            .collect();
        Ok(Self {
            bytes,
            reader,
            header,
            record: csv::ByteRecord::new(),
            lines: 0,
            counted: 0,
        })
    }
}

impl Iterator for CsvRows {
    type Item = Result<RawRow, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let before = self.reader.position().clone();
            let fields = match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {
                    if self.record.len() == 1 && self.record.get(0).is_some_and(<[u8]>::is_empty) {
                        continue;
                    }
                    self.row()
                }
                Err(e) => Err(BadRow::new("shape", format!("not a CSV row: {e}"))),
            };
            // The reader's position before a record may still be on the previous line's
            // ending, and its line count lags behind CRLF endings: the record starts at the
            // first byte after them, its line is one more than the line feeds before it.
            let end = (self.reader.position().byte() as usize).min(self.bytes.len());
            let mut start = (before.byte() as usize).min(end);
            while start < end && matches!(self.bytes[start], b'\r' | b'\n') {
                start += 1;
            }
            let counted = self.counted.min(start);
            self.lines += self.bytes[counted..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.counted = start;
            let number = self.lines + 1;
            let raw = self.bytes.slice(start..end);
            let trimmed = raw
                .iter()
                .rposition(|b| *b != b'\n' && *b != b'\r')
                .map_or(0, |p| p + 1);
            return Some(Ok(RawRow {
                number,
                fields,
                raw: Some(raw.slice(..trimmed)),
                fraction: end as f64 / self.bytes.len().max(1) as f64,
            }));
        }
    }
}

impl CsvRows {
    fn row(&self) -> Result<Row, BadRow> {
        if self.record.len() != self.header.len() {
            return Err(BadRow::new(
                "shape",
                format!(
                    "the row has {} fields, the header {}",
                    self.record.len(),
                    self.header.len()
                ),
            ));
        }
        let mut row = Row::new();
        for (name, cell) in self.header.iter().zip(self.record.iter()) {
            let text = std::str::from_utf8(cell)
                .map_err(|_| BadRow::new("text", format!("column {name:?} is not UTF-8 text")))?;
            row.insert(name.clone(), Value::String(text.to_owned()));
        }
        Ok(row)
    }
}

struct JsonLines {
    bytes: Bytes,
    at: usize,
    line: u64,
}

impl Iterator for JsonLines {
    type Item = Result<RawRow, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.at < self.bytes.len() {
            let rest = &self.bytes[self.at..];
            let len = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
            let raw = self.bytes.slice(self.at..self.at + len);
            self.at += len + 1;
            self.line += 1;
            let raw = match raw.last() {
                Some(b'\r') => raw.slice(..raw.len() - 1),
                _ => raw,
            };
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let fields = match serde_json::from_slice::<Value>(&raw) {
                Ok(Value::Object(m)) => Ok(m),
                Ok(_) => Err(BadRow::new("json", "the line is JSON but not an object")),
                Err(e) => Err(BadRow::new("json", format!("the line is not JSON: {e}"))),
            };
            return Some(Ok(RawRow {
                number: self.line,
                fields,
                raw: Some(raw),
                fraction: self.at.min(self.bytes.len()) as f64 / self.bytes.len().max(1) as f64,
            }));
        }
        None
    }
}

struct ParquetRows {
    rows: RowIter<'static>,
    number: u64,
    total: u64,
    failed: bool,
}

impl Iterator for ParquetRows {
    type Item = Result<RawRow, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let row = self.rows.next()?;
        self.number += 1;
        match row {
            Ok(row) => {
                let mut fields = Row::new();
                for (name, field) in row.get_column_iter() {
                    fields.insert(name.clone(), field_value(field));
                }
                Some(Ok(RawRow {
                    number: self.number,
                    fields: Ok(fields),
                    raw: None,
                    fraction: self.number as f64 / self.total.max(1) as f64,
                }))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(DecodeError::ParquetRow {
                    row: self.number,
                    reason: e.to_string(),
                }))
            }
        }
    }
}

/// A Parquet value as JSON: timestamps as epoch milliseconds, decimals as their text, nested
/// values as text (no record field is nested).
pub fn field_value(f: &Field) -> Value {
    let num = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
    match f {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Byte(n) => Value::from(*n),
        Field::Short(n) => Value::from(*n),
        Field::Int(n) => Value::from(*n),
        Field::Long(n) => Value::from(*n),
        Field::UByte(n) => Value::from(*n),
        Field::UShort(n) => Value::from(*n),
        Field::UInt(n) => Value::from(*n),
        Field::ULong(n) => Value::from(*n),
        Field::Float16(n) => num(f64::from(*n)),
        Field::Float(n) => num(f64::from(*n)),
        Field::Double(n) => num(*n),
        Field::Decimal(d) => Value::String(decimal_text(d)),
        Field::Str(s) => Value::String(s.clone()),
        Field::Bytes(b) => Value::String(String::from_utf8_lossy(b.data()).into_owned()),
        Field::Date(days) => Value::from(i64::from(*days) * 86_400_000),
        Field::TimeMillis(t) => Value::from(*t),
        Field::TimeMicros(t) => Value::from(t / 1000),
        Field::TimestampMillis(t) => Value::from(*t),
        Field::TimestampMicros(t) => Value::from(t.div_euclid(1000)),
        other => Value::String(other.to_string()),
    }
}

/// A Parquet decimal (big-endian two's complement, scaled) as decimal text.
pub fn decimal_text(d: &Decimal) -> String {
    let bytes = d.data();
    if bytes.is_empty() || bytes.len() > 16 {
        return String::new();
    }
    let negative = bytes[0] & 0x80 != 0;
    let mut v: i128 = if negative { -1 } else { 0 };
    for b in bytes {
        v = (v << 8) | i128::from(*b);
    }
    let digits = v.unsigned_abs().to_string();
    let scale = usize::try_from(d.scale()).unwrap_or(0);
    let sign = if v < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn all(format: SourceFormat, text: &str) -> Vec<RawRow> {
        rows(format, Bytes::from(text.to_owned()), |_| vec![])
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn csv_rows_keep_their_line() {
        let got = all(
            SourceFormat::Csv,
            "\u{feff}ts, open\r\n1,\"2.5\"\n\n3\n4,5,6\n7,8",
        );
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].number, 2);
        assert_eq!(got[0].fields.as_ref().unwrap()["open"], json!("2.5"));
        assert_eq!(got[0].raw.as_deref(), Some(&b"1,\"2.5\""[..]));
        assert_eq!(got[1].fields.as_ref().unwrap_err().category, "shape");
        assert_eq!(got[1].raw.as_deref(), Some(&b"3"[..]));
        assert_eq!(got[2].number, 5);
        assert!(got[2].fields.is_err());
        assert_eq!(got[3].raw.as_deref(), Some(&b"7,8"[..]));
    }

    #[test]
    fn json_lines_are_objects() {
        let got = all(
            SourceFormat::Jsonl,
            "{\"a\":1}\n\n[1]\nnot json\r\n{\"b\":2}",
        );
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].fields.as_ref().unwrap()["a"], json!(1));
        assert_eq!(got[1].number, 3);
        assert!(
            got[1]
                .fields
                .as_ref()
                .unwrap_err()
                .reason
                .contains("not an object")
        );
        assert_eq!(got[2].raw.as_deref(), Some(&b"not json"[..]));
        assert_eq!(got[2].letter_payload(), b"not json");
        assert_eq!(got[3].number, 5);
    }

    #[test]
    fn a_header_without_needed_columns_is_refused() {
        let e = rows(SourceFormat::Csv, Bytes::from_static(b"a,b\n1,2"), |h| {
            if h.contains(&"open".to_string()) {
                vec![]
            } else {
                vec!["open (column \"open\")".into()]
            }
        })
        .err()
        .unwrap();
        assert!(e.to_string().contains("the file's columns: a, b"), "{e}");
        assert!(matches!(
            rows(
                SourceFormat::Parquet,
                Bytes::from_static(b"a,b"),
                |_| vec![]
            )
            .err(),
            Some(DecodeError::Parquet(_))
        ));
    }

    #[test]
    fn parquet_rows_as_json_values() {
        use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
        use parquet::file::properties::WriterProperties;
        use parquet::file::writer::SerializedFileWriter;
        let schema = std::sync::Arc::new(
            parquet::schema::parser::parse_message_type(
                "message m { required int64 ts (TIMESTAMP(MICROS,true)); optional binary s (UTF8); }",
            )
            .unwrap(),
        );
        let mut buf = Vec::new();
        let props = std::sync::Arc::new(WriterProperties::builder().build());
        let mut w = SerializedFileWriter::new(&mut buf, schema, props).unwrap();
        let mut rg = w.next_row_group().unwrap();
        let mut c = rg.next_column().unwrap().unwrap();
        c.typed::<Int64Type>()
            .write_batch(&[1_722_470_400_000_123, 1_722_470_460_000_000], None, None)
            .unwrap();
        c.close().unwrap();
        let mut c = rg.next_column().unwrap().unwrap();
        c.typed::<ByteArrayType>()
            .write_batch(&[ByteArray::from("1.5")], Some(&[1, 0]), None)
            .unwrap();
        c.close().unwrap();
        rg.close().unwrap();
        w.close().unwrap();
        let got: Vec<RawRow> = rows(SourceFormat::Parquet, Bytes::from(buf), |h| {
            assert_eq!(h, ["ts", "s"]);
            vec![]
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].fields.as_ref().unwrap(),
            json!({"ts": 1_722_470_400_000_i64, "s": "1.5"})
                .as_object()
                .unwrap()
        );
        assert_eq!(got[1].fields.as_ref().unwrap()["s"], Value::Null);
        assert_eq!((got[1].number, got[1].fraction), (2, 1.0));
        assert_eq!(
            got[0].letter_payload(),
            br#"{"s":"1.5","ts":1722470400000}"#
        );
    }

    #[test]
    fn decimals_as_text() {
        let d = |v: i64, scale| {
            Decimal::from_bytes(
                parquet::data_type::ByteArray::from(v.to_be_bytes().to_vec()),
                18,
                scale,
            )
        };
        assert_eq!(decimal_text(&d(12345, 2)), "123.45");
        assert_eq!(decimal_text(&d(-5, 3)), "-0.005");
        assert_eq!(decimal_text(&d(7, 0)), "7");
    }
}
