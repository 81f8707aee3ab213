//! From a row of a user's file to a record (pure): the Queue's column mapping (record field →
//! column; a field not mapped is read from the column of its own name), the value parsers, and
//! why a row cannot be a record ([`BadRow`], which sends it to the dead-letter topic).
//!
//! Candles need `open_time`, `open`, `high`, `low`, `close` and `volume`; `symbol` defaults to
//! the Queue's, `interval` to the source's, `close_time` to the end of the candle's interval,
//! `quote_volume`, `taker_buy_base` and `taker_buy_quote` to `"0"` and `trades` to 0 when the
//! file has no such column. Trades need `agg_id`, `price`, `qty` and `time`; `first_trade_id`
//! and `last_trade_id` default to `agg_id`, `buyer_maker` to false. A column the mapping names
//! explicitly must be there. Times are epoch milliseconds, or RFC 3339 / `YYYY-MM-DD HH:MM:SS`
//! (UTC) text; prices and quantities stay decimal text as written.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::Value;
use streamforge_api::SourceRecords;
use streamforge_api::datatype::Interval;
use streamforge_loader::records::{CandleRecord, TradeRecord};

use crate::config::ConfigError;

/// One row as read: column → value (CSV cells are text; JSON and Parquet keep their types).
pub type Row = serde_json::Map<String, Value>;

pub const CANDLE_FIELDS: [&str; 13] = [
    "symbol",
    "interval",
    "open_time",
    "close_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "trades",
    "taker_buy_base",
    "taker_buy_quote",
];
const CANDLE_REQUIRED: [&str; 6] = ["open_time", "open", "high", "low", "close", "volume"];

pub const TRADE_FIELDS: [&str; 8] = [
    "symbol",
    "agg_id",
    "price",
    "qty",
    "first_trade_id",
    "last_trade_id",
    "time",
    "buyer_maker",
];
const TRADE_REQUIRED: [&str; 4] = ["agg_id", "price", "qty", "time"];

/// Why a row is not loaded; `category` is a short fixed label (metrics, `x-dlq-category`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    pub reason: String,
    pub category: &'static str,
}

impl BadRow {
    pub fn new(category: &'static str, reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            category,
        }
    }
}

/// A record made from a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Mapped {
    Candle(CandleRecord),
    Trade(TradeRecord),
}

impl Mapped {
    /// The loader's key: `SYMBOL|interval|open_time` or `SYMBOL|agg_id`.
    pub fn key(&self) -> String {
        match self {
            Mapped::Candle(c) => c.key(),
            Mapped::Trade(t) => t.key(),
        }
    }

    /// The record as the loader writes it.
    pub fn payload(&self) -> Vec<u8> {
        match self {
            Mapped::Candle(c) => serde_json::to_vec(c),
            Mapped::Trade(t) => serde_json::to_vec(t),
        }
        .unwrap_or_default()
    }

    /// The series whose continuity is checked: `SYMBOL|interval` or `SYMBOL`.
    pub fn series(&self) -> String {
        match self {
            Mapped::Candle(c) => format!("{}|{}", c.symbol, c.interval),
            Mapped::Trade(t) => t.symbol.clone(),
        }
    }

    /// The position in its series: the open time or the aggregate trade id.
    pub fn position(&self) -> i64 {
        match self {
            Mapped::Candle(c) => c.open_time,
            Mapped::Trade(t) => t.agg_id,
        }
    }

    /// The time the Queue's TIME_RANGE is checked against: open time or trade time (ms).
    pub fn time(&self) -> i64 {
        match self {
            Mapped::Candle(c) => c.open_time,
            Mapped::Trade(t) => t.time,
        }
    }

    /// A candle's interval in ms; `None` for trades.
    pub fn step(&self) -> Option<i64> {
        match self {
            Mapped::Candle(c) => Interval::parse(&c.interval).map(|i| i.ms),
            Mapped::Trade(_) => None,
        }
    }
}

/// How a file's rows become records.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapping {
    pub records: SourceRecords,
    /// Every field → the column it is read from.
    columns: BTreeMap<&'static str, String>,
    /// Fields the Queue mapped by name: their column must be there.
    explicit: BTreeSet<&'static str>,
    symbol: String,
    interval: Option<Interval>,
}

impl Mapping {
    /// `columns` maps record fields to column names; `symbol` is the Queue's, for rows without
    /// one; `interval` the source's, for candles.
    pub fn new(
        records: SourceRecords,
        columns: &BTreeMap<String, String>,
        symbol: &str,
        interval: Option<Interval>,
    ) -> Result<Self, ConfigError> {
        let (fields, name): (&[&'static str], _) = match records {
            SourceRecords::Candles => (&CANDLE_FIELDS, "candles"),
            SourceRecords::Trades => (&TRADE_FIELDS, "trades"),
        };
        let mut explicit = BTreeSet::new();
        for field in columns.keys() {
            let Some(f) = fields.iter().find(|f| **f == field.trim()) else {
                return Err(ConfigError::UnknownField {
                    field: field.clone(),
                    records: name,
                    known: fields.join(", "),
                });
            };
            explicit.insert(*f);
        }
        let columns = fields
            .iter()
            .map(|f| {
                let col = columns
                    .iter()
                    .find(|(k, _)| k.trim() == *f)
                    .map_or_else(|| (*f).to_owned(), |(_, v)| v.trim().to_owned());
                (*f, col)
            })
            .collect();
        Ok(Self {
            records,
            columns,
            explicit,
            symbol: symbol.trim().to_ascii_uppercase(),
            interval,
        })
    }

    fn column<'a>(&'a self, field: &'a str) -> &'a str {
        self.columns.get(field).map_or(field, String::as_str)
    }

    fn required(&self) -> &'static [&'static str] {
        match self.records {
            SourceRecords::Candles => &CANDLE_REQUIRED,
            SourceRecords::Trades => &TRADE_REQUIRED,
        }
    }

    /// The columns every row needs (required fields, fields mapped by name, and a candle's
    /// `interval` when the source gives none), for a check of a file's header before loading.
    pub fn needed_columns(&self) -> Vec<(&'static str, &str)> {
        let mut fields: BTreeSet<&'static str> = self.required().iter().copied().collect();
        fields.extend(self.explicit.iter().copied());
        if self.records == SourceRecords::Candles && self.interval.is_none() {
            fields.insert("interval");
        }
        fields.into_iter().map(|f| (f, self.column(f))).collect()
    }

    /// Fields whose column is not among `header`, as `field (column "c")`.
    pub fn missing_in(&self, header: &[String]) -> Vec<String> {
        self.needed_columns()
            .into_iter()
            .filter(|(_, c)| !header.iter().any(|h| h == c))
            .map(|(f, c)| format!("{f} (column {c:?})"))
            .collect()
    }

    /// The record `row` makes, or why it makes none.
    pub fn map(&self, row: &Row) -> Result<Mapped, BadRow> {
        match self.records {
            SourceRecords::Candles => self.candle(row).map(Mapped::Candle),
            SourceRecords::Trades => self.trade(row).map(Mapped::Trade),
        }
    }

    /// The value of `field` in `row`; absent, null or blank is `None`.
    fn value<'r>(&self, row: &'r Row, field: &str) -> Option<&'r Value> {
        row.get(self.column(field)).filter(|v| match v {
            Value::Null => false,
            Value::String(s) => !s.trim().is_empty(),
            _ => true,
        })
    }

    fn missing(&self, field: &str) -> BadRow {
        BadRow::new(
            "missing",
            format!(
                "column {:?} ({field}) is missing or empty",
                self.column(field)
            ),
        )
    }

    fn req<T>(
        &self,
        row: &Row,
        field: &str,
        parse: fn(&Value) -> Result<T, String>,
        category: &'static str,
    ) -> Result<T, BadRow> {
        let v = self.value(row, field).ok_or_else(|| self.missing(field))?;
        parse(v).map_err(|e| {
            BadRow::new(
                category,
                format!("column {:?} ({field}): {e}", self.column(field)),
            )
        })
    }

    /// An optional field: `None` when its column is absent, unless the mapping named it.
    fn opt<T>(
        &self,
        row: &Row,
        field: &'static str,
        parse: fn(&Value) -> Result<T, String>,
        category: &'static str,
    ) -> Result<Option<T>, BadRow> {
        if self.value(row, field).is_none() && !self.explicit.contains(field) {
            return Ok(None);
        }
        self.req(row, field, parse, category).map(Some)
    }

    fn symbol(&self, row: &Row) -> Result<String, BadRow> {
        Ok(self
            .opt(row, "symbol", parse_text, "text")?
            .map_or_else(|| self.symbol.clone(), |s| s.to_ascii_uppercase()))
    }

    fn candle(&self, row: &Row) -> Result<CandleRecord, BadRow> {
        let interval = match self.interval {
            Some(i) if !self.explicit.contains("interval") => i,
            _ => {
                let name = self.req(row, "interval", parse_text, "interval")?;
                Interval::parse(&name).ok_or_else(|| {
                    BadRow::new(
                        "interval",
                        format!(
                            "column {:?} (interval): {name:?} is not a kline interval",
                            self.column("interval")
                        ),
                    )
                })?
            }
        };
        let open_time = self.req(row, "open_time", parse_time, "time")?;
        let close_time = self
            .opt(row, "close_time", parse_time, "time")?
            .unwrap_or(open_time.saturating_add(interval.ms - 1));
        let dec = |f| self.req(row, f, parse_decimal, "number");
        let dec_or_zero = |f| {
            self.opt(row, f, parse_decimal, "number")
                .map(|v| v.unwrap_or_else(|| "0".to_owned()))
        };
        Ok(CandleRecord {
            symbol: self.symbol(row)?,
            interval: interval.name.to_owned(),
            open_time,
            close_time,
            open: dec("open")?,
            high: dec("high")?,
            low: dec("low")?,
            close: dec("close")?,
            volume: dec("volume")?,
            quote_volume: dec_or_zero("quote_volume")?,
            trades: self.opt(row, "trades", parse_int, "number")?.unwrap_or(0),
            taker_buy_base: dec_or_zero("taker_buy_base")?,
            taker_buy_quote: dec_or_zero("taker_buy_quote")?,
        })
    }

    fn trade(&self, row: &Row) -> Result<TradeRecord, BadRow> {
        let agg_id = self.req(row, "agg_id", parse_int, "number")?;
        Ok(TradeRecord {
            symbol: self.symbol(row)?,
            agg_id,
            price: self.req(row, "price", parse_decimal, "number")?,
            qty: self.req(row, "qty", parse_decimal, "number")?,
            first_trade_id: self
                .opt(row, "first_trade_id", parse_int, "number")?
                .unwrap_or(agg_id),
            last_trade_id: self
                .opt(row, "last_trade_id", parse_int, "number")?
                .unwrap_or(agg_id),
            time: self.req(row, "time", parse_time, "time")?,
            buyer_maker: self
                .opt(row, "buyer_maker", parse_bool, "bool")?
                .unwrap_or(false),
        })
    }
}

fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 64 {
        format!("{}...", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Text, or a number written as text.
pub fn parse_text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.trim().to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("{} is not text", shown(other))),
    }
}

/// A decimal number, kept as written (a JSON number as serde_json writes it).
pub fn parse_decimal(v: &Value) -> Result<String, String> {
    let text = match v {
        Value::Number(n) => return Ok(n.to_string()),
        Value::String(s) => s.trim(),
        other => return Err(format!("{} is not a decimal number", shown(other))),
    };
    let digits = text.chars().any(|c| c.is_ascii_digit());
    let plain = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && digits && plain => Ok(text.to_owned()),
        _ => Err(format!("{} is not a decimal number", shown(v))),
    }
}

/// A whole number: an integer, or a number or text with no fraction.
pub fn parse_int(v: &Value) -> Result<i64, String> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: larger floats are not exact integers
    let whole =
        |f: f64| (f.is_finite() && f.fract() == 0.0 && f.abs() <= EXACT).then_some(f as i64);
    let parsed = match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(whole)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(whole))
        }
        _ => None,
    };
    parsed.ok_or_else(|| format!("{} is not a whole number", shown(v)))
}

/// A time in epoch milliseconds: a whole number, or RFC 3339, `YYYY-MM-DD HH:MM:SS[.fff]`
/// (UTC) or `YYYY-MM-DD` text.
pub fn parse_time(v: &Value) -> Result<i64, String> {
    if let Ok(ms) = parse_int(v) {
        return Ok(ms);
    }
    let bad = || format!("{} is not a time (epoch ms or RFC 3339)", shown(v));
    let Value::String(s) = v else {
        return Err(bad());
    };
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(bad)
}

/// true/false, 1/0, yes/no (any case).
pub fn parse_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "t" | "y" => Ok(true),
            "false" | "0" | "no" | "f" | "n" => Ok(false),
            _ => Err(format!("{} is not true or false", shown(v))),
        },
        other => Err(format!("{} is not true or false", shown(other))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Row {
        v.as_object().unwrap().clone()
    }

    fn candles(columns: &[(&str, &str)], interval: Option<&str>) -> Mapping {
        let columns = columns
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Mapping::new(
            SourceRecords::Candles,
            &columns,
            "btcusdt",
            interval.and_then(Interval::parse),
        )
        .unwrap()
    }

    #[test]
    fn a_mapped_candle_row_is_the_loaders_record() {
        let m = candles(&[("open_time", "ts"), ("volume", "vol")], Some("1m"));
        let r = row(
            json!({"ts": "1722470400000", "open": "1.5", "high": "2", "low": "1",
            "close": "1.75", "vol": 12.5, "extra": "ignored"}),
        );
        let Mapped::Candle(c) = m.map(&r).unwrap() else {
            panic!()
        };
        assert_eq!(c.key(), "BTCUSDT|1m|1722470400000");
        assert_eq!(c.close_time, 1722470459999);
        assert_eq!((c.open.as_str(), c.volume.as_str()), ("1.5", "12.5"));
        assert_eq!((c.quote_volume.as_str(), c.trades), ("0", 0));
    }

    #[test]
    fn symbol_and_interval_can_come_from_the_row() {
        let m = candles(&[], None);
        let r = row(
            json!({"symbol": "ethusdt", "interval": "5m", "open_time": "2024-08-01T00:05:00Z",
            "open": "1", "high": "1", "low": "1", "close": "1", "volume": "0"}),
        );
        let got = m.map(&r).unwrap();
        assert_eq!(got.key(), "ETHUSDT|5m|1722470700000");
        assert_eq!(got.step(), Some(300_000));
        assert_eq!(
            m.needed_columns()
                .iter()
                .map(|(f, _)| *f)
                .collect::<Vec<_>>(),
            [
                "close",
                "high",
                "interval",
                "low",
                "open",
                "open_time",
                "volume"
            ]
        );
    }

    #[test]
    fn bad_rows_say_which_column_and_why() {
        let m = candles(&[("open", "o")], Some("1m"));
        let base =
            json!({"open_time": 1, "o": "1", "high": "1", "low": "1", "close": "1", "volume": "1"});
        let mut r = row(base.clone());
        r.insert("o".into(), json!("abc"));
        let e = m.map(&r).unwrap_err();
        assert_eq!(e.category, "number");
        assert_eq!(
            e.reason,
            r#"column "o" (open): "abc" is not a decimal number"#
        );
        let mut r = row(base.clone());
        r.remove("high");
        let e = m.map(&r).unwrap_err();
        assert_eq!(
            (e.category, e.reason.as_str()),
            ("missing", r#"column "high" (high) is missing or empty"#)
        );
        let mut r = row(base.clone());
        r.insert("open_time".into(), json!("yesterday"));
        assert_eq!(m.map(&r).unwrap_err().category, "time");
        for nan in ["NaN", "inf", "1,5", ""] {
            let mut r = row(base.clone());
            r.insert("close".into(), json!(nan));
            assert!(m.map(&r).is_err(), "{nan}");
        }
        // A column mapped by name must be there, even for an optional field.
        let m = candles(&[("trades", "n")], Some("1m"));
        assert_eq!(m.map(&row(base)).unwrap_err().category, "missing");
    }

    #[test]
    fn trades_with_defaults() {
        let columns = [("agg_id".to_string(), "id".to_string())].into();
        let m = Mapping::new(SourceRecords::Trades, &columns, "BTCUSDT", None).unwrap();
        let r = row(
            json!({"id": 42, "price": "60000.1", "qty": "0.5", "time": 1722470400123_i64,
            "buyer_maker": "True"}),
        );
        let Mapped::Trade(t) = m.map(&r).unwrap() else {
            panic!()
        };
        assert_eq!(t.key(), "BTCUSDT|42");
        assert_eq!(
            (t.first_trade_id, t.last_trade_id, t.buyer_maker),
            (42, 42, true)
        );
        assert_eq!(
            m.missing_in(&["id".into(), "price".into()]),
            ["qty (column \"qty\")", "time (column \"time\")"]
        );
    }

    #[test]
    fn value_parsers() {
        assert_eq!(parse_int(&json!("12")), Ok(12));
        assert_eq!(parse_int(&json!(12.0)), Ok(12));
        assert!(parse_int(&json!(12.5)).is_err());
        assert!(parse_int(&json!(true)).is_err());
        assert_eq!(
            parse_time(&json!("2024-08-01 00:00:00")),
            Ok(1_722_470_400_000)
        );
        assert_eq!(parse_time(&json!("2024-08-01")), Ok(1_722_470_400_000));
        assert_eq!(parse_decimal(&json!(" 0.00012 ")), Ok("0.00012".into()));
        assert_eq!(parse_decimal(&json!(3)), Ok("3".into()));
        assert!(parse_decimal(&json!(null)).is_err());
        assert_eq!(parse_bool(&json!(0)), Ok(false));
        assert!(parse_bool(&json!("maybe")).is_err());
    }
}
