//! The graph format: what is written is read back unchanged, through memory and a local
//! directory, pyarrow (an independent reader) sees the documented schema, and invalid graphs are
//! refused on both sides.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use futures::StreamExt;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use streamforge_graph::columns::ParquetColumns;
use streamforge_graph::sample::sample_graph;
use streamforge_graph::{EdgeKind, GraphError, nodes_path, read_graph, write_graph};

fn memory() -> Arc<dyn ObjectStore> {
    Arc::new(InMemory::new())
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_graph_reads_back_as_written() {
    let store = memory();
    let g = sample_graph("g1", &["BTCUSDT", "ETHUSDT", "SOLUSDT"], 5);
    write_graph(&store, "g1", &g).await.unwrap();
    let back = read_graph(&store, "g1").await.unwrap();
    assert_eq!(back, g);
    assert_eq!(
        back.nodes.label("price_up").unwrap()[4],
        None,
        "null label kept"
    );
    assert_eq!(
        back.edges
            .kind
            .iter()
            .filter(|k| **k == EdgeKind::CrossAsset)
            .count(),
        30
    );
}

#[tokio::test]
async fn a_local_directory_holds_the_documented_files_and_a_rewrite_replaces() {
    let dir = temp_dir("graph-format");
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&dir).unwrap());
    write_graph(&store, "g2", &sample_graph("g2", &["A", "B"], 10))
        .await
        .unwrap();
    for f in ["manifest.json", "nodes.parquet", "edges.parquet"] {
        assert!(dir.join("graphs/g2").join(f).is_file(), "{f} missing");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("graphs/g2/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["format"], 1);
    assert_eq!(manifest["node_count"], 20);
    assert_eq!(
        manifest["features"],
        serde_json::json!(["return", "volatility"])
    );
    let nodes = ParquetColumns::open(
        std::fs::read(dir.join("graphs/g2/nodes.parquet"))
            .unwrap()
            .into(),
        "nodes",
    )
    .unwrap();
    assert_eq!(
        nodes.names(),
        [
            "node_id",
            "symbol",
            "window_start",
            "return",
            "volatility",
            "price_up",
            "future_volatility"
        ]
    );
    // Same name, smaller graph: nothing of the first one is left.
    let small = sample_graph("g2", &["A"], 3);
    write_graph(&store, "g2", &small).await.unwrap();
    assert_eq!(read_graph(&store, "g2").await.unwrap(), small);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn unknown_manifest_fields_are_kept() {
    let store = memory();
    let mut g = sample_graph("g3", &["A", "B"], 3);
    g.manifest
        .extra
        .insert("future_field".into(), serde_json::json!({"x": 1}));
    write_graph(&store, "g3", &g).await.unwrap();
    let back = read_graph(&store, "g3").await.unwrap();
    assert_eq!(back.manifest.extra["future_field"]["x"], 1);
}

#[tokio::test]
async fn a_missing_graph_says_where_it_looked() {
    let e = read_graph(&memory(), "nothing").await.unwrap_err();
    assert!(matches!(e, GraphError::NotFound { .. }), "{e}");
    assert!(
        e.to_string().contains("graphs/nothing/manifest.json"),
        "{e}"
    );
    assert!(!e.is_transient());
}

#[tokio::test]
async fn a_broken_nodes_file_is_a_clear_error() {
    let store = memory();
    write_graph(&store, "g4", &sample_graph("g4", &["A", "B"], 3))
        .await
        .unwrap();
    store
        .put(
            &Path::from(nodes_path("g4")),
            b"not parquet".to_vec().into(),
        )
        .await
        .unwrap();
    let e = read_graph(&store, "g4").await.unwrap_err();
    assert!(matches!(e, GraphError::Parquet { .. }), "{e}");
    assert!(e.to_string().contains("graphs/g4/nodes.parquet"), "{e}");
}

/// One way to break a valid graph.
type Breaker = Box<dyn Fn(&mut streamforge_graph::Graph)>;

#[tokio::test]
async fn invalid_graphs_and_names_are_refused_before_anything_is_written() {
    let store = memory();
    let good = sample_graph("g5", &["A", "B"], 4);
    let cases: Vec<(&str, Breaker)> = vec![
        (
            "goes back in time",
            Box::new(|g| {
                let i = g
                    .edges
                    .kind
                    .iter()
                    .position(|k| *k == EdgeKind::Temporal)
                    .unwrap();
                std::mem::swap(&mut g.edges.src[i], &mut g.edges.dst[i]);
            }),
        ),
        (
            "joins two symbols",
            Box::new(|g| {
                g.edges.push(0, 5, EdgeKind::Temporal, 1.0);
                g.manifest.edge_count += 1;
            }),
        ),
        (
            "does not join two symbols in one window",
            Box::new(|g| {
                g.edges.push(0, 5, EdgeKind::CrossAsset, 1.0);
                g.manifest.edge_count += 1;
            }),
        ),
        ("leaves the", Box::new(|g| g.edges.dst[0] = 99)),
        ("is NaN", Box::new(|g| g.nodes.features[0].1[2] = f64::NAN)),
        ("not dense", Box::new(|g| g.nodes.node_id[3] = 7)),
        (
            "not 0, 1 or null",
            Box::new(|g| g.nodes.labels[1].1[0] = Some(2)),
        ),
        (
            "differ from the manifest",
            Box::new(|g| g.manifest.features.reverse()),
        ),
        ("manifest says", Box::new(|g| g.manifest.node_count = 1)),
        (
            "differ in length",
            Box::new(|g| {
                g.nodes.symbol.pop();
            }),
        ),
        ("format 2", Box::new(|g| g.manifest.format = 2)),
    ];
    for (what, break_it) in cases {
        let mut g = good.clone();
        break_it(&mut g);
        let e = write_graph(&store, "g5", &g).await.unwrap_err();
        assert!(e.to_string().contains(what), "expected {what:?}, got {e}");
    }
    assert!(store.list(None).next().await.is_none(), "nothing written");
    let e = write_graph(&store, "../x", &sample_graph("../x", &["A"], 2))
        .await
        .unwrap_err();
    assert!(matches!(e, GraphError::InvalidName { .. }), "{e}");
    let e = write_graph(&store, "other", &good).await.unwrap_err();
    assert!(e.to_string().contains("written as"), "{e}");
}
