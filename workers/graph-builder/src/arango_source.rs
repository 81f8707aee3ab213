//! Candles from ArangoDB, as the arango-connector stores them (the candle record's fields plus
//! `_key`, prices as decimal strings), read by an AQL cursor over the symbol and time range
//! ([`streamforge_arango::queries::SYMBOL_TIME_RANGE`]) in pages of [`PAGE`] documents.

use serde_json::{Value, json};
use streamforge_arango::queries::SYMBOL_TIME_RANGE;
use streamforge_arango::{ArangoClient, ArangoError};

use crate::candles::{Candle, CandleSet, parse_number};
use crate::source::SourceError;

/// Documents per cursor batch.
pub const PAGE: usize = 10_000;

/// The candle in a stored document.
pub fn candle_of(doc: &Value) -> Result<Candle, String> {
    let key = doc.get("_key").and_then(Value::as_str).unwrap_or("?");
    let num = |name: &str| {
        doc.get(name)
            .and_then(parse_number)
            .ok_or_else(|| format!("document {key}: {name} is missing or not a number"))
    };
    let c = Candle {
        open_time: doc
            .get("open_time")
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("document {key}: open_time is missing or not a whole number"))?,
        open: num("open")?,
        high: num("high")?,
        low: num("low")?,
        close: num("close")?,
        volume: num("volume")?,
    };
    c.check().map_err(|e| format!("document {key}: {e}"))?;
    Ok(c)
}

fn classify(e: ArangoError, collection: &str) -> SourceError {
    if e.is_transient() {
        SourceError::Unavailable(e.to_string())
    } else if e.error_num() == Some(1203) {
        SourceError::Bad(format!(
            "ArangoDB collection {collection} does not exist: {e}"
        ))
    } else {
        SourceError::Bad(e.to_string())
    }
}

/// Add `symbol`'s candles opening in `[start, end)` from `collection` to `set`.
pub async fn read_symbol(
    client: &ArangoClient,
    collection: &str,
    symbol: &str,
    start: i64,
    end: i64,
    set: &mut CandleSet,
) -> Result<u64, SourceError> {
    let mut bad: Option<String> = None;
    let read = client
        .query_batches(
            SYMBOL_TIME_RANGE,
            json!({"@col": collection, "symbol": symbol, "start": start, "end": end}),
            PAGE,
            |docs| {
                for d in &docs {
                    match candle_of(d) {
                        Ok(c) => set.add(c),
                        Err(e) => {
                            bad.get_or_insert(e);
                        }
                    }
                }
                Ok(())
            },
        )
        .await
        .map_err(|e| classify(e, collection))?;
    match bad {
        Some(e) => Err(SourceError::Bad(format!("ArangoDB {collection}: {e}"))),
        None => Ok(read),
    }
}
