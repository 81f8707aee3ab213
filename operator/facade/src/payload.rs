//! `POST /queues/start`: the seeds' command JSON (`snake_case`, as `queue-control` carries it)
//! into a Queue. Every spec field is accepted under its seed name or its spec name
//! (`graph_name` or `graphName`); the seed's bookkeeping fields (`command`, `telemetry_id`,
//! `timestamp`) are the operator's to set and are ignored, and said so. The Queue's name is
//! `name` when given, else made from the seed's `queue_id`, else generated from target and
//! symbol. Types are checked here (a 400 naming the field); the CRD's rules are checked by the
//! API server (its message passed through).

use serde_json::{Map, Value};
use streamforge_api::QueueSpec;
use warp::http::StatusCode;

use crate::error::ApiError;

/// Seed fields the operator sets itself.
pub const IGNORED: [&str; 4] = ["command", "telemetry_id", "timestamp", "producer"];

/// What a start request becomes.
#[derive(Clone, Debug, PartialEq)]
pub struct StartRequest {
    /// A name, or a prefix for the API server to complete (`generateName`).
    pub name: QueueName,
    pub spec: QueueSpec,
    /// The request's fields that were not used, by name.
    pub ignored: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum QueueName {
    Exact(String),
    Generated(String),
}

/// `snake_case` → `camelCase` (`graph_name` → `graphName`); other names stay.
pub fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A Kubernetes object name (RFC 1123 label, at most 63 characters) made from `s`: lower case,
/// anything else than letters, digits and `-` becomes `-`, no `-` at either end.
pub fn dns_label(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() { c } else { '-' }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let trimmed: String = out.trim_matches('-').chars().take(63).collect();
    trimmed.trim_end_matches('-').to_owned()
}

/// The spec's field names, from its schema (the CRD's).
pub fn spec_fields() -> Vec<String> {
    let schema = schemars::schema_for!(QueueSpec);
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

pub fn parse(body: &[u8]) -> Result<StartRequest, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    if let Some(c) = fields.get("command").and_then(Value::as_str)
        && c != "start"
    {
        return Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            "command",
            format!(
                "command {c:?}: /queues/start takes \"start\" (stop with POST /queues/{{name}}/stop)"
            ),
        ));
    }
    let mut spec = Map::new();
    let mut ignored = vec![];
    let mut name = None;
    let mut queue_id = None;
    for (k, v) in fields {
        match k.as_str() {
            "name" => name = v.as_str().map(str::to_owned),
            "queue_id" | "queueId" => queue_id = v.as_str().map(str::to_owned),
            k if IGNORED.contains(&k) => ignored.push(k.to_owned()),
            _ if v.is_null() => {}
            _ => {
                spec.insert(camel(&k), v);
            }
        }
    }
    let known = spec_fields();
    if let Some(unknown) = spec.keys().find(|k| !known.contains(k)) {
        return Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            format!("spec.{unknown}"),
            format!("{unknown} is not a field of a Queue (see GET /openapi.json)"),
        ));
    }
    // The generic loader's `source` takes the seed's names too (`key_field`); the column mapping
    // inside it is the user's own and stays as written.
    if let Some(Value::Object(source)) = spec.get_mut("source") {
        let fields = std::mem::take(source);
        *source = fields.into_iter().map(|(k, v)| (camel(&k), v)).collect();
    }
    // The seed's `time_range` is sometimes a list of two dates.
    if let Some(Value::Array(parts)) = spec.get("timeRange") {
        let parts: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
        if parts.len() == 2 {
            spec.insert("timeRange".into(), Value::String(parts.join(":")));
        }
    }
    let spec: QueueSpec = serde_json::from_value(Value::Object(spec)).map_err(|e| {
        let text = e.to_string();
        let field = text
            .split('`')
            .nth(1)
            .filter(|_| text.contains("missing field") || text.contains("unknown field"))
            .map(|f| format!("spec.{f}"));
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("not a Queue: {text}"),
            field,
        }
    })?;
    let name = match (name, queue_id) {
        (Some(n), _) => {
            if dns_label(&n) != n {
                return Err(ApiError::field(
                    StatusCode::BAD_REQUEST,
                    "name",
                    format!(
                        "name {n:?} is not a Kubernetes name (lower-case letters, digits and '-', at most 63)"
                    ),
                ));
            }
            QueueName::Exact(n)
        }
        (None, Some(q)) if !dns_label(&q).is_empty() => QueueName::Exact(dns_label(&q)),
        _ => QueueName::Generated(format!(
            "{}-{}-",
            spec.target.as_str(),
            spec.symbol.to_ascii_lowercase()
        )),
    };
    Ok(StartRequest {
        name,
        spec,
        ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seed_visualizer_command_becomes_a_queue() {
        let body = json!({
            "command": "start",
            "queue_id": "visualize-btcusdt-2024_06_01-abc123",
            "target": "visualizer",
            "symbol": "BTCUSDT",
            "type": "plot_graph",
            "collection_name": "btc_graph_5m_2024_06_01",
            "graph_name": "btc_graph_5m_2024_06_01",
            "output_type": "html",
            "output_path": "s3://visuals/btcusdt/2024_06_01/index.html",
            "image": "registry.dmz.home/streamforge/visualizer:v0.1.0",
            "telemetry_id": "visualizer__abc123",
            "timestamp": 1722346211.177
        });
        let r = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            r.name,
            QueueName::Exact("visualize-btcusdt-2024-06-01-abc123".into())
        );
        assert_eq!(
            r.spec.graph_name.as_deref(),
            Some("btc_graph_5m_2024_06_01")
        );
        assert_eq!(
            r.spec.output_path.as_deref(),
            Some("s3://visuals/btcusdt/2024_06_01/index.html")
        );
        assert_eq!(
            r.spec.image.as_deref(),
            Some("registry.dmz.home/streamforge/visualizer:v0.1.0")
        );
        let mut ignored = r.ignored.clone();
        ignored.sort();
        assert_eq!(ignored, ["command", "telemetry_id", "timestamp"]);
    }

    #[test]
    fn spec_names_work_too_and_a_name_can_be_generated() {
        let body = json!({"target": "gnn-trainer", "symbol": "BTCUSDT", "type": "gnn_trainer",
            "graphName": "g", "model_type": "GraphSAGE", "epochs": 20, "loss_fn": "binary_crossentropy"});
        let r = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(r.name, QueueName::Generated("gnn-trainer-btcusdt-".into()));
        assert_eq!(r.spec.epochs, Some(20));
        assert_eq!(r.spec.graph_name.as_deref(), Some("g"));
    }

    #[test]
    fn bad_input_names_the_field() {
        let e = parse(br#"{"target": "loader-producer", "symbol": "BTCUSDT"}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.field.as_deref(), Some("spec.type"), "{e:?}");
        let e = parse(br#"{"target": "nobody", "symbol": "BTCUSDT", "type": "x_y"}"#).unwrap_err();
        assert!(e.message.contains("nobody"), "{e:?}");
        let e = parse(br#"{"target": "visualizer", "symbol": "BTCUSDT", "type": "plot_graph", "epochs": "many"}"#).unwrap_err();
        assert!(e.message.contains("many"), "{e:?}");
        let e = parse(br#"{"command": "stop", "target": "visualizer"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("command"));
        assert_eq!(parse(b"[1]").unwrap_err().status, StatusCode::BAD_REQUEST);
        let e = parse(br#"{"target": "visualizer", "symbol": "BTCUSDT", "type": "plot_graph", "colour": "red"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.colour"));
        assert_eq!(parse(b"{").unwrap_err().status, StatusCode::BAD_REQUEST);
        let e = parse(br#"{"name": "Bad_Name", "target": "visualizer", "symbol": "BTCUSDT", "type": "plot_graph"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("name"));
    }

    #[test]
    fn names_are_made_kubernetes_safe() {
        assert_eq!(
            dns_label("Loader_BTCUSDT--api_candles_5m__"),
            "loader-btcusdt-api-candles-5m"
        );
        assert_eq!(dns_label(&"x".repeat(80)).len(), 63);
        assert_eq!(
            camel("ttl_seconds_after_finished"),
            "ttlSecondsAfterFinished"
        );
        assert_eq!(camel("type"), "type");
    }

    #[test]
    fn a_generic_source_takes_the_seed_names_and_keeps_its_columns() {
        let r = parse(
            br#"{"queue_id": "g1", "target": "loader-generic", "type": "json_feed", "symbol": "BTCUSDT",
                 "source": {"url": "wss://x/ws", "key_field": "data.id", "poll_seconds": 5,
                            "columns": {"open_time": "open_time"}}}"#,
        )
        .unwrap();
        let source = r.spec.source.unwrap();
        assert_eq!(source.key_field.as_deref(), Some("data.id"));
        assert_eq!(source.poll_seconds, Some(5));
        assert_eq!(source.columns["open_time"], "open_time");
    }
}
