//! The JSON API behind the tabs. Every handler answers JSON; a failure is
//! `{"error": "..."}` with a status that says whose fault it is (4xx: the request or the data,
//! 503: a store or the broker is away), so the page can show it where it happened.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use streamforge_graph::Graph;
use streamforge_indicators as ind;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::app::App;
use crate::filter::Filter;
use crate::heatmap;
use crate::lake::{self, ChartCandle};
use crate::topic_read;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
    /// Stored data that cannot be read as what it should be.
    pub fn bad_data(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
        }
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
        }
    }
}

/// The reply for a handler's result.
pub fn respond(r: Result<Value, ApiError>) -> Response {
    use warp::Reply;
    match r {
        Ok(v) => warp::reply::json(&v).into_response(),
        Err(e) => {
            warp::reply::with_status(warp::reply::json(&json!({"error": e.message})), e.status)
                .into_response()
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    #[serde(flatten)]
    pub filter: Filter,
    pub limit: Option<usize>,
}

pub fn events(app: &App, q: &EventsQuery) -> Result<Value, ApiError> {
    let limit = q.limit.unwrap_or(200).min(5000);
    let (events, total) = app.events.latest(&q.filter, limit);
    let events: Vec<&crate::events::Seen> = events.iter().map(|s| s.as_ref()).collect();
    Ok(json!({"events": events, "total": total}))
}

pub async fn topics(app: Arc<App>) -> Result<Value, ApiError> {
    let kafka = app.kafka.clone();
    let listed = tokio::task::spawn_blocking(move || {
        use rdkafka::consumer::Consumer;
        let c = crate::events::metadata_client(&kafka)?;
        let md = c
            .fetch_metadata(None, Duration::from_secs(10))
            .map_err(|e| format!("the broker's topics: {e}"))?;
        Ok::<_, String>(
            md.topics()
                .iter()
                .map(|t| (t.name().to_owned(), t.partitions().len()))
                .collect::<Vec<_>>(),
        )
    })
    .await
    .map_err(|e| ApiError::unavailable(e.to_string()))?
    .map_err(ApiError::unavailable)?;
    let mut topics: Vec<Value> = listed
        .into_iter()
        .filter(|(name, _)| !name.starts_with("__") && app.config.topics.allows(name))
        .map(|(name, partitions)| json!({"name": name, "partitions": partitions}))
        .collect();
    topics.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(json!({"topics": topics}))
}

/// A time given as ms since the epoch or as a date (`2024-06-01`, UTC midnight).
pub fn parse_time(name: &str, v: &str) -> Result<i64, ApiError> {
    let v = v.trim();
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{name}={v:?} is neither ms since the epoch nor a date such as 2024-06-01"
            ))
        })
}

#[derive(Debug, Default, Deserialize)]
pub struct CandlesQuery {
    pub symbol: Option<String>,
    #[serde(rename = "type")]
    pub data_type: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub rsi: Option<usize>,
    pub sma: Option<usize>,
    pub ema: Option<usize>,
    pub vwap: Option<usize>,
}

fn symbol_of(v: Option<&str>, default: &str) -> Result<String, ApiError> {
    let s = v
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(default)
        .to_uppercase();
    if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::bad_request(format!(
            "symbol {s:?} is not a symbol such as BTCUSDT"
        )));
    }
    Ok(s)
}

fn type_of(v: Option<&str>, default: &str) -> Result<String, ApiError> {
    let t = v
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(default)
        .to_owned();
    if t.is_empty() || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ApiError::bad_request(format!(
            "type {t:?} is not a data type such as api_candles_1m"
        )));
    }
    Ok(t)
}

/// The candles a chart request asks for, and what it asked.
pub async fn load_candles(
    app: &App,
    q: &CandlesQuery,
) -> Result<
    (
        String,
        String,
        Vec<streamforge_graph_builder::candles::Candle>,
    ),
    ApiError,
> {
    let d = &app.config.defaults;
    let symbol = symbol_of(q.symbol.as_deref(), &d.default_symbol)?;
    let data_type = type_of(q.data_type.as_deref(), &d.default_candles_type)?;
    let prefix = &app.config.lake_prefix;
    let range = match (&q.start, &q.end) {
        (Some(s), Some(e)) if !s.trim().is_empty() && !e.trim().is_empty() => {
            Some((parse_time("start", s)?, parse_time("end", e)?))
        }
        _ => lake::default_range(&app.lake, prefix, &symbol, &data_type).await?,
    };
    let candles = match range {
        None => vec![],
        Some((start, end)) => {
            lake::candles(&app.lake, prefix, &symbol, &data_type, start, end).await?
        }
    };
    Ok((symbol, data_type, candles))
}

pub async fn candles(app: Arc<App>, q: CandlesQuery) -> Result<Value, ApiError> {
    let (symbol, data_type, candles) = load_candles(&app, &q).await?;
    let chart: Vec<ChartCandle> = candles.iter().map(ChartCandle::from).collect();
    Ok(json!({"symbol": symbol, "type": data_type, "source": "lake", "candles": chart}))
}

fn period(name: &str, v: Option<usize>, default: usize) -> Result<usize, ApiError> {
    let n = v.unwrap_or(default);
    if !(1..=1000).contains(&n) {
        return Err(ApiError::bad_request(format!(
            "{name} period {n} must be in 1..=1000"
        )));
    }
    Ok(n)
}

/// A line for the charts: `{time, value}` where the indicator is defined.
fn line(candles: &[ChartCandle], values: &[f64]) -> Vec<Value> {
    candles
        .iter()
        .zip(values)
        .filter(|(_, v)| v.is_finite())
        .map(|(c, v)| json!({"time": c.time, "value": v}))
        .collect()
}

pub async fn indicators(app: Arc<App>, q: CandlesQuery) -> Result<Value, ApiError> {
    let (rsi_n, sma_n, ema_n, vwap_n) = (
        period("rsi", q.rsi, 14)?,
        period("sma", q.sma, 20)?,
        period("ema", q.ema, 20)?,
        period("vwap", q.vwap, 20)?,
    );
    let (symbol, data_type, candles) = load_candles(&app, &q).await?;
    let chart: Vec<ChartCandle> = candles.iter().map(ChartCandle::from).collect();
    let col = |f: fn(&ChartCandle) -> f64| chart.iter().map(f).collect::<Vec<f64>>();
    let (high, low, close, volume) = (
        col(|c| c.high),
        col(|c| c.low),
        col(|c| c.close),
        col(|c| c.volume),
    );
    Ok(json!({
        "symbol": symbol,
        "type": data_type,
        "periods": {"rsi": rsi_n, "sma": sma_n, "ema": ema_n, "vwap": vwap_n},
        "rsi": line(&chart, &ind::rsi_wilder(&close, rsi_n)),
        "sma": line(&chart, &ind::sma(&close, sma_n)),
        "ema": line(&chart, &ind::ema(&close, ema_n)),
        "vwap": line(&chart, &ind::vwap(&high, &low, &close, &volume, vwap_n)),
        "candles": chart,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct HeatmapQuery {
    pub topic: Option<String>,
    pub symbol: Option<String>,
    pub buckets: Option<usize>,
    pub levels: Option<usize>,
    /// Latest records per partition read.
    pub records: Option<i64>,
}

pub async fn heatmap(app: Arc<App>, q: HeatmapQuery) -> Result<Value, ApiError> {
    let topic = q
        .topic
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .or_else(|| app.config.defaults.default_orderbook_topic.clone())
        .ok_or_else(|| ApiError::bad_request("name the ws_orderbook topic (topic=...)"))?;
    if !app.config.topics.allows(&topic) {
        return Err(ApiError::forbidden(format!(
            "topic {topic} may not be read here"
        )));
    }
    let symbol = symbol_of(q.symbol.as_deref(), &app.config.defaults.default_symbol)?;
    let per_partition = q.records.unwrap_or(50_000).clamp(1, 500_000);
    let kafka = app.kafka.clone();
    let t = topic.clone();
    let records = tokio::task::spawn_blocking(move || {
        topic_read::read_latest(&kafka, &t, per_partition, Duration::from_secs(20))
    })
    .await
    .map_err(|e| ApiError::unavailable(e.to_string()))?
    .map_err(|e| {
        if e.contains("does not exist") {
            ApiError::not_found(e)
        } else {
            ApiError::unavailable(e)
        }
    })?;
    let (buckets, levels) = (q.buckets.unwrap_or(120), q.levels.unwrap_or(60));
    let map =
        tokio::task::spawn_blocking(move || heatmap::build(&records, &symbol, buckets, levels))
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let mut v = serde_json::to_value(map).map_err(|e| ApiError::unavailable(e.to_string()))?;
    v["topic"] = json!(topic);
    Ok(v)
}

pub async fn graphs(app: Arc<App>) -> Result<Value, ApiError> {
    Ok(json!({"graphs": lake::graphs(&app.lake).await?}))
}

#[derive(Debug, Default, Deserialize)]
pub struct GraphQuery {
    pub name: Option<String>,
    pub limit: Option<usize>,
}

async fn read_graph(app: &App, name: &str) -> Result<Graph, ApiError> {
    streamforge_graph::check_graph_name(name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    streamforge_graph::read_graph(&app.lake, name)
        .await
        .map_err(|e| {
            if e.is_transient() {
                ApiError::unavailable(e.to_string())
            } else if matches!(e, streamforge_graph::GraphError::NotFound { .. }) {
                ApiError::not_found(format!("graph {name}: {e}"))
            } else {
                ApiError::bad_data(format!("graph {name}: {e}"))
            }
        })
}

/// The nodes of the latest windows, as many whole windows as fit in `limit`.
pub fn latest_nodes(g: &Graph, limit: usize) -> Vec<usize> {
    let windows: BTreeSet<i64> = g.nodes.window_start.iter().copied().collect();
    let mut per_window: HashMap<i64, usize> = HashMap::new();
    for w in &g.nodes.window_start {
        *per_window.entry(*w).or_default() += 1;
    }
    let mut kept = BTreeSet::new();
    let mut count = 0;
    for w in windows.iter().rev() {
        let n = per_window.get(w).copied().unwrap_or_default();
        if count + n > limit && count > 0 {
            break;
        }
        count += n;
        kept.insert(*w);
    }
    (0..g.nodes.len())
        .filter(|&i| kept.contains(&g.nodes.window_start[i]))
        .collect()
}

pub fn graph_view(g: &Graph, limit: usize) -> Value {
    let chosen = latest_nodes(g, limit);
    let ids: HashMap<i64, ()> = chosen.iter().map(|&i| (g.nodes.node_id[i], ())).collect();
    let label = g.nodes.labels.first();
    let nodes: Vec<Value> = chosen
        .iter()
        .map(|&i| {
            let features: serde_json::Map<String, Value> = g
                .nodes
                .features
                .iter()
                .map(|(name, col)| (name.clone(), json!(col[i])))
                .collect();
            json!({
                "id": g.nodes.node_id[i],
                "symbol": g.nodes.symbol[i],
                "time": g.nodes.window_start[i],
                "label": label.and_then(|(_, l)| l[i]),
                "features": features,
            })
        })
        .collect();
    let edges: Vec<Value> = (0..g.edges.len())
        .filter(|&e| ids.contains_key(&g.edges.src[e]) && ids.contains_key(&g.edges.dst[e]))
        .map(|e| {
            json!({
                "src": g.edges.src[e],
                "dst": g.edges.dst[e],
                "kind": g.edges.kind[e].as_str(),
                "weight": g.edges.weight[e],
            })
        })
        .collect();
    json!({"manifest": g.manifest, "nodes": nodes, "edges": edges})
}

pub async fn graph(app: Arc<App>, q: GraphQuery) -> Result<Value, ApiError> {
    let name = q
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("name the graph (name=...)"))?;
    let g = read_graph(&app, name).await?;
    Ok(graph_view(&g, q.limit.unwrap_or(400).clamp(1, 5000)))
}

pub async fn models(app: Arc<App>) -> Result<Value, ApiError> {
    Ok(json!({"models": lake::models(&app.lake, &app.lake_base).await?}))
}

#[derive(Debug, Default, Deserialize)]
pub struct ModelQuery {
    pub graph: Option<String>,
    pub run: Option<String>,
    pub limit: Option<usize>,
}

fn path_part(name: &str, v: Option<&str>) -> Result<String, ApiError> {
    let v = v
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("name the {name} ({name}=...)")))?;
    if v.contains('/') || v.contains("..") || v.len() > 253 {
        return Err(ApiError::bad_request(format!("{name} {v:?} is not a name")));
    }
    Ok(v.to_owned())
}

/// A model run: its metrics, its training history and its predictions (the latest `limit`
/// nodes, with their symbol and time from the graph when it can be read).
pub async fn model(app: Arc<App>, q: ModelQuery) -> Result<Value, ApiError> {
    let graph = path_part("graph", q.graph.as_deref())?;
    let run = path_part("run", q.run.as_deref())?;
    let dir = format!("models/{graph}/{run}");
    let metrics = lake::json_file(&app.lake, &format!("{dir}/metrics.json")).await?;
    let state = lake::json_file(&app.lake, &format!("{dir}/state.json")).await?;
    let predictions = lake::json_file(&app.lake, &format!("{dir}/predictions.json")).await?;
    if metrics.is_none() && state.is_none() {
        return Err(ApiError::not_found(format!(
            "no model run {run} of graph {graph}"
        )));
    }
    let history_of = |v: &Option<Value>| {
        v.as_ref()
            .and_then(|m| m.get("history"))
            .and_then(Value::as_array)
            .cloned()
    };
    let history: Vec<Value> = history_of(&metrics)
        .or_else(|| history_of(&state))
        .unwrap_or_default()
        .iter()
        .map(|r| {
            json!({
                "epoch": r.get("epoch"),
                "loss": r.get("loss"),
                "train_acc": r.get("train_accuracy"),
                "val_acc": r.get("val_accuracy"),
            })
        })
        .collect();
    let limit = q.limit.unwrap_or(2000).clamp(1, 50_000);
    let (rows, count) = match &predictions {
        None => (vec![], 0),
        Some(p) => {
            let g = read_graph(&app, &graph).await.ok();
            prediction_rows(p, g.as_ref(), limit)
        }
    };
    Ok(json!({
        "graph": graph,
        "run": run,
        "metrics": metrics,
        "history": history,
        "predictions": rows,
        "prediction_count": count,
    }))
}

/// `predictions.json`'s columns as rows for the latest `limit` nodes (by the graph's time, or
/// by node id without a graph), and how many nodes it holds.
pub fn prediction_rows(p: &Value, graph: Option<&Graph>, limit: usize) -> (Vec<Value>, usize) {
    let col = |name: &str| {
        p.get(name)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (ids, probs, splits, labels) = (
        col("node_id"),
        col("probability"),
        col("split"),
        col("label_value"),
    );
    let n = ids.len().min(probs.len());
    let time_of = |id: i64| {
        graph.and_then(|g| {
            usize::try_from(id)
                .ok()
                .and_then(|i| g.nodes.window_start.get(i))
                .copied()
        })
    };
    let symbol_of = |id: i64| {
        graph.and_then(|g| {
            usize::try_from(id)
                .ok()
                .and_then(|i| g.nodes.symbol.get(i))
                .cloned()
        })
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| {
        let id = ids[i].as_i64().unwrap_or_default();
        (time_of(id).unwrap_or(id), id)
    });
    let rows = order[n.saturating_sub(limit)..]
        .iter()
        .map(|&i| {
            let id = ids[i].as_i64().unwrap_or_default();
            json!({
                "node_id": id,
                "symbol": symbol_of(id),
                "time": time_of(id),
                "probability": probs[i],
                "split": splits.get(i),
                "label": labels.get(i),
            })
        })
        .collect();
    (rows, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_ms_or_dates_and_bad_ones_are_named() {
        assert_eq!(
            parse_time("start", "1717200000000").unwrap(),
            1_717_200_000_000
        );
        assert_eq!(
            parse_time("start", "2024-06-01").unwrap(),
            1_717_200_000_000
        );
        let e = parse_time("end", "yesterday").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("end=\"yesterday\""), "{}", e.message);
    }

    #[test]
    fn symbols_and_types_are_checked_before_they_make_a_path() {
        assert_eq!(symbol_of(Some("btcusdt"), "X").unwrap(), "BTCUSDT");
        assert!(symbol_of(Some("../etc"), "X").is_err());
        assert!(type_of(Some("api_candles_1m/../x"), "t").is_err());
        assert!(path_part("run", Some("a/../b")).is_err());
    }

    #[test]
    fn the_graph_view_keeps_whole_latest_windows_and_their_edges() {
        let g = streamforge_graph::sample::sample_graph("g", &["AAAUSDT", "BBBUSDT"], 10);
        let v = graph_view(&g, 7);
        let nodes = v["nodes"].as_array().unwrap();
        // Two symbols per window: 3 whole windows fit in 7.
        assert_eq!(nodes.len(), 6);
        let last = *g.nodes.window_start.iter().max().unwrap();
        assert!(nodes.iter().any(|n| n["time"] == last));
        let ids: BTreeSet<i64> = nodes.iter().map(|n| n["id"].as_i64().unwrap()).collect();
        for e in v["edges"].as_array().unwrap() {
            assert!(
                ids.contains(&e["src"].as_i64().unwrap())
                    && ids.contains(&e["dst"].as_i64().unwrap())
            );
        }
        assert!(nodes[0]["features"].as_object().unwrap().len() == g.nodes.features.len());
    }

    #[test]
    fn prediction_rows_take_the_latest_nodes_with_their_symbol_and_time() {
        let g = streamforge_graph::sample::sample_graph("g", &["AAAUSDT"], 5);
        let p = json!({"node_id": [0, 1, 2, 3, 4], "probability": [0.1, 0.2, 0.3, 0.4, 0.5],
            "split": ["train", "train", "val", "test", "none"], "label_value": [0, 1, 0, 1, null]});
        let (rows, n) = prediction_rows(&p, Some(&g), 2);
        assert_eq!(n, 5);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["probability"], 0.5);
        assert_eq!(rows[1]["symbol"], "AAAUSDT");
        assert_eq!(rows[1]["time"], g.nodes.window_start[4]);
        let (rows, _) = prediction_rows(&p, None, 10);
        assert_eq!(rows[0]["time"], Value::Null);
    }
}
