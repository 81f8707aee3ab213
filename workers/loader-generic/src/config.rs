//! What the generic loader is told: its worker settings from the environment, and the Queue's
//! source (`SOURCE`, a [`GenericSource`] as JSON) checked into a [`Plan`] before any I/O
//! (pure: every refusal here is permanent, retrying cannot change it).

use std::time::Duration;

use streamforge_api::datatype::{Interval, JSON_FEED, MANUAL_UPLOAD};
use streamforge_api::{GenericSource, SourceFormat, SourceRecords, env};
use streamforge_sinks::lake::LakeLocation;

use crate::mapping::Mapping;

/// Largest file `manual_upload` reads (it is held in memory while it is loaded).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 512 * 1024 * 1024;
/// json_feed over HTTP: seconds between two polls when the source does not say.
pub const DEFAULT_POLL_SECONDS: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{} is not set: the generic loader needs the Queue's spec.source",
        env::SOURCE
    )]
    NoSource,
    #[error("{} is not a source: {reason}", env::SOURCE)]
    BadSource { reason: String },
    #[error("source.url {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{data_type} is not a type of the generic loader (manual_upload, json_feed)")]
    UnknownType { data_type: String },
    #[error(
        "source.format is not set and {url:?} has no known extension (.csv, .jsonl, .ndjson, .parquet)"
    )]
    NoFormat { url: String },
    #[error("manual_upload needs source.records (candles or trades)")]
    NoRecords,
    #[error("source.interval {0:?} is not a kline interval (1s, 1m, 3m, 5m, 15m, 30m, 1h, ...)")]
    BadInterval(String),
    #[error("source.columns names {field:?}, which is not a field of {records} ({known})")]
    UnknownField {
        field: String,
        records: &'static str,
        known: String,
    },
    #[error("json_feed needs source.keyField, the dot path of each message's key (e.g. data.id)")]
    NoKeyField,
    #[error("source.keyField {0:?} is not a dot path such as data.id")]
    BadKeyField(String),
    #[error("{name}={value:?} is not a number")]
    NotANumber { name: &'static str, value: String },
    #[error(
        "{url} is an S3 object but no S3 endpoint is configured ({})",
        env::MINIO_ENDPOINT
    )]
    NoS3 { url: String },
}

/// Where a source is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// `s3://bucket/key`, read from the S3 endpoint of the worker's environment.
    S3 { bucket: String, key: String },
    /// `http(s)://...`
    Http(String),
    /// `ws(s)://...`
    WebSocket(String),
}

impl Location {
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let bad = |reason: &str| ConfigError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let url = url.trim();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("no scheme (s3://, http(s)://, ws(s)://)"))?;
        if rest.is_empty() || rest.chars().any(char::is_whitespace) {
            return Err(bad("no host or path, or white space in it"));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "s3" => {
                let (bucket, key) = rest
                    .split_once('/')
                    .filter(|(b, k)| !b.is_empty() && !k.is_empty())
                    .ok_or_else(|| bad("an S3 URL is s3://bucket/key"))?;
                Ok(Location::S3 {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                })
            }
            "http" | "https" => Ok(Location::Http(url.to_owned())),
            "ws" | "wss" => Ok(Location::WebSocket(url.to_owned())),
            other => Err(bad(&format!("scheme {other} is not s3, http(s) or ws(s)"))),
        }
    }
}

/// The format a URL's extension names (its query and fragment aside).
pub fn format_of(url: &str) -> Option<SourceFormat> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "csv" => Some(SourceFormat::Csv),
        "jsonl" | "ndjson" => Some(SourceFormat::Jsonl),
        "parquet" => Some(SourceFormat::Parquet),
        _ => None,
    }
}

/// A checked manual_upload.
#[derive(Clone, Debug, PartialEq)]
pub struct UploadPlan {
    pub url: String,
    pub location: Location,
    pub format: SourceFormat,
    pub mapping: Mapping,
}

/// A checked json_feed.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedPlan {
    pub url: String,
    pub location: Location,
    pub key_field: String,
    /// Between two polls of an HTTP feed.
    pub poll: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    Upload(UploadPlan),
    Feed(FeedPlan),
}

/// The Queue's source from `SOURCE`.
pub fn source_from_lookup(
    get: impl Fn(&str) -> Option<String>,
) -> Result<GenericSource, ConfigError> {
    let raw = get(env::SOURCE)
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::NoSource)?;
    serde_json::from_str(&raw).map_err(|e| ConfigError::BadSource {
        reason: e.to_string(),
    })
}

/// Check `source` for `data_type`; `symbol` is the Queue's, for rows that name none.
pub fn plan(data_type: &str, source: &GenericSource, symbol: &str) -> Result<Plan, ConfigError> {
    let location = Location::parse(&source.url)?;
    match data_type {
        MANUAL_UPLOAD => {
            if matches!(location, Location::WebSocket(_)) {
                return Err(ConfigError::BadUrl {
                    url: source.url.clone(),
                    reason: "manual_upload reads a file from s3:// or http(s)://".into(),
                });
            }
            let format = source
                .format
                .or_else(|| format_of(&source.url))
                .ok_or_else(|| ConfigError::NoFormat {
                    url: source.url.clone(),
                })?;
            let records = source.records.ok_or(ConfigError::NoRecords)?;
            let interval = match (&source.interval, records) {
                (Some(i), SourceRecords::Candles) => Some(
                    Interval::parse(i.trim()).ok_or_else(|| ConfigError::BadInterval(i.clone()))?,
                ),
                _ => None,
            };
            let mapping = Mapping::new(records, &source.columns, symbol, interval)?;
            Ok(Plan::Upload(UploadPlan {
                url: source.url.clone(),
                location,
                format,
                mapping,
            }))
        }
        JSON_FEED => {
            if matches!(location, Location::S3 { .. }) {
                return Err(ConfigError::BadUrl {
                    url: source.url.clone(),
                    reason: "json_feed follows a ws(s):// or http(s):// endpoint".into(),
                });
            }
            let key_field = source
                .key_field
                .as_deref()
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .ok_or(ConfigError::NoKeyField)?;
            if key_field.split('.').any(str::is_empty) {
                return Err(ConfigError::BadKeyField(key_field.to_owned()));
            }
            let poll = source.poll_seconds.unwrap_or(DEFAULT_POLL_SECONDS).max(1);
            Ok(Plan::Feed(FeedPlan {
                url: source.url.clone(),
                location,
                key_field: key_field.to_owned(),
                poll: Duration::from_secs(u64::from(poll)),
            }))
        }
        other => Err(ConfigError::UnknownType {
            data_type: other.to_owned(),
        }),
    }
}

/// Default of [`GenericConfig::feed_keepalive`], in seconds.
pub const DEFAULT_FEED_KEEPALIVE_SECS: u64 = 30;

/// The worker's own settings.
#[derive(Clone, Debug)]
pub struct GenericConfig {
    /// Wait for a `start` on queue-control before loading (the operator sends one).
    pub wait_for_start: bool,
    pub start_timeout: Duration,
    pub telemetry_every_records: u64,
    pub telemetry_every: Duration,
    pub topic_partitions: i32,
    pub topic_replication: i32,
    pub topic_retention_ms: Option<i64>,
    pub max_upload_bytes: u64,
    /// A WebSocket feed silent this long is pinged; silent (no pong either) twice this long,
    /// it is dropped and replaced: a connection that stays open but carries nothing.
    pub feed_keepalive: Duration,
    /// The S3 endpoint `s3://` URLs are read from (`MINIO_*`); `None` without one.
    pub s3: Option<LakeLocation>,
}

impl Default for GenericConfig {
    fn default() -> Self {
        Self {
            wait_for_start: true,
            start_timeout: Duration::from_secs(600),
            telemetry_every_records: 10_000,
            telemetry_every: Duration::from_secs(5),
            topic_partitions: 3,
            topic_replication: 1,
            topic_retention_ms: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            feed_keepalive: Duration::from_secs(DEFAULT_FEED_KEEPALIVE_SECS),
            s3: None,
        }
    }
}

impl GenericConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Defaults overridden by `WAIT_FOR_START`, `START_TIMEOUT_SECS`, `TELEMETRY_EVERY_RECORDS`,
    /// `TELEMETRY_EVERY_SECS`, `TOPIC_PARTITIONS`, `TOPIC_REPLICATION`, `TOPIC_RETENTION_MS`,
    /// `MAX_UPLOAD_BYTES`, `FEED_KEEPALIVE_SECS`; the S3 endpoint from `MINIO_ENDPOINT`, `MINIO_ACCESS_KEY`,
    /// `MINIO_SECRET_KEY` (both keys unset: the AWS credential chain) and `S3_REGION`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        fn num<T: std::str::FromStr>(
            name: &'static str,
            v: Option<String>,
            d: T,
        ) -> Result<T, ConfigError> {
            match v {
                None => Ok(d),
                Some(v) => v.trim().parse().map_err(|_| ConfigError::NotANumber {
                    name,
                    value: v.clone(),
                }),
            }
        }
        let d = Self::default();
        let s3 = match LakeLocation::from_lookup(get) {
            Ok(l @ LakeLocation::S3 { .. }) => Some(l),
            _ => None,
        };
        Ok(Self {
            wait_for_start: get("WAIT_FOR_START").is_none_or(|v| v.trim() != "false"),
            start_timeout: Duration::from_secs(num(
                "START_TIMEOUT_SECS",
                get("START_TIMEOUT_SECS"),
                600u64,
            )?),
            telemetry_every_records: num(
                "TELEMETRY_EVERY_RECORDS",
                get("TELEMETRY_EVERY_RECORDS"),
                d.telemetry_every_records,
            )?,
            telemetry_every: Duration::from_secs(num(
                "TELEMETRY_EVERY_SECS",
                get("TELEMETRY_EVERY_SECS"),
                5u64,
            )?),
            topic_partitions: num(
                "TOPIC_PARTITIONS",
                get("TOPIC_PARTITIONS"),
                d.topic_partitions,
            )?,
            topic_replication: num(
                "TOPIC_REPLICATION",
                get("TOPIC_REPLICATION"),
                d.topic_replication,
            )?,
            feed_keepalive: Duration::from_secs(
                num(
                    "FEED_KEEPALIVE_SECS",
                    get("FEED_KEEPALIVE_SECS"),
                    DEFAULT_FEED_KEEPALIVE_SECS,
                )?
                .max(1),
            ),
            topic_retention_ms: get("TOPIC_RETENTION_MS")
                .map(|v| num("TOPIC_RETENTION_MS", Some(v), 0i64))
                .transpose()?,
            max_upload_bytes: num(
                "MAX_UPLOAD_BYTES",
                get("MAX_UPLOAD_BYTES"),
                d.max_upload_bytes,
            )?,
            s3,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn source(v: serde_json::Value) -> GenericSource {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn locations_by_scheme() {
        assert_eq!(
            Location::parse("s3://uploads/2024/btc.csv").unwrap(),
            Location::S3 {
                bucket: "uploads".into(),
                key: "2024/btc.csv".into()
            }
        );
        assert!(matches!(
            Location::parse("https://x/y.csv"),
            Ok(Location::Http(_))
        ));
        assert!(matches!(
            Location::parse("wss://x/ws"),
            Ok(Location::WebSocket(_))
        ));
        for bad in ["s3://bucket", "s3:///key", "ftp://x/y", "x.csv", "http://"] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn format_from_the_extension() {
        assert_eq!(format_of("s3://b/a.CSV"), Some(SourceFormat::Csv));
        assert_eq!(
            format_of("http://h/a.ndjson?x=1"),
            Some(SourceFormat::Jsonl)
        );
        assert_eq!(format_of("http://h/a.jsonl"), Some(SourceFormat::Jsonl));
        assert_eq!(format_of("s3://b/a.parquet"), Some(SourceFormat::Parquet));
        assert_eq!(format_of("s3://b/a.txt"), None);
    }

    #[test]
    fn upload_plans_say_what_is_wrong() {
        let ok = source(
            json!({"url": "s3://b/k.csv", "records": "candles", "interval": "1m",
            "columns": {"open_time": "ts"}}),
        );
        let Plan::Upload(p) = plan(MANUAL_UPLOAD, &ok, "BTCUSDT").unwrap() else {
            panic!()
        };
        assert_eq!(p.format, SourceFormat::Csv);
        let no_records = source(json!({"url": "s3://b/k.csv"}));
        assert_eq!(
            plan(MANUAL_UPLOAD, &no_records, "X").unwrap_err(),
            ConfigError::NoRecords
        );
        let no_format = source(json!({"url": "s3://b/k", "records": "trades"}));
        assert!(matches!(
            plan(MANUAL_UPLOAD, &no_format, "X"),
            Err(ConfigError::NoFormat { .. })
        ));
        let bad_field = source(json!({"url": "s3://b/k.csv", "records": "trades",
            "columns": {"prize": "p"}}));
        let e = plan(MANUAL_UPLOAD, &bad_field, "X").unwrap_err();
        assert!(e.to_string().contains("\"prize\""), "{e}");
        let bad_interval =
            source(json!({"url": "s3://b/k.csv", "records": "candles", "interval": "7m"}));
        assert_eq!(
            plan(MANUAL_UPLOAD, &bad_interval, "X").unwrap_err(),
            ConfigError::BadInterval("7m".into())
        );
        let ws = source(json!({"url": "ws://h/x", "records": "candles", "format": "csv"}));
        assert!(plan(MANUAL_UPLOAD, &ws, "X").is_err());
        assert!(matches!(
            plan("api_trades", &ok, "X"),
            Err(ConfigError::UnknownType { .. })
        ));
    }

    #[test]
    fn feed_plans_need_a_key_path() {
        let ok = source(json!({"url": "http://h/feed", "keyField": "data.id", "pollSeconds": 3}));
        let Plan::Feed(p) = plan(JSON_FEED, &ok, "X").unwrap() else {
            panic!()
        };
        assert_eq!(p.poll, Duration::from_secs(3));
        assert_eq!(p.key_field, "data.id");
        let none = source(json!({"url": "wss://h/ws"}));
        assert_eq!(
            plan(JSON_FEED, &none, "X").unwrap_err(),
            ConfigError::NoKeyField
        );
        let bad = source(json!({"url": "wss://h/ws", "keyField": "data..id"}));
        assert!(matches!(
            plan(JSON_FEED, &bad, "X"),
            Err(ConfigError::BadKeyField(_))
        ));
        let s3 = source(json!({"url": "s3://b/k", "keyField": "id"}));
        assert!(plan(JSON_FEED, &s3, "X").is_err());
    }

    #[test]
    fn settings_from_the_environment() {
        let c = GenericConfig::from_lookup(streamforge_kit::testing::env_lookup(&[
            ("MINIO_ENDPOINT", "minio:9000"),
            ("MINIO_ACCESS_KEY", "a"),
            ("MINIO_SECRET_KEY", "b"),
            ("MAX_UPLOAD_BYTES", "1000"),
            ("FEED_KEEPALIVE_SECS", "5"),
        ]))
        .unwrap();
        assert_eq!(c.max_upload_bytes, 1000);
        assert_eq!(c.feed_keepalive, Duration::from_secs(5));
        assert!(
            matches!(c.s3, Some(LakeLocation::S3 { ref endpoint, .. }) if endpoint == "http://minio:9000")
        );
        let none = GenericConfig::from_lookup(streamforge_kit::testing::env_lookup(&[])).unwrap();
        assert_eq!(none.s3, None);
        assert_eq!(
            none.feed_keepalive,
            Duration::from_secs(DEFAULT_FEED_KEEPALIVE_SECS)
        );
        assert!(
            GenericConfig::from_lookup(streamforge_kit::testing::env_lookup(&[(
                "MAX_UPLOAD_BYTES",
                "lots"
            )]))
            .is_err()
        );
        assert_eq!(
            source_from_lookup(streamforge_kit::testing::env_lookup(&[])).unwrap_err(),
            ConfigError::NoSource
        );
    }
}
