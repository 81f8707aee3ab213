//! The key of a feed message (pure): the value at a dot path (`data.id`; a numeric segment
//! indexes an array, `items.0.id`), which must be a string or a number.

use serde_json::Value;

/// Why a message has no key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the message has no {path}")]
    Missing { path: String },
    #[error("{path} is {kind}, not a string or a number")]
    NotScalar { path: String, kind: &'static str },
    #[error("{path} is an empty string")]
    Empty { path: String },
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The key at `path` in `message`.
pub fn key_at(message: &Value, path: &str) -> Result<String, KeyError> {
    let mut at = message;
    for segment in path.split('.') {
        let next = match at {
            Value::Object(m) => m.get(segment),
            Value::Array(a) => segment.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        at = next.ok_or_else(|| KeyError::Missing {
            path: path.to_owned(),
        })?;
    }
    match at {
        Value::String(s) if s.is_empty() => Err(KeyError::Empty {
            path: path.to_owned(),
        }),
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(KeyError::NotScalar {
            path: path.to_owned(),
            kind: kind(other),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_at_dot_paths() {
        let m = json!({"data": {"id": 42, "s": "BTCUSDT", "items": [{"id": "a"}], "e": ""}});
        assert_eq!(key_at(&m, "data.id"), Ok("42".into()));
        assert_eq!(key_at(&m, "data.s"), Ok("BTCUSDT".into()));
        assert_eq!(key_at(&m, "data.items.0.id"), Ok("a".into()));
        assert_eq!(
            key_at(&m, "data.nope"),
            Err(KeyError::Missing {
                path: "data.nope".into()
            })
        );
        assert_eq!(
            key_at(&m, "data").unwrap_err().to_string(),
            "data is an object, not a string or a number"
        );
        assert!(matches!(key_at(&m, "data.e"), Err(KeyError::Empty { .. })));
        assert!(key_at(&json!([1]), "x").is_err());
    }
}
