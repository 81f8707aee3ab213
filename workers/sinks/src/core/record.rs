//! A data-topic message as a sink sees it: a key and a JSON object.

use serde_json::{Map, Value};

/// One record to store. `key` is the deterministic record key the loader wrote; storage uses it
/// as the document identity, so a re-delivered record overwrites itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub key: String,
    pub doc: Map<String, Value>,
    pub partition: i32,
    pub offset: i64,
    /// The Kafka message timestamp (ms), when the message has one.
    pub timestamp: Option<i64>,
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
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| Malformed::NotJson(e.to_string()))?;
    let doc = match value {
        Value::Object(m) => m,
        Value::Array(_) => return Err(Malformed::NotObject("array")),
        Value::String(_) => return Err(Malformed::NotObject("string")),
        Value::Number(_) => return Err(Malformed::NotObject("number")),
        Value::Bool(_) => return Err(Malformed::NotObject("bool")),
        Value::Null => return Err(Malformed::NotObject("null")),
    };
    Ok(Record {
        key: key.to_owned(),
        doc,
        partition,
        offset,
        timestamp,
    })
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
        assert!(matches!(
            parse(Some(b"k"), Some(b"{oops"), 0, 0, None),
            Err(Malformed::NotJson(_))
        ));
        assert_eq!(
            parse(Some(b"k"), Some(b"[1]"), 0, 0, None),
            Err(Malformed::NotObject("array"))
        );
        assert_eq!(Malformed::NotObject("array").category(), "shape");
    }
}
