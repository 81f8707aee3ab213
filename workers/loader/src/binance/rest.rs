//! The raw REST client: one GET with its weight, the used-weight header, 429/418 handling and
//! retries of transient failures. Typed calls live in [`super::market`].

use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;
use tracing::{debug, warn};

use super::limits::{WeightBudget, WeightGauges};

/// Transient failures (5xx, connection errors) are retried this many times.
pub const MAX_RETRIES: u32 = 5;
/// First backoff after a transient failure; doubles each time.
pub const BACKOFF_START: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("Binance banned this IP (HTTP 418), retry after {retry_after_secs}s: {msg}")]
    Banned { retry_after_secs: u64, msg: String },
    #[error("Binance refused {path}: HTTP {status}, code {code}: {msg}")]
    Api {
        path: String,
        status: u16,
        code: i64,
        msg: String,
    },
    #[error("{path} failed after {MAX_RETRIES} retries: {reason}")]
    Unavailable { path: String, reason: String },
    #[error("{path} answered with a body that is not JSON: {reason}")]
    Body { path: String, reason: String },
}

/// Counters a loader reports and benchmarks read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RestStats {
    pub requests: u64,
    pub weight: u64,
    pub throttled_429: u64,
    pub waited_ms: u64,
}

pub struct RestClient {
    http: reqwest::Client,
    base: String,
    budget: Mutex<WeightBudget>,
    stats: std::sync::Mutex<RestStats>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl RestClient {
    pub fn new(base_url: &str, budget: u32) -> Result<Self, reqwest::Error> {
        if let Some(g) = WeightGauges::get() {
            g.show(&WeightBudget::new(budget));
        }
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(4)
                .build()?,
            base: base_url.trim_end_matches('/').to_owned(),
            budget: Mutex::new(WeightBudget::new(budget)),
            stats: std::sync::Mutex::new(RestStats::default()),
        })
    }

    pub fn stats(&self) -> RestStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    fn count(&self, f: impl FnOnce(&mut RestStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    async fn reserve(&self, weight: u32) {
        loop {
            let wait = {
                let mut b = self.budget.lock().await;
                let wait = b.try_take(weight, now_ms());
                if let Some(g) = WeightGauges::get() {
                    g.show(&b);
                }
                wait
            };
            match wait {
                Ok(()) => return,
                Err(d) => {
                    debug!(
                        wait_ms = d.as_millis() as u64,
                        "weight budget spent; waiting for the next window"
                    );
                    self.count(|s| s.waited_ms += d.as_millis() as u64);
                    tokio::time::sleep(d).await;
                }
            }
        }
    }

    /// GET `path` with `query`, charging `weight`.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        weight: u32,
    ) -> Result<Value, RestError> {
        let url = format!("{}{}", self.base, path);
        let mut backoff = BACKOFF_START;
        let mut failures = 0;
        loop {
            self.reserve(weight).await;
            let sent_ms = now_ms();
            self.count(|s| {
                s.requests += 1;
                s.weight += u64::from(weight);
            });
            let sent = self.http.get(&url).query(query).send().await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    failures += 1;
                    if failures > MAX_RETRIES {
                        return Err(RestError::Unavailable {
                            path: path.into(),
                            reason: e.to_string(),
                        });
                    }
                    warn!(path, error = %e, "request failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
            };
            if let Some(used) = resp
                .headers()
                .get("x-mbx-used-weight-1m")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u32>().ok())
            {
                let mut b = self.budget.lock().await;
                b.observe(used, sent_ms, now_ms());
                if let Some(g) = WeightGauges::get() {
                    g.show(&b);
                }
            }
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let body = resp.text().await.unwrap_or_default();
            match status {
                200..=299 => {
                    return serde_json::from_str(&body).map_err(|e| RestError::Body {
                        path: path.into(),
                        reason: e.to_string(),
                    });
                }
                418 => {
                    return Err(RestError::Banned {
                        retry_after_secs: retry_after.unwrap_or(0),
                        msg: api_msg(&body).1,
                    });
                }
                429 => {
                    // Back off exactly as told; continuing would earn a ban.
                    let wait = Duration::from_secs(retry_after.unwrap_or(60));
                    warn!(
                        path,
                        wait_s = wait.as_secs(),
                        "HTTP 429; backing off as Retry-After says"
                    );
                    self.count(|s| {
                        s.throttled_429 += 1;
                        s.waited_ms += wait.as_millis() as u64;
                    });
                    tokio::time::sleep(wait).await;
                }
                500..=599 => {
                    failures += 1;
                    if failures > MAX_RETRIES {
                        return Err(RestError::Unavailable {
                            path: path.into(),
                            reason: format!("HTTP {status}"),
                        });
                    }
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                _ => {
                    let (code, msg) = api_msg(&body);
                    return Err(RestError::Api {
                        path: path.into(),
                        status,
                        code,
                        msg,
                    });
                }
            }
        }
    }
}

/// `{"code": -1121, "msg": "Invalid symbol."}` → (code, msg); the raw body otherwise.
fn api_msg(body: &str) -> (i64, String) {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => (
            v.get("code").and_then(Value::as_i64).unwrap_or(0),
            v.get("msg")
                .and_then(Value::as_str)
                .unwrap_or(body)
                .to_owned(),
        ),
        Err(_) => (0, body.chars().take(200).collect()),
    }
}
