//! `checkpoint.pt` is what Python's `torch.load` reads: the test trains each model a few
//! epochs, writes its checkpoint, and has `$STREAMFORGE_TORCH_PYTHON` load it with
//! `torch.load` (weights_only) and recompute the forward pass in plain PyTorch
//! (`torch_forward.py`); the logits must equal the trainer's to 1e-5.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::json;
use streamforge_gnn_trainer::config::{DeviceChoice, ModelType, TrainConfig};
use streamforge_gnn_trainer::session::Session;
use streamforge_gnn_trainer::synthetic::Synthetic;
use streamforge_kit::testing::required_env;

#[test]
fn torch_load_reads_the_checkpoint_and_plain_torch_reproduces_the_logits() {
    let Some(python) = required_env(
        "torch_load_reads_the_checkpoint_and_plain_torch_reproduces_the_logits",
        "STREAMFORGE_TORCH_PYTHON",
        "a Python with torch (scripts/torch-env.sh)",
    ) else {
        return;
    };
    let graph = Synthetic {
        symbols: 3,
        windows: 14,
        noise: 2,
        cross_asset: true,
        seed: 3,
    }
    .graph("tiny");
    let dir = std::env::temp_dir().join(format!("gnn-torch-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for model in [ModelType::Gcn, ModelType::Sage, ModelType::Gat] {
        let mut config = TrainConfig::new("tiny");
        config.model = model;
        config.hidden = 8;
        config.epochs = 5;
        config.device = DeviceChoice::Cpu;
        let mut s = Session::new(&graph, config, 1, Default::default()).unwrap();
        while !s.done() {
            s.step();
        }
        let files = s.files().unwrap();
        s.trainer.restore_best().unwrap();
        let ours = Vec::<Vec<f32>>::try_from(&s.trainer.predict(&s.prepared)).unwrap();
        let ckpt = dir.join(format!("{model}.pt"));
        std::fs::write(&ckpt, &files.checkpoint).unwrap();
        let spec = dir.join(format!("{model}.json"));
        let x = Vec::<Vec<f32>>::try_from(&s.prepared.x).unwrap();
        let body =
            json!({"model": model.as_str(), "x": x, "src": s.dataset.src, "dst": s.dataset.dst});
        std::fs::write(&spec, body.to_string()).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/torch_forward.py");
        let out = Command::new(&python)
            .arg(script)
            .arg(&ckpt)
            .arg(&spec)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Vec<Vec<f32>> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(theirs.len(), ours.len());
        let worst = ours
            .iter()
            .flatten()
            .zip(theirs.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "{model}: logits differ by {worst}");
        eprintln!(
            "{model}: {} logits agree to {worst:e}",
            ours.len() * ours[0].len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
