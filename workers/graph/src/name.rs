//! Which graph names are accepted: a name becomes a path segment of the lake
//! (`graphs/<name>/`) and the stem of ArangoDB collection names (`<name>_nodes`,
//! `<name>_edges`), so it must be valid as both.

use crate::GraphError;

/// Longest graph name: ArangoDB collection names stay far below their 256-byte limit.
pub const MAX_GRAPH_NAME: usize = 128;

/// A graph name is 1 to [`MAX_GRAPH_NAME`] ASCII letters, digits, `_` and `-`, starting with a
/// letter (ArangoDB reserves a leading `_` for system collections).
pub fn check_graph_name(name: &str) -> Result<(), GraphError> {
    let invalid = |reason| GraphError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.len() > MAX_GRAPH_NAME {
        return Err(invalid("it is longer than 128 characters"));
    }
    if !name.as_bytes()[0].is_ascii_alphabetic() {
        return Err(invalid("it must start with a letter"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(invalid("only letters, digits, '_' and '-' are allowed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_a_path_segment_and_an_arango_collection() {
        assert!(check_graph_name("btc_eth-5m").is_ok());
        assert!(check_graph_name("G1").is_ok());
        for bad in ["", "_sys", "1abc", "a/b", "a.b", "..", "a b", "ключ"] {
            assert!(check_graph_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_graph_name(&"a".repeat(129)).is_err());
    }
}
