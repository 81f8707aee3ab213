//! The builder's configuration from the worker environment (names in `streamforge_api::env`),
//! validated before any I/O: a missing or malformed setting is a [`ConfigError`], which the
//! worker reports as a permanent failure.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `GRAPH_NAME` | the graph's name (letters, digits, `_`, `-`) | required |
//! | `TYPE` | `graph_build` (every feature) or `graph_rsi_vol` (RSI and volatility) | `graph_build` |
//! | `TARGET` | `arango-connector` (the `arango-graph-prep` image) makes ArangoDB the graph's required home | `graph-builder` |
//! | `SYMBOL`, `SYMBOLS` | the first symbol, then more (comma-separated) | `SYMBOL` required |
//! | `TIME_RANGE` | windows opening in `[start, end)` | required |
//! | `SOURCE_TYPE` | the stored candle type (`api_candles_5m`, `ws_candles_1m`, ...) | `api_candles_5m` |
//! | `CORRELATION_WINDOW` | windows in the cross-asset correlation | 24 |
//! | `CORRELATION_THRESHOLD` | smallest \|ρ\| for a cross-asset edge, 0..=1 | 0.5 |
//! | `LABEL_HORIZON` | windows the labels look ahead | 1 |
//! | `GRAPH_SOURCE` | `lake` or `arango` | `lake` |
//! | `COLLECTION_NAME` | ArangoDB candle collection (`{symbol}` is replaced by the lower-case symbol) | required for `arango` |
//! | `LAKE_PREFIX` | path of the lake inside the bucket or directory, as the lake connector's | empty |
//! | `MINIO_*`, `LAKE_DIR` | the lake (`streamforge_sinks::lake::store`) | `./lake` |
//! | `ARANGO_URL`, `ARANGO_DB`, `ARANGO_USER`, `ARANGO_PASSWORD` | ArangoDB; with a URL the graph is also written there | none, `streamforge`, `root`, empty |
//! | `START_TIMEOUT_SECS` | longest wait for the `start` command | 600 |

use std::time::Duration;

use streamforge_api::datatype::{self, DataKind, Family, Interval};
use streamforge_api::{Target, TimeRange, env};
use streamforge_sinks::lake::LakeLocation;

/// Where the candles are read: the Queue's `graphSource`, defined once in the contract.
pub use streamforge_api::GraphSource;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArangoSettings {
    pub url: String,
    pub db: String,
    pub user: String,
    pub password: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BuilderConfig {
    pub graph_name: String,
    /// `graph_build` or `graph_rsi_vol`: which features the nodes keep.
    pub data_type: String,
    pub symbols: Vec<String>,
    pub time_range: TimeRange,
    pub source_type: String,
    pub interval: Interval,
    pub correlation_window: usize,
    pub correlation_threshold: f64,
    pub label_horizon: usize,
    pub source: GraphSource,
    pub collection_name: Option<String>,
    pub lake: LakeLocation,
    pub lake_prefix: String,
    pub arango: Option<ArangoSettings>,
    pub start_timeout: Duration,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name}={value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

pub const DEFAULT_SOURCE_TYPE: &str = "api_candles_5m";
pub const DEFAULT_CORRELATION_WINDOW: usize = 24;
pub const DEFAULT_CORRELATION_THRESHOLD: f64 = 0.5;
pub const DEFAULT_LABEL_HORIZON: usize = 1;
/// Longest accepted label horizon and correlation window, in windows.
pub const MAX_WINDOWS: usize = 10_000;
pub use streamforge_api::env::{GRAPH_SOURCE, LABEL_HORIZON};
pub const LAKE_PREFIX: &str = "LAKE_PREFIX";
pub const START_TIMEOUT_SECS: &str = "START_TIMEOUT_SECS";

fn invalid(name: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// A whole number in `lo..=hi`, or `default` when unset.
fn whole(
    name: &'static str,
    v: Option<String>,
    default: usize,
    lo: usize,
    hi: usize,
) -> Result<usize, ConfigError> {
    let Some(v) = v else { return Ok(default) };
    let n: usize = v
        .parse()
        .map_err(|_| invalid(name, &v, "not a whole number"))?;
    if !(lo..=hi).contains(&n) {
        return Err(invalid(name, &v, format!("must be between {lo} and {hi}")));
    }
    Ok(n)
}

impl BuilderConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let opt = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let graph_name = opt(env::GRAPH_NAME).ok_or(ConfigError::Missing(env::GRAPH_NAME))?;
        streamforge_graph::check_graph_name(&graph_name)
            .map_err(|e| invalid(env::GRAPH_NAME, &graph_name, e.to_string()))?;

        let data_type = opt(env::TYPE).unwrap_or_else(|| datatype::GRAPH_BUILD.into());
        if !datatype::is_graph_type(&data_type) {
            return Err(invalid(
                env::TYPE,
                &data_type,
                format!("the graph types are {}", datatype::GRAPH_TYPES.join(", ")),
            ));
        }

        let mut symbols: Vec<String> = vec![];
        let first = opt(env::SYMBOL).ok_or(ConfigError::Missing(env::SYMBOL))?;
        for s in std::iter::once(first.as_str()).chain(
            opt(env::SYMBOLS)
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty()),
        ) {
            let s = s.to_uppercase();
            if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(invalid(env::SYMBOLS, &s, "a symbol is letters and digits"));
            }
            if !symbols.contains(&s) {
                symbols.push(s);
            }
        }

        let range_text = opt(env::TIME_RANGE).ok_or(ConfigError::Missing(env::TIME_RANGE))?;
        let time_range = TimeRange::parse(&range_text)
            .map_err(|e| invalid(env::TIME_RANGE, &range_text, e.to_string()))?;

        let source_type = opt(env::SOURCE_TYPE).unwrap_or_else(|| DEFAULT_SOURCE_TYPE.into());
        let interval = match DataKind::parse(&source_type) {
            Ok(DataKind::ApiCandles(i) | DataKind::WsCandles(i)) => i,
            Ok(_) | Err(streamforge_api::datatype::TypeError::Unknown(_)) => {
                return Err(invalid(
                    env::SOURCE_TYPE,
                    &source_type,
                    format!(
                        "not a candle type; the graph is built from {} or {}",
                        Family::ApiCandles.pattern(),
                        Family::WsCandles.pattern()
                    ),
                ));
            }
            Err(e) => return Err(invalid(env::SOURCE_TYPE, &source_type, e.to_string())),
        };

        let correlation_window = whole(
            env::CORRELATION_WINDOW,
            opt(env::CORRELATION_WINDOW),
            DEFAULT_CORRELATION_WINDOW,
            2,
            MAX_WINDOWS,
        )?;
        let correlation_threshold = match opt(env::CORRELATION_THRESHOLD) {
            None => DEFAULT_CORRELATION_THRESHOLD,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|x| (0.0..=1.0).contains(x))
                .ok_or_else(|| {
                    invalid(
                        env::CORRELATION_THRESHOLD,
                        &v,
                        "must be a number from 0 to 1",
                    )
                })?,
        };
        let label_horizon = whole(
            LABEL_HORIZON,
            opt(LABEL_HORIZON),
            DEFAULT_LABEL_HORIZON,
            1,
            MAX_WINDOWS,
        )?;
        let start_timeout =
            Duration::from_secs(
                whole(START_TIMEOUT_SECS, opt(START_TIMEOUT_SECS), 600, 1, 86_400)? as u64,
            );

        let arango = opt(env::ARANGO_URL).map(|url| ArangoSettings {
            url,
            db: opt(env::ARANGO_DB).unwrap_or_else(|| "streamforge".into()),
            user: opt(env::ARANGO_USER).unwrap_or_else(|| "root".into()),
            password: get(env::ARANGO_PASSWORD).unwrap_or_default(),
        });
        // Under arango-connector (the seed's arango-graph-prep) the graph's place is ArangoDB.
        if opt(env::TARGET).as_deref() == Some(Target::ArangoConnector.as_str()) && arango.is_none()
        {
            return Err(invalid(
                env::ARANGO_URL,
                "",
                "arango-connector writes the graph to ArangoDB and needs its URL",
            ));
        }
        let collection_name = opt(env::COLLECTION_NAME);
        let source = match opt(GRAPH_SOURCE).as_deref() {
            None | Some("lake") => GraphSource::Lake,
            Some("arango") => {
                if arango.is_none() {
                    return Err(invalid(GRAPH_SOURCE, "arango", "ARANGO_URL is not set"));
                }
                if collection_name.is_none() {
                    return Err(invalid(
                        GRAPH_SOURCE,
                        "arango",
                        "COLLECTION_NAME (the candle collection) is not set",
                    ));
                }
                GraphSource::Arango
            }
            Some(other) => return Err(invalid(GRAPH_SOURCE, other, "must be lake or arango")),
        };
        Ok(Self {
            graph_name,
            data_type,
            symbols,
            time_range,
            source_type,
            interval,
            correlation_window,
            correlation_threshold,
            label_horizon,
            source,
            collection_name,
            lake: LakeLocation::from_lookup(&get).map_err(|e| ConfigError::Invalid {
                name: env::MINIO_ENDPOINT,
                value: String::new(),
                reason: e.to_string(),
            })?,
            lake_prefix: opt(LAKE_PREFIX)
                .unwrap_or_default()
                .trim_matches('/')
                .to_owned(),
            arango,
            start_timeout,
        })
    }

    /// The candle collection of `symbol` (`COLLECTION_NAME` with `{symbol}` replaced).
    pub fn collection_for(&self, symbol: &str) -> Option<String> {
        self.collection_name
            .as_ref()
            .map(|c| c.replace("{symbol}", &symbol.to_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use streamforge_kit::testing::env_lookup as lookup;

    const BASE: [(&str, &str); 3] = [
        ("GRAPH_NAME", "g"),
        ("SYMBOL", "btcusdt"),
        ("TIME_RANGE", "2024-08-01:2024-08-03"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Result<BuilderConfig, ConfigError> {
        let mut pairs = BASE.to_vec();
        pairs.extend_from_slice(extra);
        BuilderConfig::from_lookup(lookup(&pairs))
    }

    #[test]
    fn defaults() {
        let c = with(&[("SYMBOLS", "ETHUSDT, BTCUSDT,,solusdt")]).unwrap();
        assert_eq!(c.symbols, ["BTCUSDT", "ETHUSDT", "SOLUSDT"]);
        assert_eq!(c.source_type, "api_candles_5m");
        assert_eq!(c.interval.ms, 300_000);
        assert_eq!(c.correlation_window, 24);
        assert_eq!(c.correlation_threshold, 0.5);
        assert_eq!(c.label_horizon, 1);
        assert_eq!(c.source, GraphSource::Lake);
        assert_eq!(c.lake, LakeLocation::Local { dir: "lake".into() });
        assert_eq!(c.arango, None);
        assert_eq!(c.data_type, "graph_build");
        let prep = with(&[
            ("TYPE", "graph_rsi_vol"),
            ("TARGET", "arango-connector"),
            ("ARANGO_URL", "http://arango:8529"),
        ])
        .unwrap();
        assert_eq!(prep.data_type, "graph_rsi_vol");
    }

    #[test]
    fn bad_settings_say_which_and_why() {
        let e = BuilderConfig::from_lookup(lookup(&BASE[1..])).unwrap_err();
        assert_eq!(e.to_string(), "GRAPH_NAME is not set");
        let cases: [(&[(&str, &str)], &str); 10] = [
            (
                &[("TYPE", "graph_other")],
                "TYPE=\"graph_other\": the graph types are graph_build, graph_rsi_vol",
            ),
            (
                &[("TARGET", "arango-connector")],
                "arango-connector writes the graph to ArangoDB and needs its URL",
            ),
            (
                &[("CORRELATION_WINDOW", "24x")],
                "CORRELATION_WINDOW=\"24x\": not a whole number",
            ),
            (&[("CORRELATION_WINDOW", "1")], "must be between 2"),
            (&[("CORRELATION_THRESHOLD", "1.5")], "from 0 to 1"),
            (&[("CORRELATION_THRESHOLD", "NaN")], "from 0 to 1"),
            (
                &[("SOURCE_TYPE", "api_trades")],
                "not a candle type; the graph is built from api_candles_<interval> or ws_candles_<interval>",
            ),
            (
                &[("SOURCE_TYPE", "api_candles_7m")],
                "unknown kline interval",
            ),
            (&[("GRAPH_SOURCE", "arango")], "ARANGO_URL is not set"),
            (&[("GRAPH_SOURCE", "s3")], "must be lake or arango"),
        ];
        for (extra, want) in cases {
            let e = with(extra).unwrap_err().to_string();
            assert!(e.contains(want), "{extra:?}: {e}");
        }
        let e = BuilderConfig::from_lookup(lookup(&[
            ("GRAPH_NAME", "../etc"),
            ("SYMBOL", "X"),
            ("TIME_RANGE", "2024-08-01:2024-08-02"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("GRAPH_NAME"), "{e}");
    }

    #[test]
    fn arango_source_and_collection_per_symbol() {
        let c = with(&[
            ("GRAPH_SOURCE", "arango"),
            ("ARANGO_URL", "http://arango:8529"),
            ("COLLECTION_NAME", "{symbol}_api_candles_5m"),
        ])
        .unwrap();
        assert_eq!(c.source, GraphSource::Arango);
        assert_eq!(c.arango.as_ref().unwrap().db, "streamforge");
        assert_eq!(
            c.collection_for("BTCUSDT").unwrap(),
            "btcusdt_api_candles_5m"
        );
    }
}
