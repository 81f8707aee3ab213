//! Queue id → the Queue (by UID) and run its telemetry belongs to (pure).
//!
//! Fed by the Queue watcher's events ([`QueueIndex::on_event`]), read by the telemetry folder.
//! A Queue is indexed under the `status.queueId` the reconciler wrote; a Queue deleted and made
//! again under the same name has a new UID and a new queue id, so the old one's events find
//! nothing. A watch restart rebuilds the index from the relist, dropping Queues that went while
//! the watch was down.

use std::collections::HashMap;

use kube::ResourceExt;
use kube::runtime::watcher;
use streamforge_api::{Queue, naming};

use crate::fold::RunKey;

#[derive(Debug, Default)]
pub struct QueueIndex {
    by_id: HashMap<String, RunKey>,
    /// UID → queue id, to drop a Queue's old entry when its queue id changes or it goes.
    by_uid: HashMap<String, String>,
    /// Queues listed since the watch (re)started, swapped in when the list is complete.
    relist: Option<Vec<(String, RunKey)>>,
}

/// The index entry of `queue`: its queue id and run key, once the reconciler gave it an id.
pub fn entry(queue: &Queue) -> Option<(String, RunKey)> {
    let uid = queue.uid()?;
    let status = queue.status.as_ref()?;
    let queue_id = status.queue_id.clone().filter(|s| !s.is_empty())?;
    let key = RunKey {
        namespace: queue.namespace().unwrap_or_default(),
        name: queue.name_any(),
        uid: uid.clone(),
        run: status.run.unwrap_or(1),
        main_telemetry_id: status
            .telemetry_id
            .clone()
            .unwrap_or_else(|| naming::telemetry_id(queue.spec.target, &uid)),
    };
    Some((queue_id, key))
}

impl QueueIndex {
    pub fn get(&self, queue_id: &str) -> Option<&RunKey> {
        self.by_id.get(queue_id)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// A Queue was added or changed.
    pub fn apply(&mut self, queue: &Queue) {
        let Some(uid) = queue.uid() else {
            return;
        };
        self.remove_uid(&uid);
        if let Some((queue_id, key)) = entry(queue) {
            self.insert(queue_id, key);
        }
    }

    /// A Queue is gone.
    pub fn delete(&mut self, queue: &Queue) {
        if let Some(uid) = queue.uid() {
            self.remove_uid(&uid);
        }
    }

    /// Replace everything with `queues` (a complete list).
    pub fn reset<'a>(&mut self, queues: impl IntoIterator<Item = &'a Queue>) {
        self.by_id.clear();
        self.by_uid.clear();
        for (queue_id, key) in queues.into_iter().filter_map(entry) {
            self.insert(queue_id, key);
        }
    }

    /// Follow one watcher event.
    pub fn on_event(&mut self, event: &watcher::Event<Queue>) {
        match event {
            watcher::Event::Apply(q) => self.apply(q),
            watcher::Event::Delete(q) => self.delete(q),
            watcher::Event::Init => self.relist = Some(Vec::new()),
            watcher::Event::InitApply(q) => {
                if let (Some(list), Some(e)) = (self.relist.as_mut(), entry(q)) {
                    list.push(e);
                }
            }
            watcher::Event::InitDone => {
                let list = self.relist.take().unwrap_or_default();
                self.by_id.clear();
                self.by_uid.clear();
                for (queue_id, key) in list {
                    self.insert(queue_id, key);
                }
            }
        }
    }

    fn insert(&mut self, queue_id: String, key: RunKey) {
        if let Some(previous) = self.by_id.get(&queue_id)
            && previous.uid != key.uid
        {
            self.by_uid.remove(&previous.uid);
        }
        self.by_uid.insert(key.uid.clone(), queue_id.clone());
        self.by_id.insert(queue_id, key);
    }

    fn remove_uid(&mut self, uid: &str) {
        if let Some(queue_id) = self.by_uid.remove(uid)
            && self.by_id.get(&queue_id).is_some_and(|k| k.uid == uid)
        {
            self.by_id.remove(&queue_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::QueueExt;
    use streamforge_api::Phase;

    const QID: &str = "wf-btcusdt-api_candles_5m-20240801-a1b2c3";

    fn running(uid: &str, run: u32) -> Queue {
        let mut q = Queue::test().in_phase(Phase::Running, run, true);
        q.metadata.uid = Some(uid.into());
        q
    }

    #[test]
    fn finds_a_queue_by_the_id_its_status_gives() {
        let mut idx = QueueIndex::default();
        let q = running("uid-1", 2);
        idx.apply(&q);
        let key = idx.get(QID).unwrap();
        assert_eq!(
            (key.name.as_str(), key.uid.as_str(), key.run),
            ("btc-candles", "uid-1", 2)
        );
        assert_eq!(key.main_telemetry_id, "loader-producer__a1b2c3");
        // Not reconciled yet: no queue id, nothing to find.
        let mut fresh = Queue::test();
        fresh.metadata.uid = Some("uid-2".into());
        idx.apply(&fresh);
        assert_eq!(idx.len(), 1);
    }

    #[test]
    fn a_deleted_and_recreated_queue_of_the_same_name_is_another_entry() {
        let mut idx = QueueIndex::default();
        let old = running("uid-old", 1);
        idx.apply(&old);
        let mut new = running("uid-new", 1);
        new.status.as_mut().unwrap().queue_id =
            Some("wf-btcusdt-api_candles_5m-20240801-d4e5f6".into());
        idx.delete(&old);
        idx.apply(&new);
        assert!(idx.get(QID).is_none(), "the old queue id finds nothing");
        assert_eq!(
            idx.get("wf-btcusdt-api_candles_5m-20240801-d4e5f6")
                .unwrap()
                .uid,
            "uid-new"
        );
        // A late delete of the old object does not remove the new one.
        idx.delete(&old);
        assert_eq!(idx.len(), 1);
    }

    #[test]
    fn a_run_change_is_seen_and_a_relist_drops_what_went_meanwhile() {
        let mut idx = QueueIndex::default();
        idx.apply(&running("uid-1", 1));
        idx.apply(&running("uid-1", 2));
        assert_eq!(idx.get(QID).unwrap().run, 2);
        assert_eq!(idx.len(), 1);

        let mut other = running("uid-9", 1);
        other.status.as_mut().unwrap().queue_id = Some("dummy-q-9".into());
        idx.on_event(&watcher::Event::Init);
        idx.on_event(&watcher::Event::InitApply(other));
        // Until the list is complete, the old entries still answer.
        assert!(idx.get(QID).is_some());
        idx.on_event(&watcher::Event::InitDone);
        assert!(idx.get(QID).is_none());
        assert_eq!(idx.get("dummy-q-9").unwrap().uid, "uid-9");
    }
}
