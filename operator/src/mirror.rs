//! The optional status mirror: every Queue's status copied into an ArangoDB collection, for
//! dashboards and queries next to the market data (off unless `STATUS_MIRROR=true`).
//!
//! It watches Queues on its own and never blocks reconciling: changes are gathered and written
//! once per `STATUS_MIRROR_INTERVAL_MS` as one request (the document API with
//! `overwriteMode=replace`, one document per Queue keyed by its UID). A deleted Queue keeps its
//! last document, marked `deleted: true`. A failed write is logged, counted and retried with the
//! next round; the newest status wins.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::Api;
use kube::runtime::watcher;
use serde_json::{Value, json};
use streamforge_api::Queue;
use streamforge_arango::{ArangoClient, ArangoError};
use tracing::{info, warn};

/// The mirror document of `q`.
pub fn document(q: &Queue, deleted: bool) -> Option<Value> {
    let uid = q.metadata.uid.clone()?;
    let status = q.status.clone().unwrap_or_default();
    Some(json!({
        "_key": uid,
        "namespace": q.metadata.namespace,
        "name": q.metadata.name,
        "target": q.spec.target.as_str(),
        "type": q.spec.data_type,
        "symbol": q.spec.symbol,
        "timeRange": q.spec.time_range,
        "queueId": status.queue_id,
        "run": status.run,
        "phase": status.phase,
        "recordsWritten": status.records_written,
        "progress": status.progress,
        "message": status.message,
        "conditions": status.conditions,
        "generation": q.metadata.generation,
        "deleted": deleted,
    }))
}

/// Changes not yet written, newest per Queue.
#[derive(Default)]
pub struct Pending(BTreeMap<String, Value>);

impl Pending {
    pub fn observe(&mut self, event: watcher::Event<Queue>) {
        let (q, deleted) = match event {
            watcher::Event::Apply(q) | watcher::Event::InitApply(q) => (q, false),
            watcher::Event::Delete(q) => (q, true),
            watcher::Event::Init | watcher::Event::InitDone => return,
        };
        if let Some(doc) = document(&q, deleted)
            && let Some(Value::String(k)) = doc.get("_key")
        {
            self.0.insert(k.clone(), doc);
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Write everything pending in one request; on failure it stays pending.
    pub async fn flush(
        &mut self,
        client: &ArangoClient,
        collection: &str,
    ) -> Result<usize, ArangoError> {
        if self.0.is_empty() {
            return Ok(0);
        }
        let docs: Vec<Value> = self.0.values().cloned().collect();
        client.replace_documents(collection, &docs).await?;
        self.0.clear();
        Ok(docs.len())
    }
}

/// Run the mirror until the process ends.
pub async fn run(queues: Api<Queue>, client: ArangoClient, collection: String, every: Duration) {
    let mut backoff = Duration::from_secs(1);
    while let Err(e) = client.ensure_collection(&collection, false).await {
        warn!(error = %e, collection, "status mirror: collection not ready; retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
    info!(collection, "status mirror on");
    let mut events = watcher(queues, watcher::Config::default()).boxed();
    let mut pending = Pending::default();
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            ev = events.try_next() => match ev {
                Ok(Some(ev)) => pending.observe(ev),
                Ok(None) => return,
                Err(e) => warn!(error = %e, "status mirror: watch error"),
            },
            _ = tick.tick() => {
                if let Err(e) = pending.flush(&client, &collection).await {
                    warn!(error = %e, pending = pending.len(), "status mirror: write failed; retrying next round");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::QueueExt;
    use streamforge_api::{Phase, QueueStatus};
    use streamforge_arango::testserver;

    #[tokio::test]
    async fn protocol_mirror_writes_the_newest_status_once_per_round() {
        let (addr, state) =
            testserver::serve("127.0.0.1:0".parse().unwrap(), "streamforge", "root", "pw")
                .await
                .unwrap();
        let client =
            ArangoClient::new(&format!("http://{addr}"), "streamforge", "root", "pw").unwrap();
        client
            .ensure_collection("queue_status", false)
            .await
            .unwrap();
        let (req0, _) = client.counters();

        let mut a = Queue::test();
        a.metadata.uid = Some("uid-a".into());
        let mut b = Queue::test();
        b.metadata.uid = Some("uid-b".into());
        let mut pending = Pending::default();
        pending.observe(watcher::Event::Apply(a.clone()));
        a.status = Some(QueueStatus {
            phase: Some(Phase::Succeeded),
            records_written: Some(1440),
            ..QueueStatus::default()
        });
        pending.observe(watcher::Event::Apply(a));
        pending.observe(watcher::Event::Apply(b.clone()));
        pending.observe(watcher::Event::Delete(b));
        assert_eq!(pending.flush(&client, "queue_status").await.unwrap(), 2);
        assert_eq!(client.counters().0 - req0, 1, "one request per round");
        assert_eq!(pending.flush(&client, "queue_status").await.unwrap(), 0);

        let st = state.lock().unwrap();
        let docs = &st.collections["queue_status"].docs;
        assert_eq!(docs["uid-a"]["phase"], "Succeeded");
        assert_eq!(docs["uid-a"]["recordsWritten"], 1440);
        assert_eq!(docs["uid-b"]["deleted"], true);
    }

    #[tokio::test]
    async fn protocol_a_failed_round_keeps_the_changes() {
        let client = ArangoClient::new("http://127.0.0.1:9", "streamforge", "root", "pw").unwrap();
        let mut q = Queue::test();
        q.metadata.uid = Some("uid-a".into());
        let mut pending = Pending::default();
        pending.observe(watcher::Event::Apply(q));
        assert!(pending.flush(&client, "queue_status").await.is_err());
        assert_eq!(pending.len(), 1);
    }
}
