//! A data-topic message as a sink sees it: a key and a JSON object.
//!
//! The object is checked once, when the message is read, and kept as the payload bytes plus
//! where each top-level field's name and value lie in them. Nothing is copied per field:
//! storage reads a field as raw JSON text, or slices a string value out of the payload, and
//! only builds a full JSON document when it needs one ([`Record::document`]).

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use super::json_object;

/// One record to store. `key` is the deterministic record key the loader wrote; storage uses it
/// as the document identity, so a re-delivered record overwrites itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub key: String,
    /// The message payload, a JSON object.
    payload: Bytes,
    /// The object's top-level fields in payload order (a name given twice appears twice; the
    /// last one counts, as in any JSON reader).
    fields: Box<[Field]>,
    pub partition: i32,
    pub offset: i64,
    /// The Kafka message timestamp (ms), when the message has one.
    pub timestamp: Option<i64>,
}

/// 32 bytes a field: a batch holds hundreds of thousands of records.
#[derive(Clone, Debug, PartialEq)]
struct Field {
    name: Name,
    /// The value's raw JSON text.
    value: Span,
}

#[derive(Clone, Debug, PartialEq)]
enum Name {
    /// The name as written, no escapes in it.
    At(Span),
    /// A name with escape sequences, decoded.
    Decoded(Box<str>),
}

/// A byte range of the payload (payloads are far below 4 GiB; larger ones are refused).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn of(r: Range<usize>) -> Self {
        // Callers check the payload's length first, so both ends fit.
        Span {
            start: u32::try_from(r.start).unwrap_or(u32::MAX),
            end: u32::try_from(r.end).unwrap_or(u32::MAX),
        }
    }

    fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// What a field's raw JSON value is, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawKind {
    Null,
    Bool,
    Number,
    String,
    /// An object or an array.
    Nested,
}

impl RawKind {
    pub fn of(raw: &[u8]) -> RawKind {
        match raw.first() {
            Some(b'n') => RawKind::Null,
            Some(b't' | b'f') => RawKind::Bool,
            Some(b'"') => RawKind::String,
            Some(b'{' | b'[') => RawKind::Nested,
            _ => RawKind::Number,
        }
    }
}

/// Why a message cannot be stored; it goes to the dead-letter topic with this reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("message has no key")]
    NoKey,
    #[error("key is not UTF-8")]
    KeyNotUtf8,
    #[error("message has no payload")]
    NoPayload,
    #[error("payload is not JSON: {0}")]
    NotJson(String),
    #[error("payload is a JSON {0}, not an object")]
    NotObject(&'static str),
}

impl Malformed {
    /// A short fixed label for metrics and the `x-dlq-reason` header's category.
    pub fn category(&self) -> &'static str {
        match self {
            Malformed::NoKey | Malformed::KeyNotUtf8 => "key",
            Malformed::NoPayload => "empty",
            Malformed::NotJson(_) => "json",
            Malformed::NotObject(_) => "shape",
        }
    }
}

pub fn parse(
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
) -> Result<Record, Malformed> {
    let key = std::str::from_utf8(key.filter(|k| !k.is_empty()).ok_or(Malformed::NoKey)?)
        .map_err(|_| Malformed::KeyNotUtf8)?;
    let payload = payload
        .filter(|p| !p.is_empty())
        .ok_or(Malformed::NoPayload)?;
    let payload = Bytes::copy_from_slice(payload);
    let fields = object_fields(&payload)?;
    Ok(Record {
        key: key.to_owned(),
        payload,
        fields,
        partition,
        offset,
        timestamp,
    })
}

/// The top-level fields of a JSON object, or why `payload` is not one.
fn object_fields(payload: &[u8]) -> Result<Box<[Field]>, Malformed> {
    let start = payload.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_none_or(|i| payload[i] != b'{') {
        // Not an object: say whether it is other JSON or no JSON at all.
        serde_json::from_slice::<IgnoredAny>(payload)
            .map_err(|e| Malformed::NotJson(e.to_string()))?;
        let kind = match start.map(|i| payload[i]) {
            Some(b'[') => "array",
            Some(b'"') => "string",
            Some(b't' | b'f') => "bool",
            Some(b'n') => "null",
            _ => "number",
        };
        return Err(Malformed::NotObject(kind));
    }
    if u32::try_from(payload.len()).is_err() {
        return Err(Malformed::NotJson("payload over 4 GiB".into()));
    }
    let text =
        std::str::from_utf8(payload).map_err(|e| Malformed::NotJson(format!("not UTF-8: {e}")))?;
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<json_object::RawField>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|raw| {
        raw.clear();
        json_object::scan_object(text, raw).map_err(|e| Malformed::NotJson(e.0))?;
        // Sized exactly: one allocation of what the record keeps.
        let mut fields = Vec::with_capacity(raw.len());
        for f in raw.drain(..) {
            let name = if f.name_escaped {
                let quoted = &text[f.name.start - 1..f.name.end + 1];
                let decoded: String = serde_json::from_str(quoted)
                    .map_err(|e| Malformed::NotJson(format!("field name {quoted}: {e}")))?;
                Name::Decoded(decoded.into_boxed_str())
            } else {
                Name::At(Span::of(f.name))
            };
            fields.push(Field {
                name,
                value: Span::of(f.value),
            });
        }
        Ok(fields.into_boxed_slice())
    })
}

impl Record {
    /// The payload as received.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    fn name<'s>(&'s self, f: &'s Field) -> &'s [u8] {
        match &f.name {
            Name::At(r) => &self.payload[r.range()],
            Name::Decoded(n) => n.as_bytes(),
        }
    }

    /// Each top-level field as (name, raw JSON value), in payload order. Both are UTF-8 (the
    /// payload was checked) but stay bytes, so reading them costs nothing.
    pub fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.fields
            .iter()
            .map(|f| (self.name(f), &self.payload[f.value.range()]))
    }

    /// The raw JSON value of field `name` (its last occurrence).
    pub fn raw(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .rev()
            .find(|f| self.name(f) == name.as_bytes())
            .map(|f| &self.payload[f.value.range()])
    }

    /// Field `name` as a string, when it is one.
    pub fn str_field(&self, name: &str) -> Option<Cow<'_, str>> {
        json_string(self.raw(name)?)
    }

    /// Field `name` as a whole number, when it is one that fits 64 bits.
    pub fn i64_field(&self, name: &str) -> Option<i64> {
        json_i64(self.raw(name)?)
    }

    /// The payload bytes of a raw value (a sub-slice, no copy), for storage that keeps strings
    /// as they came. `raw` must be a part of this record's payload, as [`Self::fields`] and
    /// [`Self::raw`] give.
    pub fn slice(&self, raw: &[u8]) -> Bytes {
        self.payload.slice_ref(raw)
    }

    /// The whole object as a JSON document.
    pub fn document(&self) -> Map<String, Value> {
        // Checked once already, so this cannot fail; an empty map would only hide a bug here.
        serde_json::from_slice(&self.payload).unwrap_or_default()
    }
}

/// The text of a raw JSON string value, unescaped only when it has escapes.
pub fn json_string(raw: &[u8]) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if inner.contains(&b'\\') {
        serde_json::from_slice::<String>(raw).ok().map(Cow::Owned)
    } else {
        std::str::from_utf8(inner).ok().map(Cow::Borrowed)
    }
}

/// A raw JSON number as a whole number, when it is one that fits 64 bits.
pub fn json_i64(raw: &[u8]) -> Option<i64> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// A raw JSON number as a float.
pub fn json_f64(raw: &[u8]) -> Option<f64> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_and_bad_messages() {
        let r = parse(
            Some(b"BTCUSDT|5m|1"),
            Some(br#"{"open":"1.0"}"#),
            0,
            7,
            None,
        )
        .unwrap();
        assert_eq!((r.key.as_str(), r.offset), ("BTCUSDT|5m|1", 7));
        assert_eq!(parse(None, Some(b"{}"), 0, 0, None), Err(Malformed::NoKey));
        assert_eq!(
            parse(Some(b"\xff"), Some(b"{}"), 0, 0, None),
            Err(Malformed::KeyNotUtf8)
        );
        assert_eq!(
            parse(Some(b"k"), None, 0, 0, None),
            Err(Malformed::NoPayload)
        );
        for bad in [
            &b"{oops"[..],
            b"{\"a\":1",
            b"{\"a\":1} x",
            b"[1",
            b"  ",
            b"{\"a\":tru}",
        ] {
            assert!(
                matches!(
                    parse(Some(b"k"), Some(bad), 0, 0, None),
                    Err(Malformed::NotJson(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        for (payload, kind) in [
            (&b"[1]"[..], "array"),
            (b" \"s\"", "string"),
            (b"true", "bool"),
            (b"null", "null"),
            (b"-1.5", "number"),
        ] {
            assert_eq!(
                parse(Some(b"k"), Some(payload), 0, 0, None),
                Err(Malformed::NotObject(kind))
            );
        }
        assert_eq!(Malformed::NotObject("array").category(), "shape");
    }

    #[test]
    fn fields_are_read_where_they_lie() {
        let payload =
            br#" {"symbol":"BTC\"USDT", "open_time": 1722470400000, "x\u0041": [1, {"b": null}],
            "p": "1.50", "f": 2.5, "ok": true, "n": null, "open_time": 5}"#;
        let r = parse(Some(b"k"), Some(payload), 3, 9, Some(1)).unwrap();
        let names: Vec<_> = r.fields().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                &b"symbol"[..],
                b"open_time",
                b"xA",
                b"p",
                b"f",
                b"ok",
                b"n",
                b"open_time"
            ]
        );
        assert_eq!(r.raw("xA"), Some(&br#"[1, {"b": null}]"#[..]));
        assert_eq!(r.str_field("symbol").as_deref(), Some("BTC\"USDT"));
        assert_eq!(r.str_field("p").as_deref(), Some("1.50"));
        assert_eq!(
            r.i64_field("open_time"),
            Some(5),
            "the last occurrence counts"
        );
        assert_eq!(r.i64_field("f"), None);
        assert_eq!(r.str_field("f"), None);
        assert_eq!(json_f64(r.raw("f").unwrap()), Some(2.5));
        assert_eq!(RawKind::of(r.raw("ok").unwrap()), RawKind::Bool);
        assert_eq!(RawKind::of(r.raw("n").unwrap()), RawKind::Null);
        assert_eq!(RawKind::of(r.raw("f").unwrap()), RawKind::Number);
        assert_eq!(RawKind::of(r.raw("xA").unwrap()), RawKind::Nested);
        assert_eq!(&r.slice(r.raw("p").unwrap())[..], br#""1.50""#);
        let doc = r.document();
        assert_eq!(doc["open_time"], 5);
        assert_eq!(doc["symbol"], "BTC\"USDT");
    }
}
