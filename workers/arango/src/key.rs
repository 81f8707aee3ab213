//! Record keys as ArangoDB `_key`s.
//!
//! ArangoDB allows letters, digits and `_ - : . @ ( ) + , = ; $ ! * ' %` in a key of at most 254
//! bytes. Record keys use `|` (`BTCUSDT|5m|1722470400000`), so every other byte is written as
//! `%XX` (and `%` itself as `%25`): one-to-one, so distinct records stay distinct documents.

/// Longest `_key` ArangoDB accepts.
pub const MAX_KEY: usize = 254;

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_-:.@()+,=;$!*'".contains(&b)
}

/// The `_key` for a record key, or `None` when it would be longer than ArangoDB allows.
pub fn arango_key(key: &str) -> Option<String> {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if allowed(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    (!out.is_empty() && out.len() <= MAX_KEY).then_some(out)
}

/// Whether ArangoDB would accept `k` as a `_key`.
pub fn is_valid(k: &str) -> bool {
    !k.is_empty() && k.len() <= MAX_KEY && k.bytes().all(|b| allowed(b) || b == b'%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_become_valid_distinct_keys() {
        assert_eq!(
            arango_key("BTCUSDT|5m|1722470400000").unwrap(),
            "BTCUSDT%7C5m%7C1722470400000"
        );
        assert_eq!(arango_key("a%7C").unwrap(), "a%257C");
        assert_ne!(arango_key("a|").unwrap(), arango_key("a%7C").unwrap());
        assert!(is_valid(&arango_key("ключ/1").unwrap()));
        assert_eq!(arango_key(&"x".repeat(300)), None);
        assert_eq!(arango_key(""), None);
    }
}
