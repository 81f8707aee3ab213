//! The whole pipeline in the cluster, as `samples/pipeline.yaml` writes it: two loaders with
//! lake sinks against the exchange simulator → graph-builder (waits for both) → gnn-trainer
//! (waits for the graph). The sample is applied as it is, with fresh symbols and a fresh graph
//! name so that the lake starts empty. Checked: the waiting Queues show `Waiting` with whom,
//! nothing starts early, the trainer's epochs pass through `queue-events` into status, and the
//! end shows test accuracy beside both baselines with the checkpoint in MinIO.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use kube::api::Api;
use streamforge_api::{Phase, Queue, QueueEvent};
use streamforge_e2e::{Env, eventually, fresh_tag, read_topic, wait_phase};

use common::s3;

const NAMES: [&str; 6] = [
    "pipeline-btcusdt-candles",
    "pipeline-ethusdt-candles",
    "pipeline-graph",
    "pipeline-gnn",
    "pipeline-report-candles",
    "pipeline-report-graph",
];

fn phase(q: &Queue) -> Option<Phase> {
    q.status.as_ref().and_then(|s| s.phase)
}

#[tokio::test]
async fn p1_the_sample_pipeline_loads_builds_a_graph_and_trains_in_order() {
    let Some((env, client)) = Env::setup("p1_pipeline").await else {
        return;
    };
    env.apply_minio_secret().unwrap();
    for name in NAMES {
        env.delete_queue(name);
    }
    let tag = fresh_tag('P');
    let (a, b) = (format!("{tag}AUSDT"), format!("{tag}BUSDT"));
    let graph = format!("pipeline_{}", tag.to_lowercase());
    // graph-builder also writes the graph as an ArangoDB named graph when ARANGO_URL is set (the
    // helm values set it for every worker).
    let services = common::services(&[&a, &b]).await;

    let sample = std::fs::read_to_string(env.repo.join("samples/pipeline.yaml")).unwrap();
    let yaml = sample
        .replace("BTCUSDT", &a)
        .replace("ETHUSDT", &b)
        .replace("pipeline_graph_5m_2024_08_01", &graph);
    env.apply(&yaml).unwrap();
    let api: Api<Queue> = Api::namespaced(client, &env.namespace);

    // The trainer waits, and says for whom, while the loaders work.
    let waiting = eventually(
        "pipeline-gnn shows Waiting",
        Duration::from_secs(60),
        || async {
            let q = api.get("pipeline-gnn").await?;
            Ok((phase(&q) == Some(Phase::Waiting)).then_some(q))
        },
    )
    .await
    .unwrap();
    let msg = waiting.status.unwrap().message.unwrap_or_default();
    assert!(msg.contains("pipeline-graph"), "{msg}");

    // Nothing of the graph-builder runs before both loaders succeeded.
    let loaders_done = eventually("both loaders succeed", Duration::from_secs(300), || async {
        let g = api.get("pipeline-graph").await?;
        let mut done = 0;
        for name in &NAMES[..2] {
            let q = api.get(name).await?;
            assert_ne!(phase(&q), Some(Phase::Failed), "{name}: {:?}", q.status);
            done += usize::from(phase(&q) == Some(Phase::Succeeded));
        }
        if done < 2 {
            assert!(
                matches!(phase(&g), None | Some(Phase::Waiting)),
                "pipeline-graph left Waiting before its loaders succeeded: {:?}",
                g.status
            );
        }
        Ok((done == 2).then_some(()))
    })
    .await;
    loaders_done.unwrap();

    let g = wait_phase(
        &api,
        "pipeline-graph",
        Phase::Succeeded,
        Duration::from_secs(300),
    )
    .await;
    let gs = g.status.unwrap();
    let built = gs.graph.expect("status.graph after graph-builder finished");
    let nodes = built.nodes.unwrap();
    assert!(
        nodes > 400,
        "two symbols' 288 windows, less warm-up: {nodes}"
    );
    assert!(built.edges.unwrap() > nodes / 2, "{built:?}");
    assert!(
        built.graph_path.as_deref().unwrap_or("").contains(&graph),
        "{built:?}"
    );

    {
        let db = services.arango.lock().unwrap();
        assert!(
            db.graphs.contains_key(&graph),
            "named graph {graph} in ArangoDB"
        );
        let vertices = &db.collections[&format!("{graph}_nodes")];
        let edges = &db.collections[&format!("{graph}_edges")];
        assert_eq!(vertices.docs.len() as u64, nodes);
        assert!(edges.edge);
        assert_eq!(Some(edges.docs.len() as u64), built.edges);
    }

    let t = wait_phase(
        &api,
        "pipeline-gnn",
        Phase::Succeeded,
        Duration::from_secs(600),
    )
    .await;
    let st = t.status.unwrap();
    let training = st.training.clone().expect("status.training");
    println!("pipeline-gnn training: {training:?}");
    assert_eq!(training.epochs, Some(60));
    assert!(training.epoch.is_some_and(|e| e >= 1), "{training:?}");
    for (what, v) in [
        ("test", training.test_accuracy),
        ("majority", training.baseline_majority_accuracy),
        ("logistic", training.baseline_logistic_accuracy),
        ("best validation", training.best_val_accuracy),
    ] {
        let v = v.unwrap_or_else(|| panic!("{what} accuracy missing: {training:?}"));
        assert!((0.0..=1.0).contains(&v), "{what}: {v}");
    }
    assert!(training.beats_baselines.is_some());
    let model = training.model_path.clone().unwrap();
    assert!(model.starts_with("s3://streamforge/models/"), "{model}");

    // Every epoch went through queue-events, in order, before the end.
    let queue_id = st.queue_id.unwrap();
    let epochs: Vec<u64> = read_topic(&env.kafka, "queue-events", |bytes| {
        let ev = QueueEvent::from_json(bytes).ok()?;
        (ev.queue_id == queue_id && ev.status.as_ref().map(|s| s.as_str()) == Some("training"))
            .then(|| ev.extra.get("epoch").and_then(|e| e.as_u64()))
            .flatten()
    })
    .await
    .unwrap();
    assert!(epochs.len() >= 2, "training events: {epochs:?}");
    assert!(epochs.windows(2).all(|w| w[0] < w[1]), "{epochs:?}");
    assert_eq!(epochs.last(), Some(&60));

    // The checkpoint and the metrics are in MinIO where status says.
    let key = model.trim_start_matches("s3://streamforge/");
    let listing = s3(&["ls", "streamforge", &format!("models/{graph}/")]);
    assert!(listing.contains(key), "{key} not in {listing}");
    assert!(listing.contains("metrics.json"), "{listing}");
    assert!(listing.contains("predictions.json"), "{listing}");
    let metrics: serde_json::Value = serde_json::from_str(&s3(&[
        "cat",
        "streamforge",
        training
            .metrics_path
            .as_deref()
            .unwrap()
            .trim_start_matches("s3://streamforge/"),
    ]))
    .unwrap();
    assert_eq!(
        metrics["test_accuracy"].as_f64(),
        training.test_accuracy,
        "{metrics}"
    );

    // The visualizer's reports: in MinIO where each Queue's status says, drawing the data.
    for (name, expected, marks) in [
        (
            "pipeline-report-candles",
            format!("s3://visuals/pipeline/{a}_2024_08_01/index.html"),
            r#"class="candle""#,
        ),
        ("pipeline-report-graph", String::new(), r#"class="node""#),
    ] {
        let q = wait_phase(&api, name, Phase::Succeeded, Duration::from_secs(300)).await;
        let st = q.status.unwrap();
        let path = st.output_path.clone().expect("status.outputPath");
        let expected = if expected.is_empty() {
            format!(
                "s3://streamforge/visuals/{}/index.html",
                st.queue_id.unwrap()
            )
        } else {
            expected
        };
        assert_eq!(path, expected, "{name}");
        let (bucket, key) = path.trim_start_matches("s3://").split_once('/').unwrap();
        let html = s3(&["cat", bucket, key]);
        println!(
            "{name}: {path}, {} bytes, {} marks",
            html.len(),
            html.matches(marks).count()
        );
        assert!(html.starts_with("<!doctype html>"), "{name}");
        assert!(html.matches(marks).count() >= 10, "{name} draws its data");
    }

    for name in NAMES {
        env.delete_queue(name);
    }
}
