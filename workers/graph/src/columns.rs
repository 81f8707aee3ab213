//! Typed columns out of a Parquet file, by name, without the Arrow layer: the graph's own files
//! and the lake's candle files are both read through this. A column's nulls come back as
//! `None`; a missing column or one of another type is a [`GraphError::Schema`].

use bytes::Bytes;
use parquet::basic::ConvertedType;
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::DataType;
use parquet::errors::ParquetError;
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::GraphError;

/// Values decoded per call to the column reader.
const BATCH: usize = 64 * 1024;

/// An opened Parquet file whose columns are read whole.
pub struct ParquetColumns {
    reader: SerializedFileReader<Bytes>,
    path: String,
}

impl ParquetColumns {
    /// Open the file `bytes`, which came from `path` (named in every error).
    pub fn open(bytes: Bytes, path: &str) -> Result<Self, GraphError> {
        let reader = SerializedFileReader::new(bytes).map_err(|source| GraphError::Parquet {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            reader,
            path: path.to_owned(),
        })
    }

    pub fn num_rows(&self) -> usize {
        usize::try_from(self.reader.metadata().file_metadata().num_rows()).unwrap_or(0)
    }

    /// Names of the top-level columns, in file order.
    pub fn names(&self) -> Vec<String> {
        self.reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.path().string())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.index(name).is_some()
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.path().string() == name)
    }

    fn schema_error(&self, reason: String) -> GraphError {
        GraphError::Schema {
            path: self.path.clone(),
            reason,
        }
    }

    fn parquet_error(&self, source: ParquetError) -> GraphError {
        GraphError::Parquet {
            path: self.path.clone(),
            source,
        }
    }

    /// Every row group's chunk of column `name`, each decoded by `take`.
    fn read<T>(
        &self,
        name: &str,
        mut take: impl FnMut(ColumnReader, i16, &mut Vec<Option<T>>) -> Result<bool, ParquetError>,
        expected: &str,
    ) -> Result<Vec<Option<T>>, GraphError> {
        let idx = self
            .index(name)
            .ok_or_else(|| self.schema_error(format!("has no column {name:?}")))?;
        let max_def = self
            .reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .column(idx)
            .max_def_level();
        let mut out = Vec::with_capacity(self.num_rows());
        for g in 0..self.reader.num_row_groups() {
            let rg = self
                .reader
                .get_row_group(g)
                .map_err(|e| self.parquet_error(e))?;
            let col = rg
                .get_column_reader(idx)
                .map_err(|e| self.parquet_error(e))?;
            if !take(col, max_def, &mut out).map_err(|e| self.parquet_error(e))? {
                return Err(self.schema_error(format!("column {name:?} is not {expected}")));
            }
        }
        Ok(out)
    }

    /// An integer column (INT64 or INT32).
    pub fn i64s(&self, name: &str) -> Result<Vec<Option<i64>>, GraphError> {
        self.read(
            name,
            |col, max_def, out| match col {
                ColumnReader::Int64ColumnReader(r) => drain(r, max_def, out, |v| v).map(|_| true),
                ColumnReader::Int32ColumnReader(r) => {
                    drain(r, max_def, out, i64::from).map(|_| true)
                }
                _ => Ok(false),
            },
            "an integer",
        )
    }

    /// A floating-point column (DOUBLE or FLOAT).
    pub fn f64s(&self, name: &str) -> Result<Vec<Option<f64>>, GraphError> {
        self.read(
            name,
            |col, max_def, out| match col {
                ColumnReader::DoubleColumnReader(r) => drain(r, max_def, out, |v| v).map(|_| true),
                ColumnReader::FloatColumnReader(r) => {
                    drain(r, max_def, out, f64::from).map(|_| true)
                }
                _ => Ok(false),
            },
            "floating point",
        )
    }

    /// Is column `name` a DECIMAL?
    pub fn is_decimal(&self, name: &str) -> bool {
        self.index(name).is_some_and(|i| {
            self.reader
                .metadata()
                .file_metadata()
                .schema_descr()
                .column(i)
                .converted_type()
                == ConvertedType::DECIMAL
        })
    }

    /// A DECIMAL column (the lake's prices: `FIXED_LEN_BYTE_ARRAY(16)`; BYTE_ARRAY, INT64 and
    /// INT32 decimals too), each value as the nearest `f64`, the number parsing its decimal text
    /// gives (a value wider than 16 bytes, which no 38-digit decimal needs, reads as NaN).
    pub fn decimals(&self, name: &str) -> Result<Vec<Option<f64>>, GraphError> {
        let idx = self
            .index(name)
            .ok_or_else(|| self.schema_error(format!("has no column {name:?}")))?;
        let descr = self
            .reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .column(idx);
        if descr.converted_type() != ConvertedType::DECIMAL {
            return Err(self.schema_error(format!("column {name:?} is not a decimal")));
        }
        let scale = descr.type_scale();
        let value = |v: i128| decimal_f64(v, scale);
        self.read(
            name,
            |col, max_def, out| match col {
                ColumnReader::FixedLenByteArrayColumnReader(r) => drain(r, max_def, out, |v| {
                    unscaled(v.data()).map_or(f64::NAN, value)
                })
                .map(|_| true),
                ColumnReader::ByteArrayColumnReader(r) => drain(r, max_def, out, |v| {
                    unscaled(v.data()).map_or(f64::NAN, value)
                })
                .map(|_| true),
                ColumnReader::Int64ColumnReader(r) => {
                    drain(r, max_def, out, |v| value(i128::from(v))).map(|_| true)
                }
                ColumnReader::Int32ColumnReader(r) => {
                    drain(r, max_def, out, |v| value(i128::from(v))).map(|_| true)
                }
                _ => Ok(false),
            },
            "a decimal",
        )
    }

    /// A text column (BYTE_ARRAY); a value that is not UTF-8 is an error.
    pub fn strings(&self, name: &str) -> Result<Vec<Option<String>>, GraphError> {
        self.text_map(name, str::to_owned)
    }

    /// A text column (BYTE_ARRAY), each value handed to `f` as `&str` without a copy (decimal
    /// prices parsed straight from the page); a value that is not UTF-8 is an error.
    pub fn text_map<T>(
        &self,
        name: &str,
        mut f: impl FnMut(&str) -> T,
    ) -> Result<Vec<Option<T>>, GraphError> {
        let mut not_utf8 = false;
        let mut valid = |v: parquet::data_type::ByteArray| match std::str::from_utf8(v.data()) {
            Ok(s) => Some(f(s)),
            Err(_) => {
                not_utf8 = true;
                None
            }
        };
        let out = self.read(
            name,
            |col, max_def, out| match col {
                ColumnReader::ByteArrayColumnReader(r) => {
                    drain(r, max_def, out, &mut valid).map(|_| true)
                }
                _ => Ok(false),
            },
            "text",
        )?;
        if not_utf8 {
            return Err(self.schema_error(format!("column {name:?} holds text that is not UTF-8")));
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    /// A column that must have no nulls.
    pub fn required<T>(&self, name: &str, values: Vec<Option<T>>) -> Result<Vec<T>, GraphError> {
        let n = values.len();
        let out: Vec<T> = values.into_iter().flatten().collect();
        if out.len() != n {
            return Err(self.schema_error(format!("column {name:?} has {} nulls", n - out.len())));
        }
        Ok(out)
    }
}

/// A big-endian two's-complement integer of at most 16 bytes (a decimal's unscaled value).
fn unscaled(bytes: &[u8]) -> Option<i128> {
    if bytes.len() > 16 {
        return None;
    }
    let fill = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        0xff
    } else {
        0
    };
    let mut wide = [fill; 16];
    wide[16 - bytes.len()..].copy_from_slice(bytes);
    Some(i128::from_be_bytes(wide))
}

/// `v / 10^scale` as the nearest `f64`. Below 2^53 both operands are exact and the division
/// rounds once; larger values go through their decimal text, which `parse` rounds correctly.
fn decimal_f64(v: i128, scale: i32) -> f64 {
    const EXACT: i128 = 1 << 53;
    if (-EXACT..=EXACT).contains(&v) && (0..=22).contains(&scale) {
        return v as f64 / 10f64.powi(scale);
    }
    format!("{v}e{}", -scale).parse().unwrap_or(f64::NAN)
}

/// Read a whole column chunk, nulls as `None`, each value converted by `map`.
fn drain<T: DataType, U>(
    mut r: ColumnReaderImpl<T>,
    max_def: i16,
    out: &mut Vec<Option<U>>,
    mut map: impl FnMut(T::T) -> U,
) -> Result<(), ParquetError> {
    let mut values: Vec<T::T> = Vec::with_capacity(BATCH);
    let mut defs: Vec<i16> = Vec::with_capacity(BATCH);
    loop {
        values.clear();
        defs.clear();
        let levels = (max_def > 0).then_some(&mut defs);
        let (records, _, _) = r.read_records(BATCH, levels, None, &mut values)?;
        if records == 0 {
            return Ok(());
        }
        if max_def > 0 {
            let mut it = values.drain(..);
            for d in &defs {
                out.push(if *d == max_def {
                    it.next().map(&mut map)
                } else {
                    None
                });
            }
        } else {
            out.extend(values.drain(..).map(|v| Some(map(v))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{decimal_f64, unscaled};

    #[test]
    fn unscaled_values_are_signed_big_endian() {
        assert_eq!(
            unscaled(&4_200_010_000_000i128.to_be_bytes()),
            Some(4_200_010_000_000)
        );
        assert_eq!(unscaled(&(-5i128).to_be_bytes()), Some(-5));
        assert_eq!(unscaled(&[0x01, 0x00]), Some(256));
        assert_eq!(unscaled(&[0xff, 0xfe]), Some(-2));
        assert_eq!(unscaled(&[]), Some(0));
        assert_eq!(unscaled(&[0; 17]), None);
    }

    #[test]
    fn decimals_become_the_double_their_text_parses_to() {
        for (v, scale, text) in [
            (4_200_012_345_678i128, 8, "42000.12345678"),
            (12_345_678_901_250_000_000, 8, "123456789012.5"),
            (-150_000_000, 8, "-1.5"),
            (1, 8, "0.00000001"),
            (7, 0, "7"),
            (i128::MAX, 8, "1701411834604692317316873037158.84105727"),
        ] {
            assert_eq!(
                decimal_f64(v, scale),
                text.parse::<f64>().unwrap(),
                "{text}"
            );
        }
    }
}
