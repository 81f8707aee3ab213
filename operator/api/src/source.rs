//! The generic loader's source (`spec.source`): where `manual_upload` reads its file and
//! `json_feed` its messages, and how their columns and keys map to records. The operator hands
//! it to the worker as JSON in `SOURCE`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where loader-generic reads, and how.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenericSource {
    /// `s3://bucket/key` or `http(s)://...` for manual_upload; `ws(s)://...` or
    /// `http(s)://...` (polled) for json_feed.
    #[schemars(
        length(min = 1, max = 2048),
        regex(pattern = r"^(s3|https?|wss?)://\S+$")
    )]
    pub url: String,
    /// manual_upload: the file's format; from the URL's extension when unset (`.csv`,
    /// `.jsonl`/`.ndjson`, `.parquet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<SourceFormat>,
    /// manual_upload: what the rows are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<SourceRecords>,
    /// manual_upload of candles: their kline interval, e.g. 1m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{1,2}[smhdw]$"))]
    pub interval: Option<String>,
    /// manual_upload: record field → column of the file (`open_time: ts`); a field not named
    /// here is read from the column of its own name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(length(max = 32))]
    pub columns: BTreeMap<String, String>,
    /// json_feed: the field whose value keys each message, as a dot path (`data.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub key_field: Option<String>,
    /// json_feed over HTTP: seconds between two polls (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub poll_seconds: Option<u32>,
}

/// A manual_upload file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Csv,
    Jsonl,
    Parquet,
}

/// What a manual_upload file's rows are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceRecords {
    Candles,
    Trades,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_camel_case_form_and_writes_it_back() {
        let v = json!({
            "url": "s3://uploads/btc.csv",
            "format": "csv",
            "records": "candles",
            "interval": "1m",
            "columns": {"open_time": "ts"},
        });
        let s: GenericSource = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(s.format, Some(SourceFormat::Csv));
        assert_eq!(s.records, Some(SourceRecords::Candles));
        assert_eq!(s.columns["open_time"], "ts");
        assert_eq!(serde_json::to_value(&s).unwrap(), v);
        let feed: GenericSource = serde_json::from_value(
            json!({"url": "wss://x/ws", "keyField": "data.id", "pollSeconds": 5}),
        )
        .unwrap();
        assert_eq!(feed.key_field.as_deref(), Some("data.id"));
        assert_eq!(feed.poll_seconds, Some(5));
    }
}
