//! `json_feed`: follow a JSON feed and write every message as it came to the data topic, keyed
//! by the value at the source's key path. Over WebSocket each text (or binary) frame is a
//! message; the connection is replaced when it drops, after a capped, doubling backoff, and
//! each drop and reconnect is reported on queue-events. A connection that stays open but falls
//! silent is pinged after a keepalive interval and replaced when not even a pong comes back
//! within a second one. Over HTTP the endpoint is polled every
//! `pollSeconds`: an array answer is one message per element (each as written), any other
//! answer one message; a message repeated byte for byte from the previous answer is not
//! written (or dead-lettered) again. Messages that are not JSON or have no key go to the
//! dead-letter topic. The feed runs until stopped or until TIME_RANGE's end.
//!
//! A first connection or poll that is refused (HTTP 4xx but 408 and 429) is permanent: the
//! URL or its access is wrong. Later failures are waited out.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use streamforge_api::EventStatus;
use streamforge_kit::telemetry::Reporter;
use streamforge_loader::historical::Progress;
use streamforge_loader::sink::{RecordSink, SinkError};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::{info, warn};

use crate::config::{FeedPlan, Location};
use crate::dlq::{DeadLetter, DeadLetterSink};
use crate::keypath::key_at;

/// First wait before reconnecting a dropped WebSocket; it doubles on each failure.
pub const BACKOFF_START: Duration = Duration::from_secs(1);
/// Longest wait between two connection attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection that lived this long resets the backoff.
pub const STABLE_AFTER: Duration = Duration::from_secs(60);
/// Longest an HTTP poll may take.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Retrying cannot help (the first connection or poll was refused).
    #[error("{url}: {reason}")]
    Refused { url: String, reason: String },
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// What the feed did, for the final event.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FeedReport {
    pub messages: u64,
    pub dead_letters: u64,
    /// WebSocket connections replaced after the first.
    pub reconnects: u64,
    pub polls: u64,
    pub poll_failures: u64,
    /// HTTP: messages repeated unchanged from the previous answer, not written again.
    pub repeats_skipped: u64,
    /// The feed ended at TIME_RANGE's end (else it was stopped).
    pub reached_end: bool,
}

/// One feed run.
pub struct Feed<'a> {
    pub plan: &'a FeedPlan,
    pub sink: &'a mut dyn RecordSink,
    pub letters: &'a mut dyn DeadLetterSink,
    pub progress: &'a watch::Sender<Progress>,
    /// Becomes true on `stop` or SIGTERM.
    pub stop: watch::Receiver<bool>,
    /// TIME_RANGE as `[start, end)` epoch ms: the feed waits for the start and ends at the end.
    pub range: Option<(i64, i64)>,
    /// Where drops and reconnects are reported; none in tests that have no telemetry.
    pub reporter: Option<&'a Reporter>,
    /// WebSocket: silent this long, the server is pinged; silent twice this long (no pong
    /// either), the connection is replaced.
    pub keepalive: Duration,
}

enum Step {
    Message(Vec<u8>),
    Ping(tungstenite::Bytes),
    /// A frame that carries no message (a pong): the connection is alive.
    Heard,
    /// Nothing heard for a keepalive interval.
    Quiet,
    Dropped(String),
    End {
        reached: bool,
    },
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The instant epoch time `ms` is reached.
fn instant_at(ms: i64) -> Instant {
    let ahead = u64::try_from(ms.saturating_sub(now_ms())).unwrap_or(0);
    Instant::now() + Duration::from_millis(ahead)
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Whether a failed request was refused (4xx but 408 and 429).
fn refused(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

impl Feed<'_> {
    /// Follow the feed until stopped or TIME_RANGE's end.
    pub async fn follow(mut self) -> Result<FeedReport, FeedError> {
        let mut report = FeedReport::default();
        if let Some((start, _)) = self.range.filter(|(s, _)| *s > now_ms()) {
            info!(start, "waiting for TIME_RANGE's start");
            tokio::select! {
                () = tokio::time::sleep_until(instant_at(start)) => {}
                () = stopped(&mut self.stop) => return Ok(report),
            }
        }
        let end = self.range.map(|(_, e)| instant_at(e));
        match self.plan.location.clone() {
            Location::WebSocket(url) => self.websocket(&url, end, &mut report).await?,
            Location::Http(url) => self.poll(&url, end, &mut report).await?,
            Location::S3 { .. } => {
                return Err(FeedError::Refused {
                    url: self.plan.url.clone(),
                    reason: "an S3 object is not a feed".into(),
                });
            }
        }
        self.sink.flush().await?;
        Ok(report)
    }

    async fn tell(&self, message: String, report: &FeedReport) {
        info!(%message, "feed");
        if let Some(r) = self.reporter {
            let extra = serde_json::json!({ "reconnects": report.reconnects });
            r.report(
                EventStatus::Loading,
                message,
                Some(report.messages),
                Some(extra),
            )
            .await;
        }
    }

    async fn websocket(
        &mut self,
        url: &str,
        end: Option<Instant>,
        report: &mut FeedReport,
    ) -> Result<(), FeedError> {
        let mut backoff = BACKOFF_START;
        let mut connected_once = false;
        loop {
            let attempt = tokio::select! {
                r = tokio_tungstenite::connect_async(url) => r,
                () = stopped(&mut self.stop) => return Ok(()),
                () = until(end) => { report.reached_end = true; return Ok(()) }
            };
            match attempt {
                Ok((mut ws, _)) => {
                    if connected_once {
                        report.reconnects += 1;
                        crate::metrics::reconnect();
                        self.tell(
                            format!("feed reconnected (reconnect {})", report.reconnects),
                            report,
                        )
                        .await;
                    } else {
                        info!(url, "feed connected");
                    }
                    connected_once = true;
                    let since = Instant::now();
                    // When a frame last came, and whether the server was pinged since.
                    let mut heard = since;
                    let mut pinged = false;
                    let why = loop {
                        let quiet_at = heard + self.keepalive * if pinged { 2 } else { 1 };
                        let step = tokio::select! {
                            m = ws.next() => match m {
                                Some(Ok(Message::Text(t))) => Step::Message(t.as_bytes().to_vec()),
                                Some(Ok(Message::Binary(b))) => Step::Message(b.to_vec()),
                                Some(Ok(Message::Ping(p))) => Step::Ping(p),
                                Some(Ok(Message::Close(f))) => Step::Dropped(format!("closed by the server: {f:?}")),
                                Some(Ok(_)) => Step::Heard,
                                Some(Err(e)) => Step::Dropped(e.to_string()),
                                None => Step::Dropped("the connection ended".into()),
                            },
                            () = tokio::time::sleep_until(quiet_at) => if pinged {
                                Step::Dropped(format!(
                                    "nothing heard for {}s, not even a pong",
                                    (self.keepalive * 2).as_secs_f64()
                                ))
                            } else {
                                Step::Quiet
                            },
                            () = stopped(&mut self.stop) => Step::End { reached: false },
                            () = until(end) => Step::End { reached: true },
                        };
                        if matches!(step, Step::Message(_) | Step::Ping(_) | Step::Heard) {
                            heard = Instant::now();
                            pinged = false;
                        }
                        match step {
                            Step::Message(m) => self.accept(&m, None, report).await?,
                            Step::Ping(p) => {
                                let _ = ws.send(Message::Pong(p)).await;
                            }
                            Step::Heard => {}
                            Step::Quiet => {
                                pinged = true;
                                let _ = ws.send(Message::Ping(tungstenite::Bytes::new())).await;
                            }
                            Step::Dropped(why) => break why,
                            Step::End { reached } => {
                                report.reached_end = reached;
                                let _ = ws.close(None).await;
                                return Ok(());
                            }
                        }
                    };
                    if since.elapsed() >= STABLE_AFTER {
                        backoff = BACKOFF_START;
                    }
                    warn!(reason = %why, "feed connection dropped");
                    self.tell(
                        format!(
                            "feed connection dropped ({why}); reconnecting in {}s",
                            backoff.as_secs_f64()
                        ),
                        report,
                    )
                    .await;
                }
                Err(e) => {
                    let status = match &e {
                        tungstenite::Error::Http(resp) => Some(resp.status().as_u16()),
                        _ => None,
                    };
                    if !connected_once && status.is_some_and(refused) {
                        return Err(FeedError::Refused {
                            url: url.to_owned(),
                            reason: format!("the WebSocket handshake was refused: {e}"),
                        });
                    }
                    warn!(error = %e, wait_s = backoff.as_secs_f64(), "feed connection failed");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = stopped(&mut self.stop) => return Ok(()),
                () = until(end) => { report.reached_end = true; return Ok(()) }
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    async fn poll(
        &mut self,
        url: &str,
        end: Option<Instant>,
        report: &mut FeedReport,
    ) -> Result<(), FeedError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(POLL_TIMEOUT)
            .build()
            .map_err(|e| FeedError::Refused {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        let mut ticker = tokio::time::interval(self.plan.poll);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut previous: HashSet<u64> = HashSet::new();
        loop {
            let answer = tokio::select! {
                _ = ticker.tick() => {
                    tokio::select! {
                        r = get(&client, url) => r,
                        () = stopped(&mut self.stop) => return Ok(()),
                    }
                }
                () = stopped(&mut self.stop) => return Ok(()),
                () = until(end) => { report.reached_end = true; return Ok(()) }
            };
            report.polls += 1;
            let body = match answer {
                Ok(body) => body,
                Err((status, reason)) => {
                    report.poll_failures += 1;
                    if report.polls == 1 && status.is_some_and(refused) {
                        return Err(FeedError::Refused {
                            url: url.to_owned(),
                            reason,
                        });
                    }
                    warn!(%reason, "feed poll failed");
                    continue;
                }
            };
            let mut seen = HashSet::new();
            for message in split(&body) {
                self.accept(message, Some((&previous, &mut seen)), report)
                    .await?;
            }
            previous = seen;
        }
    }

    /// Write one message, or dead-letter it. `repeats`: the previous answer's messages (by
    /// hash of their bytes) and this answer's so far; a repeat is neither written nor
    /// dead-lettered again.
    async fn accept(
        &mut self,
        message: &[u8],
        repeats: Option<(&HashSet<u64>, &mut HashSet<u64>)>,
        report: &mut FeedReport,
    ) -> Result<(), SinkError> {
        let seq = report.messages + report.dead_letters + report.repeats_skipped + 1;
        let letter = |reason: String, category| DeadLetter {
            source: self.plan.url.clone(),
            offset: i64::try_from(seq).unwrap_or(i64::MAX),
            key: None,
            payload: message.to_vec(),
            reason,
            category,
        };
        if let Some((previous, seen)) = repeats {
            let mut h = DefaultHasher::new();
            message.hash(&mut h);
            let h = h.finish();
            seen.insert(h);
            if previous.contains(&h) {
                report.repeats_skipped += 1;
                return Ok(());
            }
        }
        let value: Value = match serde_json::from_slice(message) {
            Ok(v) => v,
            Err(e) => {
                let l = letter(format!("the message is not JSON: {e}"), "json");
                self.letters.send(l).await?;
                report.dead_letters += 1;
                return Ok(());
            }
        };
        let key = match key_at(&value, &self.plan.key_field) {
            Ok(k) => k,
            Err(e) => {
                let l = letter(e.to_string(), "key");
                self.letters.send(l).await?;
                report.dead_letters += 1;
                return Ok(());
            }
        };
        self.sink.write(key, message.to_vec()).await?;
        crate::metrics::record("message");
        report.messages += 1;
        let fraction = self.range.map_or(0.0, |(s, e)| {
            ((now_ms() - s) as f64 / (e - s).max(1) as f64).clamp(0.0, 1.0)
        });
        self.progress.send_replace(Progress {
            records: report.messages,
            position: None,
            fraction,
        });
        Ok(())
    }
}

/// One HTTP poll: the body, or the status (when there was one) and why not.
async fn get(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, (Option<u16>, String)> {
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| (None, crate::fetch::chain(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err((Some(status.as_u16()), format!("HTTP {status}")));
    }
    resp.bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| (None, crate::fetch::chain(&e)))
}

/// The messages of an HTTP answer: each element of a JSON array as written, else the whole
/// answer (which may not be JSON: it is then dead-lettered).
pub fn split(body: &[u8]) -> Vec<&[u8]> {
    let trimmed = body.trim_ascii_start();
    if trimmed.first() == Some(&b'[')
        && let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(body)
    {
        return items.into_iter().map(|r| r.get().as_bytes()).collect();
    }
    vec![body]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_array_answer_is_one_message_per_element_as_written() {
        let body = br#" [ {"id": 1,  "p":"1.0"}, {"id":2} ] "#;
        assert_eq!(
            split(body),
            [&br#"{"id": 1,  "p":"1.0"}"#[..], &br#"{"id":2}"#[..]]
        );
        assert_eq!(split(br#"{"id":1}"#), [&br#"{"id":1}"#[..]]);
        assert_eq!(split(b"[oops"), [&b"[oops"[..]]);
    }

    #[test]
    fn refusals_are_4xx_but_timeouts_and_throttling() {
        assert!(refused(404) && refused(401));
        assert!(!refused(429) && !refused(408) && !refused(503));
    }
}
