//! A protocol-level ArangoDB test server for exactly the calls the adapter makes, answering as
//! ArangoDB's HTTP API documentation shows: status codes, result shapes and error bodies
//! (`{"error":true,"code":…,"errorNum":…,"errorMessage":…}`). ArangoDB itself cannot run on our
//! machines; tests named `protocol_*` run against this, and `live_*` tests against a real
//! ArangoDB when `ARANGO_URL` is set.
//!
//! It keeps documents in memory, checks basic auth and `_key` syntax, and counts requests and
//! request bytes per endpoint. It can be told to answer 503 for a while (an outage).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use warp::Filter;
use warp::http::{Response, StatusCode};

use crate::key::is_valid;
use crate::queries::SYMBOL_TIME_RANGE;

/// The AQL text the adapter sends for upserts. Besides it, the server runs
/// [`SYMBOL_TIME_RANGE`] (with cursor paging); other queries are refused as ArangoDB would
/// refuse a query it cannot parse.
pub const UPSERT_QUERY: &str = "FOR d IN @docs UPSERT { _key: d._key } INSERT d REPLACE d IN @@col";

#[derive(Debug, Default)]
pub struct Collection {
    pub edge: bool,
    pub docs: BTreeMap<String, Value>,
    pub indexes: Vec<Vec<String>>,
    rev: u64,
}

#[derive(Debug, Default)]
pub struct ServerState {
    pub db: String,
    pub auth: String,
    pub collections: HashMap<String, Collection>,
    pub graphs: HashMap<String, Value>,
    /// Endpoint → (requests, request body bytes).
    pub counters: BTreeMap<&'static str, (u64, u64)>,
    /// Answer this many requests with 503 before serving again.
    pub unavailable_for: u64,
    /// Refuse, one by one in a batch answer, documents that hold this attribute with this value
    /// (ArangoDB's per-document refusal, e.g. a unique-index violation, errorNum 1210).
    pub refuse_documents_with: Option<(String, Value)>,
    /// Open read cursors: id → (batch size, results not yet sent).
    pub cursors: HashMap<String, (usize, VecDeque<Value>)>,
    next_cursor: u64,
}

/// ArangoDB's default cursor batch size.
const DEFAULT_BATCH: usize = 1000;

/// The next batch of a cursor, as `POST /_api/cursor` and `PUT /_api/cursor/{id}` answer it;
/// the cursor is dropped once it is empty.
fn next_batch(st: &mut ServerState, id: &str, status: StatusCode) -> Response<String> {
    let Some((batch, rest)) = st.cursors.get_mut(id) else {
        return arango_error(StatusCode::NOT_FOUND, 1600, "cursor not found");
    };
    let take = (*batch).min(rest.len());
    let result: Vec<Value> = rest.drain(..take).collect();
    let has_more = !rest.is_empty();
    if !has_more {
        st.cursors.remove(id);
    }
    let mut body = json!({"result": result, "hasMore": has_more, "cached": false, "error": false, "code": status.as_u16()});
    if has_more {
        body["id"] = json!(id);
    }
    answer(status, body)
}

/// Run [`SYMBOL_TIME_RANGE`] over `coll` and open a cursor on its results.
fn range_query(st: &mut ServerState, body: &Value) -> Response<String> {
    let vars = body.get("bindVars").cloned().unwrap_or(Value::Null);
    let Some(coll) = vars
        .get("@col")
        .and_then(Value::as_str)
        .and_then(|c| st.collections.get(c))
    else {
        return arango_error(StatusCode::NOT_FOUND, 1203, "collection or view not found");
    };
    let (Some(symbol), Some(start), Some(end)) = (
        vars.get("symbol").and_then(Value::as_str),
        vars.get("start").and_then(Value::as_i64),
        vars.get("end").and_then(Value::as_i64),
    ) else {
        return arango_error(
            StatusCode::BAD_REQUEST,
            1552,
            "bind parameter 'symbol', 'start' or 'end' was not declared in the query",
        );
    };
    let mut found: Vec<(i64, Value)> = coll
        .docs
        .values()
        .filter(|d| d.get("symbol").and_then(Value::as_str) == Some(symbol))
        .filter_map(|d| {
            let t = d.get("open_time").and_then(Value::as_i64)?;
            (start <= t && t < end).then(|| (t, d.clone()))
        })
        .collect();
    found.sort_by_key(|(t, _)| *t);
    let batch = body
        .get("batchSize")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_BATCH, |b| b.max(1) as usize);
    st.next_cursor += 1;
    let id = st.next_cursor.to_string();
    st.cursors.insert(
        id.clone(),
        (batch, found.into_iter().map(|(_, d)| d).collect()),
    );
    next_batch(st, &id, StatusCode::CREATED)
}

pub type Shared = Arc<Mutex<ServerState>>;

fn b64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn answer(status: StatusCode, body: Value) -> Response<String> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string())
        .unwrap_or_default()
}

fn arango_error(status: StatusCode, error_num: i64, message: &str) -> Response<String> {
    answer(
        status,
        json!({"error": true, "code": status.as_u16(), "errorNum": error_num, "errorMessage": message}),
    )
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, ServerState> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn handle(
    state: &Shared,
    method: &str,
    db: &str,
    rest: &str,
    query: &HashMap<String, String>,
    auth: Option<String>,
    body: &[u8],
) -> Response<String> {
    let mut st = lock(state);
    let endpoint: &'static str = if method == "PUT" && rest.starts_with("_api/cursor/") {
        "cursor_next"
    } else if method == "PUT" && rest.starts_with("_api/collection/") && rest.ends_with("/truncate")
    {
        "truncate"
    } else if method == "PUT" {
        "other"
    } else if rest == "_api/collection" {
        "collection"
    } else if rest == "_api/index" {
        "index"
    } else if rest.starts_with("_api/document/") {
        "document"
    } else if rest == "_api/cursor" {
        "cursor"
    } else if rest == "_api/gharial" {
        "gharial"
    } else {
        "other"
    };
    let c = st.counters.entry(endpoint).or_default();
    c.0 += 1;
    c.1 += body.len() as u64;
    if st.unavailable_for > 0 {
        st.unavailable_for -= 1;
        return arango_error(StatusCode::SERVICE_UNAVAILABLE, 503, "service unavailable");
    }
    if auth.as_deref() != Some(st.auth.as_str()) {
        return arango_error(
            StatusCode::UNAUTHORIZED,
            11,
            "not authorized to execute this request",
        );
    }
    if db != st.db {
        return arango_error(StatusCode::NOT_FOUND, 1228, "database not found");
    }
    match endpoint {
        "cursor_next" => {
            let id = rest.trim_start_matches("_api/cursor/").to_owned();
            return next_batch(&mut st, &id, StatusCode::OK);
        }
        "truncate" => {
            let name = rest
                .trim_start_matches("_api/collection/")
                .trim_end_matches("/truncate");
            let Some(coll) = st.collections.get_mut(name) else {
                return arango_error(StatusCode::NOT_FOUND, 1203, "collection or view not found");
            };
            coll.docs.clear();
            let edge = coll.edge;
            return answer(
                StatusCode::OK,
                json!({"error": false, "code": 200, "name": name, "type": if edge { 3 } else { 2 }, "status": 3}),
            );
        }
        "other" if method == "PUT" => {
            return arango_error(StatusCode::NOT_FOUND, 404, "unknown path");
        }
        _ => {}
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return arango_error(
            StatusCode::BAD_REQUEST,
            600,
            "VPackError error: Expecting digit",
        );
    };
    match endpoint {
        "collection" => {
            let Some(name) = body.get("name").and_then(Value::as_str) else {
                return arango_error(StatusCode::BAD_REQUEST, 1208, "illegal name");
            };
            if st.collections.contains_key(name) {
                return arango_error(StatusCode::CONFLICT, 1207, "duplicate name");
            }
            let edge = body.get("type").and_then(Value::as_i64) == Some(3);
            st.collections.insert(
                name.to_owned(),
                Collection {
                    edge,
                    ..Collection::default()
                },
            );
            answer(
                StatusCode::OK,
                json!({"error": false, "code": 200, "name": name, "type": if edge { 3 } else { 2 }, "status": 3, "isSystem": false}),
            )
        }
        "index" => {
            let Some(coll) = query
                .get("collection")
                .and_then(|c| st.collections.get_mut(c))
            else {
                return arango_error(StatusCode::NOT_FOUND, 1203, "collection or view not found");
            };
            let fields: Vec<String> = body
                .get("fields")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let created = !coll.indexes.contains(&fields);
            if created {
                coll.indexes.push(fields.clone());
            }
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            answer(
                status,
                json!({"error": false, "code": status.as_u16(), "type": "persistent", "fields": fields, "isNewlyCreated": created}),
            )
        }
        "document" => {
            let name = rest.trim_start_matches("_api/document/");
            if query.get("overwriteMode").map(String::as_str) != Some("replace") {
                return arango_error(
                    StatusCode::BAD_REQUEST,
                    10,
                    "this test server only takes overwriteMode=replace",
                );
            }
            let refuse = st.refuse_documents_with.clone();
            let Some(coll) = st.collections.get_mut(name) else {
                return arango_error(StatusCode::NOT_FOUND, 1203, "collection or view not found");
            };
            let docs = match body {
                Value::Array(a) => a,
                one @ Value::Object(_) => vec![one],
                _ => return arango_error(StatusCode::BAD_REQUEST, 1227, "invalid document type"),
            };
            let results: Vec<Value> = docs
                .into_iter()
                .map(|d| {
                    let Some(key) = d.get("_key").and_then(Value::as_str).map(str::to_owned) else {
                        return json!({"error": true, "errorNum": 1221, "errorMessage": "illegal document key"});
                    };
                    if !is_valid(&key) {
                        return json!({"error": true, "errorNum": 1221, "errorMessage": "illegal document key"});
                    }
                    if coll.edge && (d.get("_from").is_none() || d.get("_to").is_none()) {
                        return json!({"error": true, "errorNum": 1233, "errorMessage": "edge attribute missing or invalid"});
                    }
                    if let Some((field, value)) = &refuse
                        && d.get(field) == Some(value)
                    {
                        return json!({"error": true, "errorNum": 1210, "errorMessage": "unique constraint violated"});
                    }
                    coll.rev += 1;
                    let rev = format!("_r{}", coll.rev);
                    coll.docs.insert(key.clone(), d);
                    json!({"_id": format!("{name}/{key}"), "_key": key, "_rev": rev})
                })
                .collect();
            answer(StatusCode::ACCEPTED, Value::Array(results))
        }
        "cursor" if body.get("query").and_then(Value::as_str) == Some(SYMBOL_TIME_RANGE) => {
            range_query(&mut st, &body)
        }
        "cursor" => {
            if body.get("query").and_then(Value::as_str) != Some(UPSERT_QUERY) {
                return arango_error(
                    StatusCode::BAD_REQUEST,
                    1501,
                    "syntax error, unexpected query (this test server runs only the adapter's UPSERT)",
                );
            }
            let vars = body.get("bindVars").cloned().unwrap_or(Value::Null);
            let Some(coll) = vars
                .get("@col")
                .and_then(Value::as_str)
                .and_then(|c| st.collections.get_mut(c))
            else {
                return arango_error(StatusCode::NOT_FOUND, 1203, "collection or view not found");
            };
            let docs = vars
                .get("docs")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for d in &docs {
                match d.get("_key").and_then(Value::as_str) {
                    Some(k) if is_valid(k) => {
                        coll.docs.insert(k.to_owned(), d.clone());
                    }
                    _ => {
                        return arango_error(StatusCode::BAD_REQUEST, 1221, "illegal document key");
                    }
                }
            }
            answer(
                StatusCode::CREATED,
                json!({"result": [], "hasMore": false, "cached": false, "extra": {"stats": {"writesExecuted": docs.len(), "writesIgnored": 0}}, "error": false, "code": 201}),
            )
        }
        "gharial" => {
            let Some(name) = body.get("name").and_then(Value::as_str) else {
                return arango_error(StatusCode::BAD_REQUEST, 1921, "graph name is missing");
            };
            if st.graphs.contains_key(name) {
                return arango_error(StatusCode::CONFLICT, 1925, "graph already exists");
            }
            st.graphs.insert(name.to_owned(), body.clone());
            answer(
                StatusCode::ACCEPTED,
                json!({"error": false, "code": 202, "graph": {"name": name, "edgeDefinitions": body.get("edgeDefinitions")}}),
            )
        }
        _ => arango_error(StatusCode::NOT_FOUND, 404, "unknown path"),
    }
}

/// Serve on `addr` for database `db` with basic-auth `user`/`password`.
pub async fn serve(
    addr: SocketAddr,
    db: &str,
    user: &str,
    password: &str,
) -> std::io::Result<(SocketAddr, Shared)> {
    let state: Shared = Arc::new(Mutex::new(ServerState {
        db: db.to_owned(),
        auth: format!("Basic {}", b64(format!("{user}:{password}").as_bytes())),
        ..ServerState::default()
    }));
    let s = state.clone();
    let route = warp::post()
        .or(warp::put())
        .unify()
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::bytes())
        .map(
            move |method: warp::http::Method,
                  path: warp::path::FullPath,
                  q: HashMap<String, String>,
                  auth: Option<String>,
                  body: bytes::Bytes| {
                // `/_db/{db}/{rest}`
                let p = path.as_str().trim_start_matches('/');
                match p.strip_prefix("_db/").and_then(|r| r.split_once('/')) {
                    Some((db, rest)) => handle(&s, method.as_str(), db, rest, &q, auth, &body),
                    None => arango_error(StatusCode::NOT_FOUND, 404, "unknown path"),
                }
            },
        );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let server = warp::serve(route).incoming(listener);
    tokio::spawn(async move { server.run().await });
    Ok((bound, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn protocol_range_query_pages_through_a_cursor_and_truncate_empties() {
        use crate::ArangoClient;
        let (addr, state) = serve("127.0.0.1:0".parse().unwrap(), "db", "u", "p")
            .await
            .unwrap();
        let c = ArangoClient::new(&format!("http://{addr}"), "db", "u", "p").unwrap();
        c.ensure_collection("candles", false).await.unwrap();
        let docs: Vec<Value> = (0..25)
            .map(|i| json!({"_key": format!("A-{i}"), "symbol": if i % 5 == 0 { "B" } else { "A" }, "open_time": 1000 - i * 10}))
            .collect();
        c.replace_documents("candles", &docs).await.unwrap();
        let mut batches = vec![];
        let read = c
            .query_batches(
                SYMBOL_TIME_RANGE,
                json!({"@col": "candles", "symbol": "A", "start": 800, "end": 990}),
                3,
                |b| {
                    batches.push(b);
                    Ok(())
                },
            )
            .await
            .unwrap();
        // open_time 1000 - 10 i in [800, 990): i = 2..=20 minus multiples of 5 (symbol B).
        let times: Vec<i64> = batches
            .iter()
            .flatten()
            .map(|d| d["open_time"].as_i64().unwrap())
            .collect();
        let mut want: Vec<i64> = (2..=20)
            .filter(|i| i % 5 != 0)
            .map(|i| 1000 - i * 10)
            .collect();
        want.sort();
        assert_eq!(times, want, "oldest first, filtered");
        assert_eq!(read, want.len() as u64);
        assert!(batches.iter().all(|b| b.len() <= 3));
        assert_eq!(batches.len(), want.len().div_ceil(3));
        {
            let st = lock(&state);
            assert_eq!(st.counters["cursor_next"].0, batches.len() as u64 - 1);
            assert!(st.cursors.is_empty(), "drained cursors are closed");
        }
        let e = c.put("/_api/cursor/999", None).await.unwrap_err();
        assert_eq!(e.error_num(), Some(1600));
        c.truncate_collection("candles").await.unwrap();
        assert!(lock(&state).collections["candles"].docs.is_empty());
        let e = c.truncate_collection("nope").await.unwrap_err();
        assert_eq!(e.error_num(), Some(1203));
    }

    #[test]
    fn basic_auth_encoding() {
        assert_eq!(b64(b"root:openSesame"), "cm9vdDpvcGVuU2VzYW1l");
        assert_eq!(b64(b"a"), "YQ==");
        assert_eq!(b64(b"ab"), "YWI=");
    }
}
