//! The visualizer service against the real things: a Kafka broker and MinIO (started by
//! `scripts/test.sh`), lake files written by the lake-connector's encoder, a graph built by
//! graph-builder's code, and Debian's Chromium driven through WebDriver for the page.
//!
//! Only the model run's files are made here, in the trainer's format
//! (`metrics.json`, `predictions.json`; see gnn-trainer's `outputs.rs`): training one needs
//! libtorch, which the pipeline scenario of the e2e suite does for real.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use object_store::{ObjectStore, PutPayload};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use streamforge_graph_builder::build::{BuildSettings, build_graph};
use streamforge_graph_builder::synthetic::{market, record_json, write_lake};
use streamforge_kit::KafkaSettings;
use streamforge_kit::testing::{
    TEST_PYTHON, TEST_S3, env_lookup, real_kafka, required_env, unique,
};
use streamforge_visualizer::app::App;
use streamforge_visualizer::config::VisualizerConfig;
use streamforge_visualizer::server;

const T0: i64 = 1_722_470_400_000; // 2024-08-01 00:00 UTC
const MIN: i64 = 60_000;
const CANDLES: usize = 600;

struct Fixture {
    app: Arc<App>,
    kafka: KafkaSettings,
    producer: FutureProducer,
    data_topic: String,
    book_topic: String,
    events_topic: String,
    graph: String,
    run: String,
}

async fn send(p: &FutureProducer, topic: &str, key: &str, payload: &str) {
    p.send(
        FutureRecord::to(topic).key(key).payload(payload),
        Duration::from_secs(10),
    )
    .await
    .map_err(|(e, _)| e)
    .unwrap();
}

async fn create_topic(kafka: &KafkaSettings, topic: &str, partitions: i32) {
    streamforge_kit::topics::ensure_topic(kafka, topic, partitions, 1, None)
        .await
        .unwrap();
}

/// A lake, a graph, a model run and three topics with data, and the service on them.
async fn fixture(test: &str, allowed: &str) -> Option<Fixture> {
    let kafka = real_kafka(test)?;
    let endpoint = required_env(test, TEST_S3, "a MinIO server")?;
    let access = std::env::var("STREAMFORGE_TEST_S3_ACCESS_KEY").unwrap_or_default();
    let secret = std::env::var("STREAMFORGE_TEST_S3_SECRET_KEY").unwrap_or_default();
    let bucket: String = unique("viz").to_lowercase().chars().take(63).collect();
    let (data_topic, book_topic, events_topic) = (
        unique("viz-candles"),
        unique("viz-book"),
        unique("viz-events"),
    );
    let graph = "ui_graph".to_owned();
    let run = unique("gnn-ui");
    let frontend = concat!(env!("CARGO_MANIFEST_DIR"), "/frontend");
    let config = VisualizerConfig::from_lookup(env_lookup(&[
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("FRONTEND_PATH", frontend),
        ("ALLOWED_TOPICS", allowed),
        ("QUEUE_EVENTS_TOPIC", &events_topic),
        ("DEFAULT_SYMBOL", "BTCUSDT"),
        ("DEFAULT_CANDLES_TYPE", "api_candles_1m"),
        ("DEFAULT_TOPIC", &data_topic),
        ("DEFAULT_ORDERBOOK_TOPIC", &book_topic),
        ("MINIO_ENDPOINT", &endpoint),
        ("MINIO_BUCKET", &bucket),
        ("MINIO_ACCESS_KEY", &access),
        ("MINIO_SECRET_KEY", &secret),
    ]))
    .unwrap();

    // The lake: two symbols' candles as the lake-connector writes them, a graph built from
    // them, and a model run's files.
    let lake = streamforge_sinks::lake::store::open(&config.lake).unwrap();
    lake.ensure_bucket().await.unwrap();
    let data = market(&["BTCUSDT", "ETHUSDT"], T0, MIN, CANDLES, 7);
    write_lake(&lake.store, "", "api_candles_1m", &data, 0)
        .await
        .unwrap();
    let settings = BuildSettings {
        graph_name: graph.clone(),
        source_type: "api_candles_1m".into(),
        time_range: "2024-08-01T00:00:00Z/2024-08-01T10:00:00Z".into(),
        interval_ms: MIN,
        correlation_window: 24,
        correlation_threshold: 0.3,
        label_horizon: 1,
        features: &streamforge_graph_builder::features::FEATURES,
        created_at: "2024-08-02T00:00:00Z".into(),
        extra_parameters: Default::default(),
    };
    let g = build_graph(&settings, &data).unwrap();
    streamforge_graph::write_graph(&lake.store, &graph, &g)
        .await
        .unwrap();
    let n = g.nodes.len();
    let history: Vec<Value> = (1..=20)
        .map(|e| json!({"epoch": e, "loss": 0.7 - 0.01 * e as f64, "train_accuracy": 0.5 + 0.005 * e as f64,
            "val_accuracy": 0.5 + 0.004 * e as f64, "best_val_accuracy": 0.58, "best_epoch": e, "seconds": 0.1}))
        .collect();
    let metrics = json!({"model_type": "gcn", "test_accuracy": 0.56, "val_accuracy": 0.58, "best_epoch": 20,
        "baseline_majority_accuracy": 0.51, "baseline_logistic_accuracy": 0.53, "beats_baselines": true,
        "history": history});
    let splits = ["train", "val", "test"];
    let predictions = json!({
        "format": 1, "label": "price_up", "probability_of": 1,
        "node_id": (0..n).collect::<Vec<_>>(),
        "probability": (0..n).map(|i| 0.5 + 0.4 * ((i as f64) * 0.05).sin()).collect::<Vec<_>>(),
        "split": (0..n).map(|i| splits[(i * 3 / n.max(1)).min(2)]).collect::<Vec<_>>(),
        "label_value": g.nodes.labels[0].1,
    });
    for (file, v) in [("metrics.json", metrics), ("predictions.json", predictions)] {
        let path = object_store::path::Path::from(format!("models/{graph}/{run}/{file}"));
        lake.store
            .put(&path, PutPayload::from(serde_json::to_vec(&v).unwrap()))
            .await
            .unwrap();
    }

    // The broker: candles on the data topic, an order book (snapshot + diffs) and telemetry.
    for (t, p) in [(&data_topic, 1), (&book_topic, 3), (&events_topic, 1)] {
        create_topic(&kafka, t, p).await;
    }
    let producer = kafka.producer("viz-test").unwrap();
    for c in &data[0].candles[CANDLES - 50..] {
        send(
            &producer,
            &data_topic,
            &format!("BTCUSDT|1m|{}", c.open_time),
            &record_json("BTCUSDT", c),
        )
        .await;
    }
    for r in order_book(300) {
        send(&producer, &book_topic, &r.0, &r.1.to_string()).await;
    }
    let events = [
        json!({"queue_id": "loader-btcusdt-ui", "symbol": "BTCUSDT", "type": "api_candles_1m", "status": "started", "message": "loading"}),
        json!({"queue_id": "loader-btcusdt-ui", "symbol": "BTCUSDT", "type": "api_candles_1m", "status": "loading", "records_written": 300, "progress": 0.5}),
        json!({"queue_id": "loader-btcusdt-ui", "symbol": "BTCUSDT", "type": "api_candles_1m", "status": "finished", "records_written": 600, "finished": true}),
        json!({"queue_id": run, "symbol": "BTCUSDT", "type": "gnn_train", "status": "training", "epoch": 1, "loss": 0.69, "val_accuracy": 0.5}),
        json!({"queue_id": run, "symbol": "BTCUSDT", "type": "gnn_train", "status": "training", "epoch": 2, "loss": 0.66, "val_accuracy": 0.55}),
    ];
    for e in &events {
        send(
            &producer,
            &events_topic,
            e["queue_id"].as_str().unwrap(),
            &e.to_string(),
        )
        .await;
    }

    let app = App::new(config, kafka.clone()).unwrap();
    server::follow_events(&app);
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.events.latest(&Default::default(), 10).1 < events.len() {
        assert!(
            Instant::now() < deadline,
            "the service did not read the telemetry topic"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(Fixture {
        app,
        kafka,
        producer,
        data_topic,
        book_topic,
        events_topic,
        graph,
        run,
    })
}

/// An order book of BTCUSDT one unit per level from 63980 to 64020: a snapshot, then `diffs`
/// diffs that move the mid price and rewrite every level on its side (never crossed).
fn order_book(diffs: u64) -> Vec<(String, Value)> {
    let level = |p: i64, q: f64| json!([format!("{p}.00"), format!("{q:.3}")]);
    let side = |mid: i64, k: u64, bids: bool| -> Vec<Value> {
        (63980..=64020)
            .map(|p: i64| {
                let on_side = if bids { p < mid } else { p > mid };
                let q = if on_side {
                    1.0 + ((p + k as i64) % 9) as f64 * 0.5
                } else {
                    0.0
                };
                level(p, q)
            })
            .collect()
    };
    let now = chrono::Utc::now().timestamp_millis();
    let mut out = vec![(
        "BTCUSDT|snapshot|1000".to_owned(),
        json!({"kind": "snapshot", "symbol": "BTCUSDT", "last_update_id": 1000,
            "bids": side(64000, 0, true), "asks": side(64000, 0, false)}),
    )];
    for k in 0..diffs {
        let mid = 64000 + ((k as f64 * 0.05).sin() * 8.0).round() as i64;
        let id = 1001 + k * 2;
        out.push((
            format!("BTCUSDT|diff|{}", id + 1),
            json!({"kind": "diff", "symbol": "BTCUSDT", "first_update_id": id, "final_update_id": id + 1,
                "event_time": now + k as i64 * 100,
                "bids": side(mid, k, true), "asks": side(mid, k, false)}),
        ));
    }
    out
}

async fn get(app: &Arc<App>, path: &str) -> (u16, Value) {
    let res = warp::test::request()
        .path(path)
        .reply(&streamforge_visualizer::routes::routes(app.clone()))
        .await;
    let body: Value = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
    (res.status().as_u16(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_every_tab_from_the_real_stores_and_names_its_errors() {
    let Some(f) = fixture("the_api_answers_every_tab", "viz-*").await else {
        return;
    };
    let app = &f.app;
    // The page: a template with every tab and its configuration filled in.
    let res = warp::test::request()
        .path("/")
        .reply(&streamforge_visualizer::routes::routes(app.clone()))
        .await;
    assert_eq!(res.status(), 200);
    let html = String::from_utf8_lossy(res.body()).to_string();
    assert!(
        !html.contains("{{CONFIG_JSON}}") && html.contains(&f.data_topic),
        "config is filled in"
    );
    for tab in [
        "webhooks",
        "topic",
        "candles",
        "heatmap",
        "indicators",
        "gnn",
        "graph",
    ] {
        assert!(
            html.contains(&format!("tab-{tab}")),
            "tab {tab} on the page"
        );
    }
    let res = warp::test::request()
        .path("/vendor/lightweight-charts.js")
        .reply(&streamforge_visualizer::routes::routes(app.clone()))
        .await;
    assert_eq!(
        res.status(),
        200,
        "the chart library is served from npm's package"
    );
    assert!(res.body().len() > 50_000);

    // Webhooks: newest first, filtered.
    let (s, v) = get(app, "/api/events?queue_id=loader-btcusdt-ui&limit=2").await;
    assert_eq!(s, 200);
    assert_eq!(v["total"], 3);
    assert_eq!(v["events"].as_array().unwrap().len(), 2);
    assert_eq!(v["events"][0]["event"]["status"], "finished");
    let (_, v) = get(app, "/api/events?symbol=ETHUSDT").await;
    assert_eq!(v["total"], 0);

    // Topics: only the allowed ones (this service allows viz-*).
    let (s, v) = get(app, "/api/topics").await;
    assert_eq!(s, 200);
    let names: Vec<&str> = v["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&f.data_topic.as_str()) && names.contains(&f.book_topic.as_str()));
    assert!(names.iter().all(|n| n.starts_with("viz-")), "{names:?}");

    // Candles from the lake; the default range is the last days that hold data.
    let (s, v) = get(app, "/api/candles?symbol=btcusdt&type=api_candles_1m").await;
    assert_eq!(s, 200, "{v}");
    let candles = v["candles"].as_array().unwrap();
    assert_eq!(candles.len(), CANDLES);
    assert_eq!(candles[0]["time"], T0 / 1000);
    let (_, v) = get(
        app,
        &format!(
            "/api/candles?symbol=BTCUSDT&start={}&end={}",
            T0,
            T0 + 100 * MIN
        ),
    )
    .await;
    assert_eq!(v["candles"].as_array().unwrap().len(), 100);

    // Indicators: each line starts after its warm-up.
    let (s, v) = get(
        app,
        "/api/indicators?symbol=BTCUSDT&rsi=14&sma=20&ema=10&vwap=5",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["rsi"].as_array().unwrap().len(), CANDLES - 14);
    assert_eq!(v["sma"].as_array().unwrap().len(), CANDLES - 19);
    assert_eq!(v["ema"].as_array().unwrap().len(), CANDLES - 9);
    assert_eq!(v["vwap"].as_array().unwrap().len(), CANDLES - 4);

    // The heatmap from the order-book topic (three partitions: records arrive out of order).
    let (s, v) = get(
        app,
        &format!(
            "/api/heatmap?topic={}&symbol=BTCUSDT&buckets=30&levels=20",
            f.book_topic
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["snapshots"].as_u64(),
            v["diffs"].as_u64(),
            v["gaps"].as_u64()
        ),
        (Some(1), Some(300), Some(0))
    );
    assert_eq!(v["times"].as_array().unwrap().len(), 30);
    assert!(
        v["mid"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m.as_f64().is_some_and(|m| (63990.0..64010.0).contains(&m))),
        "{}",
        v["mid"]
    );

    // Graphs and models.
    let (_, v) = get(app, "/api/graphs").await;
    assert_eq!(v["graphs"][0]["name"], f.graph.as_str());
    let (s, v) = get(app, &format!("/api/graph?name={}&limit=50", f.graph)).await;
    assert_eq!(s, 200);
    assert!(
        !v["nodes"].as_array().unwrap().is_empty() && !v["edges"].as_array().unwrap().is_empty()
    );
    let (_, v) = get(app, "/api/models").await;
    assert_eq!(v["models"][0]["run"], f.run.as_str());
    let (s, v) = get(
        app,
        &format!("/api/model?graph={}&run={}&limit=100", f.graph, f.run),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["history"].as_array().unwrap().len(), 20);
    assert_eq!(v["predictions"].as_array().unwrap().len(), 100);
    assert!(
        v["predictions"][0]["symbol"].is_string(),
        "joined with the graph's nodes"
    );

    // Errors say what went wrong, as JSON, with a status that says whose fault it is.
    for (path, status, words) in [
        ("/api/candles?symbol=../x".to_owned(), 400, "not a symbol"),
        (
            "/api/candles?start=yesterday&end=today".to_owned(),
            400,
            "start=\"yesterday\"",
        ),
        (
            "/api/graph?name=nothing_here".to_owned(),
            404,
            "nothing_here",
        ),
        (
            "/api/model?graph=g&run=none".to_owned(),
            404,
            "no model run",
        ),
        (
            "/api/heatmap?topic=viz-missing-topic-x".to_owned(),
            404,
            "does not exist",
        ),
        (
            "/api/heatmap?topic=queue-control".to_owned(),
            403,
            "may not be read",
        ),
        ("/api/indicators?rsi=0".to_owned(), 400, "rsi period"),
        ("/api/nowhere".to_owned(), 404, "no such"),
    ] {
        let (s, v) = get(app, &path).await;
        assert_eq!(s, status, "{path}: {v}");
        assert!(v["error"].as_str().unwrap().contains(words), "{path}: {v}");
    }
    let _ = (&f.kafka, &f.producer, &f.events_topic);
}

async fn ws_client(
    addr: std::net::SocketAddr,
    path: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .unwrap()
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_websocket_client_skips_and_never_slows_the_others() {
    let Some(f) = fixture("a_stalled_websocket_client", "viz-*").await else {
        return;
    };
    let (addr, srv) = server::bind(f.app.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    tokio::spawn(srv);
    let path = format!("/ws/topic/{}", f.data_topic);
    let mut fast = ws_client(addr, &path).await;
    let mut stalled = ws_client(addr, &path).await;
    // A denied topic is refused with a reason.
    let mut denied = ws_client(addr, "/ws/topic/queue-control").await;
    let m = denied.next().await.unwrap().unwrap();
    assert!(m.to_text().unwrap().contains("may not be read"), "{m}");

    // The feed starts with the tail of the topic; then 4 KB records, far more than a socket
    // buffers and than the client buffer (1024) holds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pad = "x".repeat(4096);
    const N: usize = 6000;
    let producer = f.producer.clone();
    let topic = f.data_topic.clone();
    // Paced at about 600 records (2.4 MB) a second, which a reading client keeps up with.
    let sent = tokio::spawn(async move {
        for burst in 0..N / 60 {
            let sends = (burst * 60..(burst + 1) * 60).map(|i| {
                let v = json!({"symbol": "BTCUSDT", "seq": i, "pad": pad}).to_string();
                let (producer, topic) = (producer.clone(), topic.clone());
                async move { send(&producer, &topic, &format!("BTCUSDT|seq|{i}"), &v).await }
            });
            // In order (one partition, an idempotent producer), many in flight.
            futures::stream::iter(sends)
                .buffered(60)
                .collect::<Vec<()>>()
                .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut seqs = vec![];
    let deadline = Instant::now() + Duration::from_secs(120);
    while seqs.len() < N {
        let m = tokio::time::timeout_at(deadline.into(), fast.next())
            .await
            .expect("the fast client starved")
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(m.to_text().unwrap()).unwrap();
        assert_ne!(v["kind"], "skipped", "the fast client was never behind");
        if let Some(s) = v["value"]["seq"].as_u64() {
            seqs.push(s);
        }
    }
    sent.await.unwrap();
    assert_eq!(
        seqs,
        (0..N as u64).collect::<Vec<_>>(),
        "every record, in order, while another client stalled"
    );

    // The stalled client now reads: it was told what it missed, or (when its socket took no
    // message for SEND_TIMEOUT) the server had dropped it.
    let (mut skipped, mut got, mut dropped) = (0, 0, false);
    loop {
        match tokio::time::timeout(Duration::from_secs(3), stalled.next()).await {
            Ok(Some(Ok(m))) if m.is_text() => {
                let v: Value = serde_json::from_str(m.to_text().unwrap()).unwrap();
                match v["kind"].as_str() {
                    Some("skipped") => skipped += v["count"].as_u64().unwrap(),
                    _ => got += 1,
                }
            }
            Ok(Some(Ok(m))) if m.is_close() => dropped = true,
            Ok(Some(Ok(_))) => {}
            Ok(None | Some(Err(_))) => {
                dropped = true;
                break;
            }
            Err(_) => break,
        }
    }
    assert!(
        skipped > 0 || dropped,
        "the stalled client neither skipped nor was dropped (got {got} of {N})"
    );
    assert!(got < N, "the stalled client cannot have taken every record");
    let _ = stalled.close(None).await;
    let _ = fast
        .send(tokio_tungstenite::tungstenite::Message::Close(None))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tab_draws_its_data_in_a_real_browser() {
    let test = "every_tab_draws_its_data_in_a_real_browser";
    let Some(python) = required_env(test, TEST_PYTHON, "a Python with selenium") else {
        return;
    };
    if !std::path::Path::new("/usr/bin/chromium").exists() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "{test}: /usr/bin/chromium is missing under CI; scripts/setup.sh installs it"
        );
        eprintln!("{test}: skipped, /usr/bin/chromium is missing (scripts/setup.sh installs it)");
        return;
    }
    let Some(f) = fixture(test, "*").await else {
        return;
    };
    let (addr, srv) = server::bind(f.app.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    tokio::spawn(srv);
    // Live candles keep coming while the browser looks.
    let (producer, topic) = (f.producer.clone(), f.data_topic.clone());
    let live = tokio::spawn(async move {
        let data = market(&["BTCUSDT"], T0 + CANDLES as i64 * MIN, MIN, 2000, 9);
        for c in &data[0].candles {
            send(
                &producer,
                &topic,
                &format!("BTCUSDT|1m|{}", c.open_time),
                &record_json("BTCUSDT", c),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let dir = std::env::temp_dir().join(unique("viz-ui"));
    std::fs::create_dir_all(&dir).unwrap();
    let expect = json!({
        "symbol": "BTCUSDT", "candles_type": "api_candles_1m", "data_topic": f.data_topic,
        "orderbook_topic": f.book_topic, "graph": f.graph, "model_graph": f.graph, "model_run": f.run,
        "queue_id": "loader-btcusdt-ui", "min_candles": CANDLES, "min_events": 3,
    });
    std::fs::write(dir.join("expect.json"), expect.to_string()).unwrap();
    let shots = std::env::var("STREAMFORGE_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.join("screenshots"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/ui_check.py");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script)
        .arg("--url")
        .arg(format!("http://{addr}"))
        .arg("--screenshots")
        .arg(&shots)
        .arg("--expect")
        .arg(dir.join("expect.json"));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    live.abort();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the browser check failed (screenshots in {})",
        shots.display()
    );
    for tab in [
        "webhooks",
        "topic",
        "candles",
        "heatmap",
        "indicators",
        "gnn",
        "graph",
    ] {
        assert!(
            shots.join(format!("{tab}.png")).is_file(),
            "a screenshot of {tab}"
        );
    }
}
