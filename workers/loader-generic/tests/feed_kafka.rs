//! json_feed against a real broker (`STREAMFORGE_TEST_KAFKA`) and feeds served by the test: a
//! WebSocket that drops its first connection (the worker reconnects and says so) and runs
//! until `stop`, and an HTTP endpoint polled until TIME_RANGE's end. Messages are written as
//! they came, keyed by the source's key path; non-JSON and keyless ones are dead letters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use streamforge_api::{EventStatus, GenericSource};
use streamforge_kit::testing::real_kafka;
use streamforge_loader_generic::config::GenericConfig;
use streamforge_loader_generic::worker::{self, Outcome};
use tokio_tungstenite::tungstenite::Message;
use warp::Filter;

fn source(v: serde_json::Value) -> GenericSource {
    serde_json::from_value(v).unwrap()
}

/// A WebSocket server: connection `n` gets `scripts[n]`; every connection but the last is
/// closed after its script, the last is held open.
async fn ws_server(scripts: Vec<Vec<&'static str>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((stream, _)) = listener.accept().await {
            let script = scripts.get(n).cloned().unwrap_or_default();
            let last = n + 1 >= scripts.len();
            n += 1;
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                for m in script {
                    ws.send(Message::text(m)).await.unwrap();
                }
                if last {
                    while let Some(Ok(_)) = ws.next().await {}
                } else {
                    let _ = ws.close(None).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn real_broker_websocket_feed_reconnects_dead_letters_and_stops_on_stop() {
    let Some(settings) =
        real_kafka("real_broker_websocket_feed_reconnects_dead_letters_and_stops_on_stop")
    else {
        return;
    };
    let addr = ws_server(vec![
        vec![
            r#"{"data":{"id":1,"p":"1.5"}}"#,
            "not json",
            r#"{"other":1}"#,
        ],
        vec![r#"{"data":{"id":"b"}}"#, r#"{"data": {"id": 3}}"#],
    ])
    .await;
    let env = common::env("json_feed", None);
    let src = source(json!({"url": format!("ws://{addr}/stream"), "keyField": "data.id"}));
    common::command(&settings, &env, "start").await;
    let stopper = {
        let (settings, env) = (settings.clone(), env.clone());
        tokio::spawn(async move {
            // The worker creates its topic once started: read again until it holds three.
            let mut flowing = vec![];
            for _ in 0..20 {
                flowing =
                    common::read(&settings, &env.kafka_topic, 3, Duration::from_secs(3)).await;
                if flowing.len() >= 3 {
                    break;
                }
            }
            assert_eq!(flowing.len(), 3, "messages were written before the stop");
            common::command(&settings, &env, "stop").await;
        })
    };
    let outcome = worker::run(env.clone(), settings.clone(), common::cfg(None), Ok(src))
        .await
        .unwrap();
    stopper.await.unwrap();
    assert_eq!(outcome, Outcome::Stopped(Some(3)));

    let data = common::read(&settings, &env.kafka_topic, 3, Duration::from_secs(5)).await;
    let mut got: Vec<(String, String)> = data
        .iter()
        .map(|m| (m.key.clone(), String::from_utf8(m.payload.clone()).unwrap()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("1".to_owned(), r#"{"data":{"id":1,"p":"1.5"}}"#.to_owned()),
            ("3".to_owned(), r#"{"data": {"id": 3}}"#.to_owned()),
            ("b".to_owned(), r#"{"data":{"id":"b"}}"#.to_owned()),
        ]
    );
    let letters = common::read(
        &settings,
        &format!("{}-dlq", env.kafka_topic),
        2,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(letters.len(), 2);
    let by = |category: &str| {
        letters
            .iter()
            .find(|l| l.headers["x-dlq-category"] == category)
            .unwrap()
    };
    assert_eq!(by("json").payload, b"not json");
    assert!(by("json").headers["x-dlq-reason"].starts_with("the message is not JSON"));
    assert_eq!(by("key").payload, br#"{"other":1}"#);
    assert_eq!(
        by("key").headers["x-dlq-reason"],
        "the message has no data.id"
    );
    assert_eq!(by("key").headers["__connect.errors.stage"], "KEY_CONVERTER");
    assert_eq!(
        by("key").headers["__connect.errors.topic"],
        format!("ws://{addr}/stream")
    );

    let events = common::events(&settings, &env).await;
    let said = |needle: &str| {
        events
            .iter()
            .any(|e| e.message.as_deref().is_some_and(|m| m.contains(needle)))
    };
    assert!(said("feed connection dropped"), "{events:?}");
    assert!(said("feed reconnected (reconnect 1)"), "{events:?}");
    let last = events.last().unwrap();
    assert_eq!(last.status, Some(EventStatus::Stopped));
    assert_eq!(last.records_written, Some(3));
}

/// A WebSocket server whose first connection sends one message and then falls silent: it is
/// held open but never read, so pings go unanswered. Later connections send one message each
/// and keep reading (tungstenite answers pings while it reads). Counts the connections.
async fn silent_then_quiet_ws_server(connections: Arc<AtomicUsize>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let n = connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let m = format!(r#"{{"data":{{"id":{n}}}}}"#);
                ws.send(Message::text(m)).await.unwrap();
                if n == 0 {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    drop(ws);
                } else {
                    while let Some(Ok(_)) = ws.next().await {}
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn real_broker_a_websocket_that_falls_silent_is_replaced_and_a_quiet_one_is_kept() {
    let Some(settings) =
        real_kafka("real_broker_a_websocket_that_falls_silent_is_replaced_and_a_quiet_one_is_kept")
    else {
        return;
    };
    let connections = Arc::new(AtomicUsize::new(0));
    let addr = silent_then_quiet_ws_server(connections.clone()).await;
    let env = common::env("json_feed", None);
    let src = source(json!({"url": format!("ws://{addr}/stream"), "keyField": "data.id"}));
    let cfg = streamforge_loader_generic::config::GenericConfig {
        feed_keepalive: Duration::from_secs(1),
        ..common::cfg(None)
    };
    common::command(&settings, &env, "start").await;
    let stopper = {
        let (settings, env, connections) = (settings.clone(), env.clone(), connections.clone());
        tokio::spawn(async move {
            // The silent connection is given up after 2 s of silence (a ping, then nothing).
            for _ in 0..100 {
                if connections.load(Ordering::SeqCst) >= 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let replaced = connections.load(Ordering::SeqCst);
            // The second connection carries nothing more but answers pings: three keepalive
            // intervals later it is still the one in use.
            tokio::time::sleep(Duration::from_secs(3)).await;
            common::command(&settings, &env, "stop").await;
            replaced
        })
    };
    let outcome = worker::run(env.clone(), settings.clone(), cfg, Ok(src))
        .await
        .unwrap();
    assert_eq!(
        stopper.await.unwrap(),
        2,
        "the silent connection was replaced"
    );
    assert_eq!(outcome, Outcome::Stopped(Some(2)));
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "the quiet connection was kept"
    );
    let events = common::events(&settings, &env).await;
    let said = |needle: &str| {
        events
            .iter()
            .any(|e| e.message.as_deref().is_some_and(|m| m.contains(needle)))
    };
    assert!(
        said("feed connection dropped (nothing heard for 2s, not even a pong)"),
        "{events:?}"
    );
    assert!(said("feed reconnected (reconnect 1)"), "{events:?}");
    assert!(!said("reconnect 2"), "{events:?}");
}

#[tokio::test]
async fn real_broker_http_feed_is_polled_until_the_range_ends() {
    let Some(settings) = real_kafka("real_broker_http_feed_is_polled_until_the_range_ends") else {
        return;
    };
    // Answers: two messages (one keyless), then not JSON, then three (one new), then the same.
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = polls.clone();
    let route = warp::path!("feed").map(move || {
        let body = match counter.fetch_add(1, Ordering::SeqCst) {
            0 => r#"[{"data":{"id":1}}, {"x":1}]"#,
            1 => "oops",
            _ => r#"[{"data":{"id":1}}, {"data":{"id":2}}, {"x":1}]"#,
        };
        body.to_owned()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = warp::serve(route).incoming(listener);
    tokio::spawn(async move { server.run().await });

    // Four polls a second apart must fit in the range after the worker has opened its run
    // (producer, topics), which took over 2 s on a loaded two-core machine: a range ending
    // 4.5 s from now then saw three polls. Ending 9 s from now leaves 5 s for the opening.
    let now = Utc::now();
    let range = format!(
        "{}/{}",
        (now - chrono::Duration::seconds(1)).to_rfc3339_opts(SecondsFormat::Millis, true),
        (now + chrono::Duration::seconds(9)).to_rfc3339_opts(SecondsFormat::Millis, true)
    );
    let env = common::env("json_feed", Some(&range));
    let src = source(
        json!({"url": format!("http://{addr}/feed"), "keyField": "data.id",
        "pollSeconds": 1}),
    );
    let cfg = GenericConfig {
        wait_for_start: false,
        ..common::cfg(None)
    };
    let outcome = worker::run(env.clone(), settings.clone(), cfg, Ok(src))
        .await
        .unwrap();
    let Outcome::Fed(r) = outcome else {
        panic!("not finished: {outcome:?}")
    };
    assert!(r.reached_end);
    assert!(r.polls >= 4, "{r:?}");
    assert_eq!((r.messages, r.dead_letters), (3, 3), "{r:?}");
    assert_eq!(r.repeats_skipped, 3 * (r.polls - 3), "{r:?}");
    let data = common::read(&settings, &env.kafka_topic, 3, Duration::from_secs(5)).await;
    let mut keys: Vec<String> = data.iter().map(|m| m.key.clone()).collect();
    keys.sort();
    assert_eq!(keys, ["1", "1", "2"]);
    let letters = common::read(
        &settings,
        &format!("{}-dlq", env.kafka_topic),
        3,
        Duration::from_secs(5),
    )
    .await;
    // Letters have no key: the partitions of the dead-letter topic do not keep their order.
    let mut categories: Vec<&str> = letters
        .iter()
        .map(|l| l.headers["x-dlq-category"].as_str())
        .collect();
    categories.sort();
    assert_eq!(categories, ["json", "key", "key"]);
    let last = common::events(&settings, &env).await.pop().unwrap();
    assert_eq!(last.status, Some(EventStatus::Finished));
    assert_eq!(last.extra["feed"]["messages"], json!(3));
}
