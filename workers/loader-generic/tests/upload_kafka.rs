//! manual_upload against a real broker (`STREAMFORGE_TEST_KAFKA`), a real S3 server (MinIO,
//! `STREAMFORGE_TEST_S3`) and a local HTTP server: files in every format become the Binance
//! loader's records with its keys, bad rows go to the dead-letter topic with why, and the final
//! event says how complete the file was.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use common::{MINUTE, T0};
use serde_json::json;
use streamforge_api::{EventStatus, GenericSource};
use streamforge_kit::testing::real_kafka;
use streamforge_loader::records::{CandleRecord, TradeRecord};
use streamforge_loader_generic::config::{ConfigError, GenericConfig};
use streamforge_loader_generic::worker::{self, Failure, Outcome};

fn source(v: serde_json::Value) -> GenericSource {
    serde_json::from_value(v).unwrap()
}

fn candle_keys(minutes: &[i64]) -> BTreeSet<String> {
    minutes
        .iter()
        .map(|i| format!("BTCUSDT|1m|{}", T0 + i * MINUTE))
        .collect()
}

const QUIET: Duration = Duration::from_secs(5);

#[tokio::test]
async fn real_broker_csv_candles_from_s3_with_a_gap_bad_rows_and_a_range() {
    let test = "real_broker_csv_candles_from_s3_with_a_gap_bad_rows_and_a_range";
    let Some(settings) = real_kafka(test) else {
        return;
    };
    let mut csv = common::candle_csv(&[0, 1, 2, 4, 5, -5]);
    let bad_number = format!("{},abc,1,1,1,1", T0 + 6 * MINUTE);
    let short = format!("{},1,1", T0 + 7 * MINUTE);
    csv.push_str(&format!("{bad_number}\r\n{short}\n"));
    let Some((s3, bucket)) = common::minio(test, &[("in/candles.csv", csv.as_bytes())]).await
    else {
        return;
    };
    let env = common::env(
        "manual_upload",
        Some("2024-08-01T00:00:00Z/2024-08-01T00:06:00Z"),
    );
    let url = format!("s3://{bucket}/in/candles.csv");
    let src = source(json!({"url": url, "records": "candles", "interval": "1m",
        "columns": common::candle_columns()}));
    common::command(&settings, &env, "start").await;
    let outcome = worker::run(
        env.clone(),
        settings.clone(),
        common::cfg(Some(s3.clone())),
        Ok(src),
    )
    .await
    .unwrap();
    let Outcome::Uploaded(r) = outcome else {
        panic!("not uploaded: {outcome:?}")
    };
    let c = &r.completeness;
    assert_eq!((c.produced, c.expected, c.missing), (5, 6, 1), "{r:?}");
    assert_eq!(c.gaps, [(T0 + 3 * MINUTE, T0 + 4 * MINUTE)]);
    assert_eq!((r.rows, r.dead_letters, r.out_of_range), (8, 2, 1));

    let data = common::read(&settings, &env.kafka_topic, 5, QUIET).await;
    let keys: BTreeSet<String> = data.iter().map(|m| m.key.clone()).collect();
    assert_eq!(keys, candle_keys(&[0, 1, 2, 4, 5]));
    let first = data
        .iter()
        .find(|m| m.key == format!("BTCUSDT|1m|{T0}"))
        .unwrap();
    let candle: CandleRecord = serde_json::from_slice(&first.payload).unwrap();
    assert_eq!(
        (
            candle.open.as_str(),
            candle.high.as_str(),
            candle.volume.as_str()
        ),
        ("0.5", "0.9", "10.25")
    );
    assert_eq!(candle.close_time, T0 + MINUTE - 1);

    let letters = common::read(&settings, &format!("{}-dlq", env.kafka_topic), 2, QUIET).await;
    assert_eq!(letters.len(), 2);
    let number = letters
        .iter()
        .find(|l| l.headers["x-dlq-category"] == "number")
        .unwrap();
    assert_eq!(number.payload, bad_number.as_bytes());
    assert_eq!(
        number.headers["x-dlq-reason"],
        r#"row 8: column "o" (open): "abc" is not a decimal number"#
    );
    assert_eq!(number.headers["__connect.errors.topic"], url);
    assert_eq!(number.headers["__connect.errors.offset"], "8");
    assert_eq!(number.headers["__connect.errors.partition"], "-1");
    assert_eq!(
        number.headers["__connect.errors.connector.name"],
        env.telemetry_id
    );
    assert_eq!(
        number.headers["__connect.errors.class.name"],
        "streamforge_loader_generic"
    );
    let short_letter = letters
        .iter()
        .find(|l| l.headers["x-dlq-category"] == "shape")
        .unwrap();
    assert_eq!(short_letter.payload, short.as_bytes());
    assert_eq!(short_letter.headers["x-dlq-offset"], "9");

    let events = common::events(&settings, &env).await;
    assert_eq!(events.first().unwrap().status, Some(EventStatus::Started));
    let last = events.last().unwrap();
    assert_eq!(last.status, Some(EventStatus::Finished));
    assert_eq!(last.records_written, Some(5));
    assert_eq!(last.extra["complete"], json!(false));
    assert_eq!(last.extra["completeness"]["missing"], json!(1));
    assert_eq!(last.extra["dead_letters"], json!(2));
    assert_eq!(last.extra["out_of_range"], json!(1));
    assert!(
        last.message
            .as_deref()
            .unwrap()
            .contains("1 of 6 expected missing"),
        "{:?}",
        last.message
    );

    // Run again into the same topic (a retried pod): what the topic holds is not sent twice.
    let cfg = GenericConfig {
        wait_for_start: false,
        ..common::cfg(Some(s3))
    };
    let src = source(json!({"url": url, "records": "candles", "interval": "1m",
        "columns": common::candle_columns()}));
    let Outcome::Uploaded(again) = worker::run(env.clone(), settings.clone(), cfg, Ok(src))
        .await
        .unwrap()
    else {
        panic!("not uploaded")
    };
    assert_eq!(again.already_stored, 5, "{again:?}");
    assert_eq!(again.completeness, r.completeness);
    let data = common::read(&settings, &env.kafka_topic, 100, Duration::from_secs(3)).await;
    assert_eq!(data.len(), 5, "nothing stored twice");
}

#[tokio::test]
async fn real_broker_candles_in_every_format_from_s3_and_http() {
    let test = "real_broker_candles_in_every_format_from_s3_and_http";
    let Some(settings) = real_kafka(test) else {
        return;
    };
    let minutes = [0, 1, 2, 3];
    let files: [(&str, Vec<u8>); 3] = [
        ("candles.csv", common::candle_csv(&minutes).into_bytes()),
        ("candles.jsonl", common::candle_jsonl(&minutes).into_bytes()),
        ("candles.parquet", common::candle_parquet(&minutes)),
    ];
    let objects: Vec<(&str, &[u8])> = files.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    let Some((s3, bucket)) = common::minio(test, &objects).await else {
        return;
    };
    let http = common::serve(
        files
            .iter()
            .map(|(k, v)| (format!("/files/{k}"), v.clone()))
            .collect(),
    )
    .await;
    for (name, _) in &files {
        for url in [
            format!("s3://{bucket}/{name}"),
            format!("http://{http}/files/{name}"),
        ] {
            let env = common::env("manual_upload", None);
            let src = source(json!({"url": url, "records": "candles", "interval": "1m",
                "columns": common::candle_columns()}));
            let cfg = GenericConfig {
                wait_for_start: false,
                ..common::cfg(Some(s3.clone()))
            };
            let outcome = worker::run(env.clone(), settings.clone(), cfg, Ok(src))
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            let Outcome::Uploaded(r) = outcome else {
                panic!("{url}: not uploaded")
            };
            assert!(r.is_complete(), "{url}: {r:?}");
            assert_eq!(r.completeness.produced, 4, "{url}");
            let data = common::read(&settings, &env.kafka_topic, 4, QUIET).await;
            let keys: BTreeSet<String> = data.iter().map(|m| m.key.clone()).collect();
            assert_eq!(keys, candle_keys(&minutes), "{url}");
            for m in &data {
                let c: CandleRecord = serde_json::from_slice(&m.payload).unwrap();
                assert_eq!(c.key(), m.key);
                let i = (c.open_time - T0) / MINUTE;
                assert_eq!(c.close, format!("{i}.7"), "{url}");
                assert_eq!(c.volume, "10.25", "{url}");
            }
        }
    }
}

#[tokio::test]
async fn real_broker_trades_over_http_with_an_id_gap_and_a_bad_row() {
    let test = "real_broker_trades_over_http_with_an_id_gap_and_a_bad_row";
    let Some(settings) = real_kafka(test) else {
        return;
    };
    let csv = "id,price,qty,T,m\n\
               100,60000.10,0.5,1722470400100,true\n\
               101,60000.20,0.1,1722470400200,false\n\
               102,60000.30,0.2,1722470400300,maybe\n\
               104,60000.40,0.3,1722470400400,0\n";
    let http = common::serve(HashMap::from([(
        "/t.csv".to_owned(),
        csv.as_bytes().to_vec(),
    )]))
    .await;
    let env = common::env("manual_upload", None);
    let src = source(
        json!({"url": format!("http://{http}/t.csv"), "records": "trades",
        "columns": {"agg_id": "id", "time": "T", "buyer_maker": "m"}}),
    );
    common::command(&settings, &env, "start").await;
    let Outcome::Uploaded(r) =
        worker::run(env.clone(), settings.clone(), common::cfg(None), Ok(src))
            .await
            .unwrap()
    else {
        panic!("not uploaded")
    };
    let c = &r.completeness;
    assert_eq!((c.produced, c.expected, c.missing), (3, 5, 2), "{r:?}");
    assert_eq!(c.gaps, [(102, 104)]);
    let data = common::read(&settings, &env.kafka_topic, 3, QUIET).await;
    let mut trades: Vec<TradeRecord> = data
        .iter()
        .map(|m| {
            let t: TradeRecord = serde_json::from_slice(&m.payload).unwrap();
            assert_eq!(t.key(), m.key);
            t
        })
        .collect();
    trades.sort_by_key(|t| t.agg_id);
    assert_eq!(
        trades.iter().map(|t| t.key()).collect::<Vec<_>>(),
        ["BTCUSDT|100", "BTCUSDT|101", "BTCUSDT|104"]
    );
    assert!(trades[0].buyer_maker && !trades[2].buyer_maker);
    assert_eq!(
        (trades[0].first_trade_id, trades[0].last_trade_id),
        (100, 100)
    );
    let letters = common::read(&settings, &format!("{}-dlq", env.kafka_topic), 1, QUIET).await;
    assert_eq!(letters[0].headers["x-dlq-category"], "bool");
    assert_eq!(letters[0].payload, b"102,60000.30,0.2,1722470400300,maybe");
}

#[tokio::test]
async fn real_broker_refusals_are_permanent_and_reported() {
    let test = "real_broker_refusals_are_permanent_and_reported";
    let Some(settings) = real_kafka(test) else {
        return;
    };
    let http = common::serve(HashMap::from([(
        "/no-volume.csv".to_owned(),
        b"ts,o,h,l,c\n1,1,1,1,1\n".to_vec(),
    )]))
    .await;
    for (path, why) in [
        ("/missing.csv", "HTTP 404 Not Found"),
        ("/no-volume.csv", "volume (column \"v\")"),
    ] {
        let env = common::env("manual_upload", None);
        let src = source(
            json!({"url": format!("http://{http}{path}"), "records": "candles",
            "interval": "1m", "columns": common::candle_columns()}),
        );
        let cfg = GenericConfig {
            wait_for_start: false,
            ..common::cfg(None)
        };
        let err = worker::run(env.clone(), settings.clone(), cfg, Ok(src))
            .await
            .unwrap_err();
        assert!(matches!(err, Failure::Permanent(_)), "{err}");
        assert!(err.to_string().contains(why), "{err}");
        assert_eq!(err.exit_code(), 2);
        let last = common::events(&settings, &env).await.pop().unwrap();
        assert_eq!(last.status, Some(EventStatus::Error));
    }
    // A Queue whose source never reached the worker hears why too.
    let env = common::env("manual_upload", None);
    let cfg = GenericConfig {
        wait_for_start: false,
        ..common::cfg(None)
    };
    let err = worker::run(
        env.clone(),
        settings.clone(),
        cfg,
        Err(ConfigError::NoSource),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Failure::Permanent(_)), "{err}");
    let last = common::events(&settings, &env).await.pop().unwrap();
    assert_eq!(last.status, Some(EventStatus::Error));
    assert!(last.message.unwrap().starts_with("SOURCE is not set"));
}
