//! The checked-in CRD is what the types generate, and every sample is a Queue the API server's
//! rules accept.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::Deserialize;
use std::path::Path;

use streamforge_api::Queue;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn checked_in_crd_is_current() {
    let generated = streamforge_operator::crd_yaml().unwrap();
    for path in [
        "crds/queue.yaml",
        "manifests/crd.yaml",
        "charts/streamforge/files/queue-crd.yaml",
    ] {
        let on_disk = std::fs::read_to_string(root().join(path)).unwrap_or_default();
        assert!(
            on_disk == generated,
            "{path} is stale: run `cargo run -p streamforge-operator --bin crdgen > crds/queue.yaml && cp crds/queue.yaml manifests/crd.yaml && cp crds/queue.yaml charts/streamforge/files/queue-crd.yaml`"
        );
    }
}

#[test]
fn samples_are_valid_queues() {
    let mut seen = 0;
    for entry in std::fs::read_dir(root().join("samples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // A file may hold several Queues (`samples/pipeline.yaml`).
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let q = Queue::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if let Err(e) = q.validate_cel() {
                panic!("{} breaks a CRD rule: {e:?}", path.display());
            }
            seen += 1;
        }
    }
    assert!(seen >= 4, "expected the sample Queues, found {seen}");
}
