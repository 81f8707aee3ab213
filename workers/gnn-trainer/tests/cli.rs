//! The debug CLI end to end: a graph written by `streamforge-graph` (its sample, the shape
//! graph-builder writes) into a local lake directory, trained by the `gnn-trainer` binary with
//! `--graph-dir`; it prints per-epoch lines and the final metrics as JSON, and leaves the run's
//! files under `<out>/models/<graph>/<run-id>/`. Bad flags exit 2 with a message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use streamforge_graph::sample::sample_graph;
use streamforge_graph::write_graph;

#[tokio::test]
async fn trains_from_a_local_lake_directory_and_prints_json() {
    let dir = std::env::temp_dir().join(format!("gnn-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(LocalFileSystem::new_with_prefix(&dir).unwrap());
    let graph = sample_graph("sample", &["BTCUSDT", "ETHUSDT", "SOLUSDT"], 40);
    write_graph(
        &(store as Arc<dyn object_store::ObjectStore>),
        "sample",
        &graph,
    )
    .await
    .unwrap();
    let out = dir.join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_gnn-trainer"))
        .args([
            "--graph-dir",
            dir.to_str().unwrap(),
            "--model",
            "GAT",
            "--epochs",
            "7",
        ])
        .args([
            "--features",
            "RETURN,volatility",
            "--label",
            "future_volatility",
        ])
        .args([
            "--hidden",
            "8",
            "--device",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let epochs = stdout.lines().filter(|l| l.starts_with("epoch ")).count();
    assert_eq!(epochs, 7, "{stdout}");
    let json_start = stdout.find('{').unwrap();
    let summary: serde_json::Value = serde_json::from_str(&stdout[json_start..]).unwrap();
    assert_eq!(summary["model_type"], "GAT");
    assert_eq!(summary["device"], "cpu");
    assert_eq!(summary["epochs_done"], 7);
    let run_dir = out.join("models/sample/cli");
    assert_eq!(
        summary["model_path"],
        run_dir.join("checkpoint.pt").display().to_string()
    );
    for f in ["checkpoint.pt", "last.pt", "state.json", "metrics.json"] {
        assert!(run_dir.join(f).exists(), "{f}");
    }
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(
        metrics["features"],
        serde_json::json!(["return", "volatility"])
    );
    assert_eq!(metrics["label"], "future_volatility");
    assert_eq!(metrics["history"].as_array().unwrap().len(), 7);

    let bad = Command::new(env!("CARGO_BIN_EXE_gnn-trainer"))
        .args(["--graph-dir", dir.to_str().unwrap(), "--features", "macd"])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("macd") && err.contains("volatility"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
