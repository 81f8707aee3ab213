//! A small typed client for the ArangoDB HTTP calls StreamForge makes, with ArangoDB's error
//! bodies (`{"error":true,"code":409,"errorNum":1207,"errorMessage":"duplicate name"}`) turned
//! into errors that say whether retrying can help.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

/// ArangoDB error numbers the client acts on.
pub mod error_num {
    pub const DUPLICATE_NAME: i64 = 1207;
    pub const GRAPH_DUPLICATE: i64 = 1925;
    pub const DATABASE_NOT_FOUND: i64 = 1228;
}

#[derive(Debug, thiserror::Error)]
pub enum ArangoError {
    #[error("ArangoDB {method} {path}: HTTP {status}, errorNum {error_num}: {message}")]
    Api {
        method: &'static str,
        path: String,
        status: u16,
        error_num: i64,
        message: String,
    },
    #[error("ArangoDB {path}: {reason}")]
    Transport { path: String, reason: String },
    #[error("ArangoDB refused {failed} of {total} documents, first: {first}")]
    Documents {
        failed: usize,
        total: usize,
        first: String,
    },
}

impl ArangoError {
    pub fn error_num(&self) -> Option<i64> {
        match self {
            ArangoError::Api { error_num, .. } => Some(*error_num),
            _ => None,
        }
    }

    /// Outages and overload are retried; refusals are not.
    pub fn is_transient(&self) -> bool {
        match self {
            ArangoError::Transport { .. } => true,
            ArangoError::Api { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            ArangoError::Documents { .. } => false,
        }
    }
}

pub struct ArangoClient {
    http: reqwest::Client,
    base: String,
    db: String,
    user: String,
    password: String,
    requests: AtomicU64,
    bytes_sent: AtomicU64,
}

impl ArangoClient {
    pub fn new(url: &str, db: &str, user: &str, password: &str) -> Result<Self, ArangoError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ArangoError::Transport {
                path: url.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            http,
            base: url.trim_end_matches('/').to_owned(),
            db: db.to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
            requests: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
        })
    }

    /// Requests made and request-body bytes sent so far.
    pub fn counters(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.bytes_sent.load(Ordering::Relaxed),
        )
    }

    /// POST `body` to `/_db/{db}{path}`; the parsed answer, or ArangoDB's error.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ArangoError> {
        self.request(reqwest::Method::POST, path, Some(body)).await
    }

    /// PUT `body` (or nothing) to `/_db/{db}{path}`; the parsed answer, or ArangoDB's error.
    pub async fn put(&self, path: &str, body: Option<&Value>) -> Result<Value, ArangoError> {
        self.request(reqwest::Method::PUT, path, body).await
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ArangoError> {
        let url = format!("{}/_db/{}{}", self.base, self.db, path);
        let bytes = body
            .map(|b| serde_json::to_vec(b).unwrap_or_default())
            .unwrap_or_default();
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let method_name = if method == reqwest::Method::PUT {
            "PUT"
        } else {
            "POST"
        };
        let resp = self
            .http
            .request(method, &url)
            .basic_auth(&self.user, Some(&self.password))
            .header("content-type", "application/json")
            .body(bytes)
            .send()
            .await
            .map_err(|e| ArangoError::Transport {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| ArangoError::Transport {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        Err(ArangoError::Api {
            method: method_name,
            path: path.to_owned(),
            status,
            error_num: value.get("errorNum").and_then(Value::as_i64).unwrap_or(0),
            message: value
                .get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| text.chars().take(200).collect()),
        })
    }

    /// Run an AQL read `query` with `bind_vars` and hand its results to `on_batch`, batch by
    /// batch (at most `batch_size` documents each), following the cursor
    /// (`POST /_api/cursor`, then `PUT /_api/cursor/{id}` while `hasMore`). Returns the number
    /// of documents read.
    pub async fn query_batches(
        &self,
        query: &str,
        bind_vars: Value,
        batch_size: usize,
        mut on_batch: impl FnMut(Vec<Value>) -> Result<(), ArangoError>,
    ) -> Result<u64, ArangoError> {
        let body = json!({"query": query, "bindVars": bind_vars, "batchSize": batch_size.max(1)});
        let mut answer = self.post("/_api/cursor", &body).await?;
        let mut read = 0u64;
        loop {
            let batch = match answer.get_mut("result").map(Value::take) {
                Some(Value::Array(docs)) => docs,
                _ => {
                    return Err(ArangoError::Transport {
                        path: "/_api/cursor".into(),
                        reason: "cursor answer without a result array".into(),
                    });
                }
            };
            read += batch.len() as u64;
            on_batch(batch)?;
            if answer.get("hasMore").and_then(Value::as_bool) != Some(true) {
                return Ok(read);
            }
            let Some(id) = answer.get("id").and_then(Value::as_str).map(str::to_owned) else {
                return Err(ArangoError::Transport {
                    path: "/_api/cursor".into(),
                    reason: "cursor has more results but no id".into(),
                });
            };
            answer = self.put(&format!("/_api/cursor/{id}"), None).await?;
        }
    }

    /// Remove every document of `collection` (`PUT /_api/collection/{name}/truncate`).
    pub async fn truncate_collection(&self, collection: &str) -> Result<(), ArangoError> {
        self.put(&format!("/_api/collection/{collection}/truncate"), None)
            .await
            .map(|_| ())
    }

    /// Create a document (type 2) or edge (type 3) collection; an existing one is fine.
    pub async fn ensure_collection(&self, name: &str, edge: bool) -> Result<(), ArangoError> {
        let body = json!({"name": name, "type": if edge { 3 } else { 2 }});
        match self.post("/_api/collection", &body).await {
            Ok(_) => Ok(()),
            Err(e) if e.error_num() == Some(error_num::DUPLICATE_NAME) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A persistent index on `fields` (ArangoDB returns the existing one if it is there).
    pub async fn ensure_index(
        &self,
        collection: &str,
        fields: &[&str],
        unique: bool,
    ) -> Result<(), ArangoError> {
        let body = json!({"type": "persistent", "fields": fields, "unique": unique});
        self.post(&format!("/_api/index?collection={collection}"), &body)
            .await
            .map(|_| ())
    }

    /// Insert or replace `docs` (each with `_key`) in one request, by the document API with
    /// `overwriteMode=replace`. Every per-document error is reported.
    pub async fn replace_documents(
        &self,
        collection: &str,
        docs: &[Value],
    ) -> Result<(), ArangoError> {
        let results = self.replace_documents_each(collection, docs).await?;
        let failed: Vec<&DocumentError> = results.iter().flatten().collect();
        if let Some(first) = failed.first() {
            return Err(ArangoError::Documents {
                failed: failed.len(),
                total: docs.len(),
                first: first.to_string(),
            });
        }
        Ok(())
    }

    /// The same, with each document's own outcome (`None`: stored), in the order of `docs`:
    /// ArangoDB answers a batch with one result per document, and one refused document does
    /// not stop the others.
    pub async fn replace_documents_each(
        &self,
        collection: &str,
        docs: &[Value],
    ) -> Result<Vec<Option<DocumentError>>, ArangoError> {
        let path = format!("/_api/document/{collection}?overwriteMode=replace&silent=false");
        let answer = self.post(&path, &Value::Array(docs.to_vec())).await?;
        let results = answer.as_array().cloned().unwrap_or_default();
        Ok((0..docs.len())
            .map(|i| {
                let r = results.get(i)?;
                (r.get("error").and_then(Value::as_bool) == Some(true)).then(|| DocumentError {
                    error_num: r.get("errorNum").and_then(Value::as_i64).unwrap_or(0),
                    message: r
                        .get("errorMessage")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                })
            })
            .collect())
    }

    /// The same by AQL: `UPSERT` each document by `_key` in one cursor request.
    pub async fn upsert_documents(
        &self,
        collection: &str,
        docs: &[Value],
    ) -> Result<(), ArangoError> {
        let body = json!({
            "query": "FOR d IN @docs UPSERT { _key: d._key } INSERT d REPLACE d IN @@col",
            "bindVars": { "docs": docs, "@col": collection },
        });
        self.post("/_api/cursor", &body).await.map(|_| ())
    }

    /// A named graph of `vertices` joined by `edges` (edges from and to the vertices); an
    /// existing graph is fine.
    pub async fn ensure_graph(
        &self,
        name: &str,
        vertices: &str,
        edges: &str,
    ) -> Result<(), ArangoError> {
        self.ensure_collection(vertices, false).await?;
        self.ensure_collection(edges, true).await?;
        let body = json!({
            "name": name,
            "edgeDefinitions": [{ "collection": edges, "from": [vertices], "to": [vertices] }],
        });
        match self.post("/_api/gharial", &body).await {
            Ok(_) => Ok(()),
            Err(e) if e.error_num() == Some(error_num::GRAPH_DUPLICATE) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// One document's refusal in a batch answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentError {
    pub error_num: i64,
    pub message: String,
}

impl DocumentError {
    /// Whether the same document may be accepted later: a write conflict (1200), a lock
    /// timeout (18), a read-only server (1004), a shard leader change (1496). Anything else is
    /// about the document itself.
    pub fn is_transient(&self) -> bool {
        matches!(self.error_num, 18 | 1004 | 1200 | 1496)
    }
}

impl std::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "errorNum {}: {}", self.error_num, self.message)
    }
}
