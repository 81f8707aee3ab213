//! Telemetry folding: events folded per second on one core, and status writes per 1,000 events
//! for a busy Queue (events arriving every 5 ms, a 1 s write interval, simulated clock).
//!
//! Run: `cargo bench -p streamforge-operator --bench fold`

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use streamforge_api::{EventStatus, QueueEvent};
use streamforge_operator::fold::{FoldState, RunKey};

const EVENTS: u64 = 10_000;

fn key(i: usize) -> RunKey {
    RunKey {
        namespace: "default".into(),
        name: format!("q{i}"),
        run: 1,
        uid: format!("uid-{i}"),
        main_telemetry_id: format!("loader-producer__{i:06}"),
    }
}

fn payloads(queues: usize) -> Vec<(String, Vec<u8>)> {
    (0..EVENTS)
        .map(|i| {
            let q = (i as usize) % queues;
            let qid = format!("wf-btcusdt-api_candles_5m-20240801-{q:06}");
            let mut e = QueueEvent::new(
                qid.clone(),
                format!("loader-producer__{q:06}"),
                EventStatus::Loading,
            );
            e.records_written = Some(i * 1000);
            e.timestamp = Some(1_722_500_000.0 + i as f64 * 0.005);
            e.message = Some(format!("saved {} records", i * 1000));
            (qid, e.to_json())
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fold");
    g.throughput(Throughput::Elements(EVENTS));
    for queues in [1usize, 100] {
        let input = payloads(queues);
        let keys: Vec<RunKey> = (0..queues).map(key).collect();
        g.bench_function(format!("parse_and_fold/{queues}_queues"), |b| {
            b.iter(|| {
                let mut s = FoldState::new(Duration::from_secs(1));
                for (i, (qid, bytes)) in input.iter().enumerate() {
                    let ev = QueueEvent::from_json(bytes).unwrap();
                    let ts = ev.timestamp.unwrap_or(0.0);
                    s.fold(qid, &keys[i % queues], &ev, ts, Some((0, i as i64)));
                }
                black_box(s.queues())
            })
        });
    }
    g.finish();

    // Writes per 1,000 events for one busy Queue: 200 events/s for 50 s of simulated time.
    let input = payloads(1);
    let k = key(0);
    let mut s = FoldState::new(Duration::from_secs(1));
    let t0 = Instant::now();
    let mut writes = 0u64;
    for (i, (qid, bytes)) in input.iter().enumerate() {
        let now = t0 + Duration::from_millis(i as u64 * 5);
        let ev = QueueEvent::from_json(bytes).unwrap();
        s.fold(
            qid,
            &k,
            &ev,
            ev.timestamp.unwrap_or(0.0),
            Some((0, i as i64)),
        );
        for id in s.due(now) {
            if s.take(&id, now).is_some() {
                s.written(&id);
                writes += 1;
            }
        }
    }
    println!(
        "status writes: {writes} for {EVENTS} events = {:.1} per 1,000 events (busy Queue, 200 events/s, 1 s interval)",
        writes as f64 * 1000.0 / EVENTS as f64
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
