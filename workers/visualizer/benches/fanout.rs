//! WebSocket fan-out figures: records/s delivered to 1, 10 and 100 clients of one topic next to
//! the topic's raw consume rate, memory per client, and the others' rate while one client
//! stalls. Needs a broker: `STREAMFORGE_TEST_KAFKA=127.0.0.1:19092 cargo bench -p
//! streamforge-visualizer --bench fanout` (scripts/test.sh's broker, or e2e/kafka/start.sh).
//! Server and clients share this process (and the machine's cores): the figures are a floor.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};
use streamforge_kit::KafkaSettings;
use streamforge_kit::testing::{env_lookup, unique};
use streamforge_visualizer::app::App;
use streamforge_visualizer::config::VisualizerConfig;
use streamforge_visualizer::server;

const RECORDS: usize = 50_000;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// `n` records, as fast as the broker takes them, or paced at `per_sec` (bursts every 100 ms).
async fn produce(p: &FutureProducer, topic: &str, n: usize, per_sec: Option<usize>) {
    match per_sec {
        None => produce_burst(p, topic, 0, n).await,
        Some(rate) => {
            let burst = (rate / 10).max(1);
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut sent = 0;
            while sent < n {
                tick.tick().await;
                let k = burst.min(n - sent);
                produce_burst(p, topic, sent, k).await;
                sent += k;
            }
        }
    }
}

async fn produce_burst(p: &FutureProducer, topic: &str, start: usize, n: usize) {
    let sends = (start..start + n).map(|i| {
        let v = json!({"symbol": "BTCUSDT", "seq": i, "price": "64000.10", "qty": "0.010", "time": 1722470400123_i64 + i as i64}).to_string();
        let (p, topic) = (p.clone(), topic.to_owned());
        async move {
            p.send(FutureRecord::to(&topic).key(&format!("BTCUSDT|{i}")).payload(&v), Duration::from_secs(30))
                .await
                .map_err(|(e, _)| e)
                .unwrap();
        }
    });
    futures::stream::iter(sends)
        .buffered(2000)
        .collect::<Vec<()>>()
        .await;
}

fn raw_consume_rate(kafka: &KafkaSettings, topic: &str, n: usize) -> f64 {
    let c: BaseConsumer = kafka
        .client_config()
        .set("group.id", "fanout-bench-raw")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let started = Instant::now();
    let mut got = 0;
    while got < n {
        if let Some(Ok(_)) = c.poll(Duration::from_millis(500)) {
            got += 1;
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr, topic: &str, k: usize) -> Vec<Client> {
    let mut out = vec![];
    for _ in 0..k {
        out.push(
            tokio_tungstenite::connect_async(format!("ws://{addr}/ws/topic/{topic}"))
                .await
                .unwrap()
                .0,
        );
    }
    out
}

/// Each client reads until it saw `n` records (or was told it skipped); returns per-client
/// (records, skipped, seconds).
async fn drain(clients: Vec<Client>, n: usize) -> Vec<(usize, u64, f64)> {
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let (mut got, mut skipped) = (0usize, 0u64);
                while got + (skipped as usize) < n {
                    match tokio::time::timeout(Duration::from_secs(20), c.next()).await {
                        Ok(Some(Ok(m))) if m.is_text() => {
                            let v: Value = serde_json::from_str(m.to_text().unwrap()).unwrap();
                            match v["kind"].as_str() {
                                Some("skipped") => skipped += v["count"].as_u64().unwrap_or(0),
                                Some("record") => got += 1,
                                _ => {}
                            }
                        }
                        Ok(Some(Ok(_))) => {}
                        _ => break,
                    }
                }
                (got, skipped, started.elapsed().as_secs_f64())
            })
        })
        .collect();
    let mut out = vec![];
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::main]
async fn main() {
    let Ok(broker) = std::env::var("STREAMFORGE_TEST_KAFKA") else {
        eprintln!("fanout: skipped, STREAMFORGE_TEST_KAFKA is not set");
        return;
    };
    let kafka = KafkaSettings::plaintext(&broker);
    let frontend = concat!(env!("CARGO_MANIFEST_DIR"), "/frontend");
    let lake_dir = std::env::temp_dir().join(unique("fanout-lake"));
    let config = VisualizerConfig::from_lookup(env_lookup(&[
        ("FRONTEND_PATH", frontend),
        ("LAKE_DIR", lake_dir.to_str().unwrap()),
        ("CLIENT_BUFFER", "1024"),
    ]))
    .unwrap();
    let app = App::new(config, kafka.clone()).unwrap();
    let (addr, srv) = server::bind(app, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    tokio::spawn(srv);
    let producer: FutureProducer = kafka.producer("fanout-bench").unwrap();

    println!(
        "fanout: {RECORDS} records of ~120 bytes per round, CLIENT_BUFFER=1024, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let raw_topic = unique("fanout-raw");
    streamforge_kit::topics::ensure_topic(&kafka, &raw_topic, 1, 1, None)
        .await
        .unwrap();
    produce(&producer, &raw_topic, RECORDS, None).await;
    let k2 = kafka.clone();
    let t = raw_topic.clone();
    let raw = tokio::task::spawn_blocking(move || raw_consume_rate(&k2, &t, RECORDS))
        .await
        .unwrap();
    println!("raw consume rate (one consumer, from the beginning): {raw:.0} records/s");

    println!("producer at full speed:");
    println!("| clients | delivered records/s per client | all clients | skipped (share) |");
    println!("|---|---|---|---|");
    for k in [1usize, 10, 100] {
        let topic = unique("fanout");
        streamforge_kit::topics::ensure_topic(&kafka, &topic, 1, 1, None)
            .await
            .unwrap();
        let clients = connect(addr, &topic, k).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (p, t) = (producer.clone(), topic.clone());
        let sent = tokio::spawn(async move { produce(&p, &t, RECORDS, None).await });
        let results = drain(clients, RECORDS).await;
        sent.await.unwrap();
        let secs = results.iter().map(|r| r.2).fold(0.0, f64::max);
        let got: usize = results.iter().map(|r| r.0).sum();
        let skipped: u64 = results.iter().map(|r| r.1).sum();
        println!(
            "| {k} | {:.0} | {:.0} | {skipped} ({:.1} %) |",
            got as f64 / k as f64 / secs,
            got as f64 / secs,
            100.0 * skipped as f64 / (k * RECORDS) as f64
        );
    }

    // Memory: 100 idle clients of one topic.
    let topic = unique("fanout-mem");
    streamforge_kit::topics::ensure_topic(&kafka, &topic, 1, 1, None)
        .await
        .unwrap();
    let before = rss_kib();
    let idle = connect(addr, &topic, 100).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib();
    println!(
        "memory: {:.1} KiB per connected client (RSS {before} → {after} KiB for 100, both ends of the socket in this process)",
        (after.saturating_sub(before)) as f64 / 100.0
    );
    drop(idle);

    // Ten readers of a topic paced at PACED records/s, alone and beside one stalled client.
    const PACED: usize = 5_000;
    println!("producer paced at {PACED} records/s, {RECORDS} records:");
    println!("| readers | stalled clients | records/s per reader (min) | skipped by readers |");
    println!("|---|---|---|---|");
    for stalled_clients in [0usize, 1] {
        let topic = unique("fanout-paced");
        streamforge_kit::topics::ensure_topic(&kafka, &topic, 1, 1, None)
            .await
            .unwrap();
        let readers = connect(addr, &topic, 10).await;
        let stalled = connect(addr, &topic, stalled_clients).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (p, t) = (producer.clone(), topic.clone());
        let sent = tokio::spawn(async move { produce(&p, &t, RECORDS, Some(PACED)).await });
        let results = drain(readers, RECORDS).await;
        sent.await.unwrap();
        let slowest = results
            .iter()
            .map(|r| r.0 as f64 / r.2)
            .fold(f64::INFINITY, f64::min);
        let skipped: u64 = results.iter().map(|r| r.1).sum();
        println!("| 10 | {stalled_clients} | {slowest:.0} | {skipped} |");
        drop(stalled);
    }
    let _ = std::fs::remove_dir_all(&lake_dir);
}
