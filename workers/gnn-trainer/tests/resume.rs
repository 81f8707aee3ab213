//! A run that stops part-way saves `last.pt`, `checkpoint.pt` and `state.json` in the lake
//! layout; a new session (a restarted pod of the same Queue) finds them and goes on from the
//! saved epoch, with the history and best-so-far intact. Saved files of other settings are
//! not used.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use streamforge_gnn_trainer::config::{DeviceChoice, ModelType, TrainConfig};
use streamforge_gnn_trainer::outputs::{CHECKPOINT, LAST, ModelStore, STATE};
use streamforge_gnn_trainer::session::Session;
use streamforge_gnn_trainer::synthetic::Synthetic;
use streamforge_gnn_trainer::torch_file::read_state_dict;

fn config() -> TrainConfig {
    let mut c = TrainConfig::new("resumable");
    c.model = ModelType::Gcn;
    c.epochs = 20;
    c.hidden = 8;
    c.device = DeviceChoice::Cpu;
    c
}

#[tokio::test]
async fn a_restarted_run_resumes_from_its_saved_epoch() {
    let graph = Synthetic {
        symbols: 2,
        windows: 40,
        noise: 1,
        cross_asset: true,
        seed: 5,
    }
    .graph("resumable");
    let dir = std::env::temp_dir().join(format!("gnn-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(LocalFileSystem::new_with_prefix(&dir).unwrap());
    let models = ModelStore::new(store, dir.display().to_string(), "resumable", "q-1");
    assert!(models.resume_files().await.unwrap().state.is_none());

    // First pod: 8 epochs, then stopped.
    let mut first = Session::new(&graph, config(), 1, Default::default()).unwrap();
    for _ in 0..8 {
        first.step();
    }
    let files = first.files().unwrap();
    models.save(&files).await.unwrap();
    let last_weights = first.trainer.weights();
    let best_before = first.trainer.best.clone().unwrap();
    for f in [CHECKPOINT, LAST, STATE] {
        assert!(dir.join("models/resumable/q-1").join(f).exists(), "{f}");
    }
    assert_eq!(
        models.uri(LAST),
        format!("{}/models/resumable/q-1/last.pt", dir.display())
    );

    // Second pod: finds the state and goes on from epoch 8.
    let resume = models.resume_files().await.unwrap();
    let mut second = Session::new(&graph, config(), 2, resume.clone()).unwrap();
    assert_eq!(second.resumed_from, Some(8));
    assert_eq!(second.trainer.epoch, 8);
    assert_eq!(second.trainer.best.clone().unwrap(), best_before);
    for ((n1, a), (n2, b)) in last_weights.iter().zip(second.trainer.weights()) {
        assert_eq!(n1, &n2);
        assert!(a.equal(&b), "{n1} restored");
    }
    let mut epochs = Vec::new();
    while !second.done() {
        epochs.push(second.step().epoch);
    }
    assert_eq!(epochs, (9..=20).collect::<Vec<_>>());
    assert_eq!(second.trainer.history.len(), 20);
    let report = second.report("m", "x");
    assert_eq!(report.resumed_from, Some(8));
    assert_eq!(report.epochs_done, 20);
    // The saved checkpoint holds the best weights by name.
    let names: Vec<String> = read_state_dict(&second.files().unwrap().checkpoint)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        ["conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight"]
    );

    // Other settings: the saved state is not used.
    let mut other = config();
    other.hidden = 16;
    let fresh = Session::new(&graph, other, 2, resume).unwrap();
    assert_eq!(fresh.resumed_from, None);
    assert_eq!(fresh.trainer.epoch, 0);
    assert!(fresh.resume_note.unwrap().contains("other settings"));
    let _ = std::fs::remove_dir_all(&dir);
}
