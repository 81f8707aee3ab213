//! Telemetry folding (pure): `queue-events` in, one status summary per Queue out.
//!
//! Rules, per Queue (by UID) and producer (telemetry id) within a run:
//! * an event belongs to the run it carries (`run`); one of an earlier run is stale, one of a
//!   later run starts that run's summary (the worker heard of it before the watch did); an
//!   event without a run (an older worker) counts for the current run. Clocks are not compared;
//! * `records_written` never decreases;
//! * status, message and progress follow the newest event by timestamp;
//! * a final event (`finished`, `error`, `stopped`) sticks: nothing later in the run undoes it;
//! * what one event may put in status is bounded: counts clamped to the API's int64, status
//!   words and messages cut, at most [`MAX_TRACKED_PRODUCERS`] producers per Queue (the one
//!   heard from longest ago goes first, never the main worker).
//!
//! Writes are coalesced: a Queue is *due* for a status write when it has unwritten changes and
//! its last write is at least `min_interval` old, however many events arrived. A write that fails
//! leaves the changes unwritten, and Kafka offsets are only committable up to the first event
//! not yet written, so a final event survives both a failed write and an operator restart.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use streamforge_api::event::MAX_MESSAGE_LEN;
use streamforge_api::status::MAX_PRODUCERS;
use streamforge_api::{ProducerSummary, QueueEvent};

use crate::results::Results;

/// Largest count status can hold (the API's integers are int64).
pub const MAX_RECORDS: u64 = i64::MAX as u64;
/// Longest status word kept from an event (bytes).
pub const MAX_STATUS_LEN: usize = 32;
/// Most producers followed per Queue; status lists the first [`MAX_PRODUCERS`] of them.
pub const MAX_TRACKED_PRODUCERS: usize = 2 * MAX_PRODUCERS;

/// Which Queue and run an event belongs to, looked up by its `queue_id`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunKey {
    pub namespace: String,
    pub name: String,
    /// The Queue's UID: fold state is kept per UID, and status written only to that object.
    pub uid: String,
    pub run: u32,
    pub main_telemetry_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Folded,
    /// Of an earlier run.
    Stale,
    /// No telemetry id or producer.
    Anonymous,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct ProducerFold {
    status: String,
    records: u64,
    progress: Option<f64>,
    message: Option<String>,
    last_ts: f64,
    finished: bool,
    results: Results,
}

#[derive(Debug)]
struct QueueFold {
    queue_id: String,
    key: RunKey,
    producers: BTreeMap<String, ProducerFold>,
    dirty: bool,
    last_flush: Option<Instant>,
    /// Lowest offset per partition of an event not yet written.
    pending: HashMap<i32, i64>,
    /// Same, for a write in flight.
    in_flight: HashMap<i32, i64>,
}

/// The telemetry fields of a Queue's status, ready to write.
#[derive(Clone, Debug, PartialEq)]
pub struct TelemetryStatus {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub queue_id: String,
    pub run: u32,
    pub records_written: u64,
    pub progress: Option<String>,
    pub last_event_time: Option<Time>,
    pub producers: Vec<ProducerSummary>,
    /// The main worker's results (training, graph, output path).
    pub results: Results,
}

#[derive(Debug)]
pub struct FoldState {
    min_interval: Duration,
    queues: HashMap<String, QueueFold>,
}

fn min_into(map: &mut HashMap<i32, i64>, partition: i32, offset: i64) {
    map.entry(partition)
        .and_modify(|o| *o = (*o).min(offset))
        .or_insert(offset);
}

fn to_time(ts: f64) -> Option<Time> {
    crate::time::from_epoch_secs(ts)
}

/// `text` cut to at most `max` bytes (on a character boundary), marked when cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl FoldState {
    pub fn new(min_interval: Duration) -> Self {
        Self {
            min_interval,
            queues: HashMap::new(),
        }
    }

    /// Fold one event. `ts` is the event's own timestamp, or when it was received;
    /// `position` is its Kafka partition and offset.
    pub fn fold(
        &mut self,
        queue_id: &str,
        key: &RunKey,
        ev: &QueueEvent,
        ts: f64,
        position: Option<(i32, i64)>,
    ) -> Outcome {
        let Some(source) = ev.source() else {
            return Outcome::Anonymous;
        };
        let q = self
            .queues
            .entry(key.uid.clone())
            .or_insert_with(|| QueueFold {
                queue_id: queue_id.to_owned(),
                key: key.clone(),
                producers: BTreeMap::new(),
                dirty: false,
                last_flush: None,
                pending: HashMap::new(),
                in_flight: HashMap::new(),
            });
        let current = q.key.run.max(key.run);
        let run = ev.run.unwrap_or(current);
        if run < current {
            return Outcome::Stale;
        }
        if run != q.key.run {
            // A new run starts from a clean summary.
            q.producers.clear();
        }
        q.key = RunKey { run, ..key.clone() };
        q.queue_id = queue_id.to_owned();
        if !q.producers.contains_key(source) && q.producers.len() >= MAX_TRACKED_PRODUCERS {
            let main = &q.key.main_telemetry_id;
            let oldest = q
                .producers
                .iter()
                .filter(|(id, _)| *id != main)
                .min_by(|a, b| a.1.last_ts.total_cmp(&b.1.last_ts))
                .map(|(id, _)| id.clone());
            if let Some(id) = oldest {
                q.producers.remove(&id);
            }
        }
        let p = q.producers.entry(source.to_owned()).or_default();
        if let Some(r) = ev.records_written {
            p.records = p.records.max(r.min(MAX_RECORDS));
        }
        let is_final = ev.is_final();
        let newer = ts >= p.last_ts;
        if (!p.finished && (newer || is_final)) || (p.finished && is_final && newer) {
            if let Some(s) = &ev.status {
                p.status = cut(s.as_str(), MAX_STATUS_LEN);
            } else if is_final {
                p.status = "finished".into();
            }
            if let Some(m) = &ev.message {
                p.message = Some(cut(m, MAX_MESSAGE_LEN));
            }
            if let Some(pr) = ev.progress.filter(|v| v.is_finite()) {
                p.progress = Some(pr.clamp(0.0, 1.0));
            }
            p.results.merge(&ev.extra);
            p.finished |= is_final;
        }
        p.last_ts = p.last_ts.max(ts);
        q.dirty = true;
        if let Some((partition, offset)) = position {
            min_into(&mut q.pending, partition, offset);
        }
        Outcome::Folded
    }

    /// UIDs of Queues with unwritten changes whose last write is old enough.
    pub fn due(&self, now: Instant) -> Vec<String> {
        self.queues
            .iter()
            .filter(|(_, q)| {
                q.dirty
                    && q.in_flight.is_empty()
                    && q.last_flush
                        .is_none_or(|t| now.duration_since(t) >= self.min_interval)
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// When the next Queue becomes due, if any has unwritten changes.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        self.queues
            .values()
            .filter(|q| q.dirty)
            .map(|q| q.last_flush.map_or(now, |t| t + self.min_interval))
            .min()
    }

    /// Take the summary of the Queue `uid` for writing; call [`Self::written`] or
    /// [`Self::write_failed`] when the write is over.
    pub fn take(&mut self, uid: &str, now: Instant) -> Option<TelemetryStatus> {
        let q = self.queues.get_mut(uid)?;
        if !q.dirty {
            return None;
        }
        q.dirty = false;
        q.last_flush = Some(now);
        for (p, o) in std::mem::take(&mut q.pending) {
            min_into(&mut q.in_flight, p, o);
        }
        Some(summarize(q))
    }

    pub fn written(&mut self, uid: &str) {
        if let Some(q) = self.queues.get_mut(uid) {
            q.in_flight.clear();
        }
    }

    /// The write failed: its changes are unwritten again.
    pub fn write_failed(&mut self, uid: &str) {
        if let Some(q) = self.queues.get_mut(uid) {
            q.dirty = true;
            for (p, o) in std::mem::take(&mut q.in_flight) {
                min_into(&mut q.pending, p, o);
            }
        }
    }

    /// Forget a Queue that no longer exists (its events are skipped from now on).
    pub fn forget(&mut self, uid: &str) {
        self.queues.remove(uid);
    }

    /// The offset up to which `partition` may be committed, given that `next` is the offset
    /// after the last event consumed from it: the first event not yet written, else `next`.
    pub fn committable(&self, partition: i32, next: i64) -> i64 {
        self.queues
            .values()
            .flat_map(|q| [q.pending.get(&partition), q.in_flight.get(&partition)])
            .flatten()
            .fold(next, |acc, &o| acc.min(o))
    }

    pub fn queues(&self) -> usize {
        self.queues.len()
    }
}

fn summarize(q: &QueueFold) -> TelemetryStatus {
    let main = q.producers.get(&q.key.main_telemetry_id);
    let records_written = main
        .map(|p| p.records)
        .unwrap_or_else(|| q.producers.values().map(|p| p.records).max().unwrap_or(0));
    let progress = main.and_then(|p| {
        if p.finished && p.status == "finished" {
            Some(1.0)
        } else {
            p.progress
        }
    });
    let last_ts = q.producers.values().map(|p| p.last_ts).fold(0.0, f64::max);
    // The main worker first, then the most recently heard from, bounded.
    let mut ordered: Vec<(&String, &ProducerFold)> = q.producers.iter().collect();
    ordered.sort_by(|a, b| {
        let main_a = *a.0 == q.key.main_telemetry_id;
        let main_b = *b.0 == q.key.main_telemetry_id;
        main_b
            .cmp(&main_a)
            .then(b.1.last_ts.total_cmp(&a.1.last_ts))
            .then(a.0.cmp(b.0))
    });
    let producers = ordered
        .into_iter()
        .take(MAX_PRODUCERS)
        .map(|(id, p)| ProducerSummary {
            telemetry_id: id.clone(),
            status: p.status.clone(),
            records_written: p.records,
            progress: p.progress,
            message: p.message.clone(),
            last_event_time: to_time(p.last_ts),
            finished: p.finished,
            run: Some(q.key.run),
        })
        .collect();
    TelemetryStatus {
        namespace: q.key.namespace.clone(),
        name: q.key.name.clone(),
        uid: q.key.uid.clone(),
        queue_id: q.queue_id.clone(),
        run: q.key.run,
        records_written,
        progress: progress.map(|f| format!("{}%", (f * 100.0).floor() as u32)),
        last_event_time: to_time(last_ts),
        producers,
        results: main.map(|p| p.results.clone()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamforge_api::EventStatus;

    const Q: &str = "wf-btcusdt-api_candles_5m-20240801-a1b2c3";
    const MAIN: &str = "loader-producer__a1b2c3";
    const UID: &str = "a1b2c3d4-1111-4222-8333-444455556666";

    fn key(run: u32) -> RunKey {
        RunKey {
            namespace: "default".into(),
            name: "btc".into(),
            uid: UID.into(),
            run,
            main_telemetry_id: MAIN.into(),
        }
    }

    fn ev(source: &str, status: EventStatus, records: Option<u64>) -> QueueEvent {
        let mut e = QueueEvent::new(Q, source, status);
        e.records_written = records;
        e
    }

    #[test]
    fn the_main_workers_training_reports_reach_status_and_a_late_epoch_does_not_undo_the_end() {
        let mut f = FoldState::new(Duration::ZERO);
        let with = |status, ts: f64, extra: serde_json::Value| {
            let mut e = ev(MAIN, status, None);
            e.timestamp = Some(ts);
            e.extra = serde_json::from_value(extra).unwrap();
            e
        };
        let epoch = with(
            EventStatus::Training,
            10.0,
            serde_json::json!({"epoch": 3, "epochs": 5, "val_accuracy": 0.6}),
        );
        f.fold(Q, &key(1), &epoch, 10.0, None);
        let done = with(
            EventStatus::Finished,
            20.0,
            serde_json::json!({"epoch": 5, "test_accuracy": 0.7, "beats_baselines": false}),
        );
        f.fold(Q, &key(1), &done, 20.0, None);
        // A sink's fields never land in the main worker's blocks; an epoch delivered late
        // does not move a finished run back.
        let sink = {
            let mut e = ev("lake-connector__a1b2c3", EventStatus::Loading, None);
            e.extra = serde_json::from_value(serde_json::json!({"test_accuracy": 0.1})).unwrap();
            e
        };
        f.fold(Q, &key(1), &sink, 21.0, None);
        let late = with(EventStatus::Training, 15.0, serde_json::json!({"epoch": 4}));
        f.fold(Q, &key(1), &late, 15.0, None);
        let t = f
            .take(UID, Instant::now())
            .unwrap()
            .results
            .training
            .unwrap();
        assert_eq!(t.epoch, Some(5));
        assert_eq!(t.epochs, Some(5));
        assert_eq!(t.val_accuracy, Some(0.6));
        assert_eq!(t.test_accuracy, Some(0.7));
        assert_eq!(t.beats_baselines, Some(false));
    }

    #[test]
    fn counters_never_go_back_and_state_follows_timestamps() {
        let mut s = FoldState::new(Duration::from_secs(1));
        let now = Instant::now();
        s.fold(
            Q,
            &key(1),
            &ev(MAIN, EventStatus::Loading, Some(500)),
            1002.0,
            Some((0, 10)),
        );
        // Out of order: older and smaller.
        s.fold(
            Q,
            &key(1),
            &ev(MAIN, EventStatus::Started, Some(0)),
            1001.0,
            Some((0, 9)),
        );
        let t = s.take(UID, now).unwrap();
        assert_eq!(t.records_written, 500);
        assert_eq!(t.producers[0].status, "loading");
        assert_eq!(t.producers[0].run, Some(1));
    }

    #[test]
    fn final_events_stick() {
        let mut s = FoldState::new(Duration::from_secs(1));
        let mut fin = ev(MAIN, EventStatus::Finished, Some(1000));
        fin.finished = Some(true);
        s.fold(Q, &key(1), &fin, 1005.0, None);
        // A late progress event, even with a newer clock, does not undo the final state.
        s.fold(
            Q,
            &key(1),
            &ev(MAIN, EventStatus::Loading, Some(900)),
            1006.0,
            None,
        );
        let t = s.take(UID, Instant::now()).unwrap();
        assert_eq!(t.producers[0].status, "finished");
        assert!(t.producers[0].finished);
        assert_eq!(t.records_written, 1000);
        assert_eq!(t.progress.as_deref(), Some("100%"));
    }

    #[test]
    fn a_final_event_wins_over_a_newer_non_final_one() {
        let mut s = FoldState::new(Duration::from_secs(1));
        s.fold(
            Q,
            &key(1),
            &ev(MAIN, EventStatus::Loading, Some(10)),
            1010.0,
            None,
        );
        let mut err = ev(MAIN, EventStatus::Error, None);
        err.message = Some("418 banned".into());
        s.fold(Q, &key(1), &err, 1009.0, None);
        let t = s.take(UID, Instant::now()).unwrap();
        assert_eq!(t.producers[0].status, "error");
        assert_eq!(t.producers[0].message.as_deref(), Some("418 banned"));
    }

    #[test]
    fn writes_are_coalesced_per_interval() {
        let mut s = FoldState::new(Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..100 {
            s.fold(
                Q,
                &key(1),
                &ev(MAIN, EventStatus::Loading, Some(i)),
                1001.0 + i as f64 / 100.0,
                None,
            );
        }
        assert_eq!(s.due(t0), vec![UID.to_string()]);
        assert!(s.take(UID, t0).is_some());
        s.written(UID);
        s.fold(
            Q,
            &key(1),
            &ev(MAIN, EventStatus::Loading, Some(200)),
            1003.0,
            None,
        );
        assert!(s.due(t0 + Duration::from_millis(999)).is_empty());
        assert_eq!(
            s.next_due(t0 + Duration::from_millis(10)),
            Some(t0 + Duration::from_secs(1))
        );
        assert_eq!(s.due(t0 + Duration::from_secs(1)).len(), 1);
    }

    #[test]
    fn offsets_commit_only_up_to_the_first_unwritten_event() {
        let mut s = FoldState::new(Duration::from_secs(1));
        let now = Instant::now();
        s.fold(
            Q,
            &key(1),
            &ev(MAIN, EventStatus::Loading, Some(1)),
            1001.0,
            Some((0, 7)),
        );
        s.fold(
            Q,
            &key(1),
            &ev(MAIN, EventStatus::Loading, Some(2)),
            1001.0,
            Some((0, 8)),
        );
        assert_eq!(s.committable(0, 9), 7);
        assert_eq!(s.committable(1, 3), 3);
        s.take(UID, now).unwrap();
        assert_eq!(s.committable(0, 9), 7, "in flight is not yet written");
        s.write_failed(UID);
        assert_eq!(s.committable(0, 9), 7);
        assert!(
            !s.due(now + Duration::from_secs(1)).is_empty(),
            "a failed write is retried"
        );
        s.take(UID, now + Duration::from_secs(1)).unwrap();
        s.written(UID);
        assert_eq!(s.committable(0, 9), 9);
    }

    fn in_run(mut e: QueueEvent, run: u32) -> QueueEvent {
        e.run = Some(run);
        e
    }

    #[test]
    fn a_new_run_starts_clean_and_old_runs_events_are_stale_whatever_their_clocks() {
        let mut s = FoldState::new(Duration::from_secs(1));
        let mut err = in_run(ev(MAIN, EventStatus::Error, None), 1);
        err.finished = Some(true);
        s.fold(Q, &key(1), &err, 1001.0, None);
        // Run 1's worker on a node whose clock runs ahead: its late event is still run 1's.
        assert_eq!(
            s.fold(
                Q,
                &key(2),
                &in_run(ev(MAIN, EventStatus::Loading, Some(5)), 1),
                9999.0,
                None
            ),
            Outcome::Stale
        );
        // Run 2's worker on a node whose clock runs behind: its events count.
        assert_eq!(
            s.fold(
                Q,
                &key(2),
                &in_run(ev(MAIN, EventStatus::Started, Some(0)), 2),
                10.0,
                None
            ),
            Outcome::Folded
        );
        let t = s.take(UID, Instant::now()).unwrap();
        assert_eq!(t.run, 2);
        assert_eq!(t.producers[0].status, "started");
        assert!(!t.producers[0].finished);
    }

    #[test]
    fn a_worker_ahead_of_the_watch_opens_its_run() {
        let mut s = FoldState::new(Duration::from_secs(1));
        s.fold(
            Q,
            &key(1),
            &in_run(ev(MAIN, EventStatus::Finished, Some(9)), 1),
            1.0,
            None,
        );
        // The index still says run 1; the run-2 worker already reports.
        s.fold(
            Q,
            &key(1),
            &in_run(ev(MAIN, EventStatus::Started, Some(0)), 2),
            2.0,
            None,
        );
        // A run-1 event that arrives after it is stale, though the index says run 1.
        assert_eq!(
            s.fold(
                Q,
                &key(1),
                &in_run(ev(MAIN, EventStatus::Loading, Some(7)), 1),
                3.0,
                None
            ),
            Outcome::Stale
        );
        let t = s.take(UID, Instant::now()).unwrap();
        assert_eq!((t.run, t.records_written), (2, 0));
        assert_eq!(t.producers[0].run, Some(2));
    }

    #[test]
    fn a_hostile_event_is_clamped_to_what_status_can_hold() {
        let mut s = FoldState::new(Duration::from_secs(1));
        let raw = format!(
            r#"{{"queue_id":"{Q}","telemetry_id":"{MAIN}","records_written":18446744073709551615,"status":"{}","progress":1e308}}"#,
            "x".repeat(1 << 20)
        );
        let e = QueueEvent::from_json(raw.as_bytes()).unwrap();
        assert_eq!(s.fold(Q, &key(1), &e, 1.0, None), Outcome::Folded);
        let t = s.take(UID, Instant::now()).unwrap();
        assert_eq!(t.records_written, i64::MAX as u64);
        assert!(t.producers[0].status.len() <= MAX_STATUS_LEN + 3);
        assert_eq!(t.producers[0].progress, Some(1.0));
        assert!(serde_json::to_string(&t.producers).unwrap().len() < 4096);
    }

    #[test]
    fn many_telemetry_ids_keep_a_queues_state_bounded_and_the_main_worker() {
        let mut s = FoldState::new(Duration::from_secs(1));
        s.fold(
            Q,
            &key(1),
            &ev(MAIN, EventStatus::Loading, Some(1)),
            1.0,
            None,
        );
        for i in 0..10_000 {
            s.fold(
                Q,
                &key(1),
                &ev(&format!("random__{i}"), EventStatus::Loading, None),
                2.0 + f64::from(i),
                None,
            );
        }
        let q = s.queues.get(UID).unwrap();
        assert_eq!(q.producers.len(), MAX_TRACKED_PRODUCERS);
        assert!(q.producers.contains_key(MAIN));
        assert!(q.producers.contains_key("random__9999"));
        assert!(!q.producers.contains_key("random__0"));
    }

    #[test]
    fn a_recreated_queue_of_the_same_name_starts_from_nothing() {
        let mut s = FoldState::new(Duration::from_secs(1));
        s.fold(
            Q,
            &key(1),
            &ev(MAIN, EventStatus::Loading, Some(500)),
            1.0,
            None,
        );
        let mut new = key(1);
        new.uid = "d4e5f6a7-0000-4000-8000-000000000000".into();
        let q2 = "wf-btcusdt-api_candles_5m-20240801-d4e5f6";
        let mut e = ev("loader-producer__d4e5f6", EventStatus::Started, Some(0));
        e.queue_id = q2.into();
        s.fold(q2, &new, &e, 2.0, None);
        let t = s.take(&new.uid, Instant::now()).unwrap();
        assert_eq!(t.records_written, 0);
        assert_eq!(t.queue_id, q2);
        assert_eq!(s.queues(), 2);
    }

    #[test]
    fn producers_are_bounded_with_the_main_one_first() {
        let mut s = FoldState::new(Duration::from_secs(1));
        s.fold(
            Q,
            &key(1),
            &ev(MAIN, EventStatus::Loading, Some(1)),
            1001.0,
            None,
        );
        for i in 0..40 {
            s.fold(
                Q,
                &key(1),
                &ev(&format!("x__{i}"), EventStatus::Loading, Some(i)),
                1002.0 + i as f64,
                None,
            );
        }
        assert_eq!(
            s.fold(
                Q,
                &key(1),
                &QueueEvent::new(Q, "", EventStatus::Loading),
                1.0,
                None
            ),
            Outcome::Anonymous
        );
        let t = s.take(UID, Instant::now()).unwrap();
        assert_eq!(t.producers.len(), MAX_PRODUCERS);
        assert_eq!(t.producers[0].telemetry_id, MAIN);
        assert_eq!(t.producers[1].telemetry_id, "x__39");
        assert_eq!(t.records_written, 1);
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let mut s = FoldState::new(Duration::from_secs(1));
        let mut e = ev(MAIN, EventStatus::Loading, None);
        e.message = Some("ж".repeat(2000));
        s.fold(Q, &key(1), &e, 1001.0, None);
        let t = s.take(UID, Instant::now()).unwrap();
        assert!(t.producers[0].message.as_ref().unwrap().len() <= MAX_MESSAGE_LEN + 3);
    }
}
