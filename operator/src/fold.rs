//! Telemetry folding (pure): `queue-events` in, one status summary per Queue out.
//!
//! Rules, per producer (telemetry id) within a run:
//! * `records_written` never decreases;
//! * status, message and progress follow the newest event by timestamp;
//! * a final event (`finished`, `error`, `stopped`) sticks: nothing later in the run undoes it.
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

/// Events stamped this long before a later run started belong to an earlier run.
pub const STALE_SLACK_SECS: f64 = 5.0;

/// Which Queue and run an event belongs to, looked up by its `queue_id`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunKey {
    pub namespace: String,
    pub name: String,
    pub run: u32,
    /// Epoch seconds the run started, when known.
    pub run_started: Option<f64>,
    pub main_telemetry_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Folded,
    /// Stamped before the current run started.
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
}

#[derive(Debug)]
struct QueueFold {
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
    pub queue_id: String,
    pub run: u32,
    pub records_written: u64,
    pub progress: Option<String>,
    pub last_event_time: Option<Time>,
    pub producers: Vec<ProducerSummary>,
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

fn cut(message: &str) -> String {
    if message.len() <= MAX_MESSAGE_LEN {
        return message.to_owned();
    }
    let mut end = MAX_MESSAGE_LEN;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
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
        if key.run > 1 && key.run_started.is_some_and(|s| ts < s - STALE_SLACK_SECS) {
            return Outcome::Stale;
        }
        let q = self
            .queues
            .entry(queue_id.to_owned())
            .or_insert_with(|| QueueFold {
                key: key.clone(),
                producers: BTreeMap::new(),
                dirty: false,
                last_flush: None,
                pending: HashMap::new(),
                in_flight: HashMap::new(),
            });
        if q.key.run != key.run {
            // A new run starts from a clean summary.
            q.producers.clear();
        }
        q.key = key.clone();
        let p = q.producers.entry(source.to_owned()).or_default();
        if let Some(r) = ev.records_written {
            p.records = p.records.max(r);
        }
        let is_final = ev.is_final();
        let newer = ts >= p.last_ts;
        if (!p.finished && (newer || is_final)) || (p.finished && is_final && newer) {
            if let Some(s) = &ev.status {
                p.status = s.as_str().to_owned();
            } else if is_final {
                p.status = "finished".into();
            }
            if let Some(m) = &ev.message {
                p.message = Some(cut(m));
            }
            if let Some(pr) = ev.progress.filter(|v| v.is_finite()) {
                p.progress = Some(pr.clamp(0.0, 1.0));
            }
            p.finished |= is_final;
        }
        p.last_ts = p.last_ts.max(ts);
        q.dirty = true;
        if let Some((partition, offset)) = position {
            min_into(&mut q.pending, partition, offset);
        }
        Outcome::Folded
    }

    /// Queue ids with unwritten changes whose last write is old enough.
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

    /// Take the summary of `queue_id` for writing; call [`Self::written`] or
    /// [`Self::write_failed`] when the write is over.
    pub fn take(&mut self, queue_id: &str, now: Instant) -> Option<TelemetryStatus> {
        let q = self.queues.get_mut(queue_id)?;
        if !q.dirty {
            return None;
        }
        q.dirty = false;
        q.last_flush = Some(now);
        for (p, o) in std::mem::take(&mut q.pending) {
            min_into(&mut q.in_flight, p, o);
        }
        Some(summarize(queue_id, q))
    }

    pub fn written(&mut self, queue_id: &str) {
        if let Some(q) = self.queues.get_mut(queue_id) {
            q.in_flight.clear();
        }
    }

    /// The write failed: its changes are unwritten again.
    pub fn write_failed(&mut self, queue_id: &str) {
        if let Some(q) = self.queues.get_mut(queue_id) {
            q.dirty = true;
            for (p, o) in std::mem::take(&mut q.in_flight) {
                min_into(&mut q.pending, p, o);
            }
        }
    }

    /// Forget a Queue that no longer exists (its events are skipped from now on).
    pub fn forget(&mut self, queue_id: &str) {
        self.queues.remove(queue_id);
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

fn summarize(queue_id: &str, q: &QueueFold) -> TelemetryStatus {
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
        queue_id: queue_id.to_owned(),
        run: q.key.run,
        records_written,
        progress: progress.map(|f| format!("{}%", (f * 100.0).floor() as u32)),
        last_event_time: to_time(last_ts),
        producers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamforge_api::EventStatus;

    const Q: &str = "wf-btcusdt-api_candles_5m-20240801-a1b2c3";
    const MAIN: &str = "loader-producer__a1b2c3";

    fn key(run: u32) -> RunKey {
        RunKey {
            namespace: "default".into(),
            name: "btc".into(),
            run,
            run_started: Some(1000.0),
            main_telemetry_id: MAIN.into(),
        }
    }

    fn ev(source: &str, status: EventStatus, records: Option<u64>) -> QueueEvent {
        let mut e = QueueEvent::new(Q, source, status);
        e.records_written = records;
        e
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
        let t = s.take(Q, now).unwrap();
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
        let t = s.take(Q, Instant::now()).unwrap();
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
        let t = s.take(Q, Instant::now()).unwrap();
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
        assert_eq!(s.due(t0), vec![Q.to_string()]);
        assert!(s.take(Q, t0).is_some());
        s.written(Q);
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
        s.take(Q, now).unwrap();
        assert_eq!(s.committable(0, 9), 7, "in flight is not yet written");
        s.write_failed(Q);
        assert_eq!(s.committable(0, 9), 7);
        assert!(
            !s.due(now + Duration::from_secs(1)).is_empty(),
            "a failed write is retried"
        );
        s.take(Q, now + Duration::from_secs(1)).unwrap();
        s.written(Q);
        assert_eq!(s.committable(0, 9), 9);
    }

    #[test]
    fn a_new_run_starts_clean_and_old_events_are_stale() {
        let mut s = FoldState::new(Duration::from_secs(1));
        let mut err = ev(MAIN, EventStatus::Error, None);
        err.finished = Some(true);
        s.fold(Q, &key(1), &err, 1001.0, None);
        let mut k2 = key(2);
        k2.run_started = Some(2000.0);
        assert_eq!(
            s.fold(
                Q,
                &k2,
                &ev(MAIN, EventStatus::Loading, Some(5)),
                1500.0,
                None
            ),
            Outcome::Stale
        );
        assert_eq!(
            s.fold(
                Q,
                &k2,
                &ev(MAIN, EventStatus::Started, Some(0)),
                2001.0,
                None
            ),
            Outcome::Folded
        );
        let t = s.take(Q, Instant::now()).unwrap();
        assert_eq!(t.run, 2);
        assert_eq!(t.producers[0].status, "started");
        assert!(!t.producers[0].finished);
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
        let t = s.take(Q, Instant::now()).unwrap();
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
        let t = s.take(Q, Instant::now()).unwrap();
        assert!(t.producers[0].message.as_ref().unwrap().len() <= MAX_MESSAGE_LEN + 3);
    }
}
