//! The debug CLI: train from a local lake directory (`<graph-dir>/graphs/<name>/...`, read
//! through object_store's `LocalFileSystem`) or from a synthetic graph, without Kafka or a
//! cluster; print one line per epoch and the final metrics as JSON; write the run's files under
//! `<out>/models/<name>/<run-id>/`. `--export` writes the graph in the lake layout instead
//! (for the PyTorch Geometric comparison).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use streamforge_gnn_trainer::config::{TrainConfig, parse_list};
use streamforge_gnn_trainer::driver::{Job, Observer, Ready, drive};
use streamforge_gnn_trainer::outputs::{CHECKPOINT, METRICS, ModelStore, PREDICTIONS};
use streamforge_gnn_trainer::session::SavedFiles;
use streamforge_gnn_trainer::synthetic::Synthetic;
use streamforge_gnn_trainer::trainer::EpochRecord;
use streamforge_graph::{read_graph, write_graph};

#[derive(Parser, Debug)]
#[command(
    name = "gnn-trainer",
    about = "Train a GNN on a graph-builder graph from a local directory (no arguments: run as the worker)"
)]
pub struct Args {
    /// A lake directory holding graphs/<name>/{manifest.json,nodes.parquet,edges.parquet}.
    #[arg(long)]
    graph_dir: Option<PathBuf>,
    /// The graph's name (default: the only graph under --graph-dir, or "synthetic").
    #[arg(long)]
    graph_name: Option<String>,
    /// Train on a synthetic graph of this many windows instead (see `synthetic`).
    #[arg(long)]
    synthetic: Option<usize>,
    #[arg(long, default_value_t = 4)]
    synthetic_symbols: usize,
    #[arg(long, default_value_t = 6)]
    synthetic_noise: usize,
    /// GCN, GAT or GraphSAGE.
    #[arg(long, default_value = "GraphSAGE")]
    model: String,
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Comma-separated feature names (default: all).
    #[arg(long)]
    features: Option<String>,
    #[arg(long, default_value = "price_up")]
    label: String,
    /// CE, BCE or focal.
    #[arg(long, default_value = "CE")]
    loss: String,
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    #[arg(long, default_value_t = 32)]
    hidden: usize,
    /// cpu, cuda, cuda:N (default: CUDA when available).
    #[arg(long, default_value = "auto")]
    device: String,
    #[arg(long, default_value_t = 42)]
    seed: i64,
    /// Where models/<name>/<run-id>/ is written (default: --graph-dir, else ./gnn-out).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value = "cli")]
    run_id: String,
    /// Write the graph (synthetic or read) to this lake directory and exit.
    #[arg(long)]
    export: Option<PathBuf>,
    /// Print only the final JSON.
    #[arg(long)]
    quiet: bool,
}

struct Printer {
    quiet: bool,
}

impl Observer for Printer {
    async fn ready(&mut self, r: &Ready) {
        if !self.quiet {
            eprintln!(
                "device {}, {} nodes ({} labelled), features {:?}{}",
                r.device,
                r.nodes,
                r.labelled,
                r.features,
                r.resume_note
                    .as_deref()
                    .map(|n| format!(", {n}"))
                    .unwrap_or_default()
            );
        }
    }

    async fn epoch(&mut self, r: &EpochRecord, epochs: usize) {
        if !self.quiet {
            println!(
                "epoch {:>4}/{epochs} loss {:.4} train {:.3} val {:.3} best {:.3}@{} ({:.2} ms)",
                r.epoch,
                r.loss,
                r.train_accuracy,
                r.val_accuracy,
                r.best_val_accuracy,
                r.best_epoch,
                r.seconds * 1000.0
            );
        }
    }

    async fn save(&mut self, _files: SavedFiles) {}
}

fn local(dir: &PathBuf) -> anyhow::Result<Arc<dyn ObjectStore>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(Arc::new(
        LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("opening {}", dir.display()))?,
    ))
}

fn only_graph(dir: &std::path::Path) -> anyhow::Result<String> {
    let graphs = dir.join("graphs");
    let names: Vec<String> = std::fs::read_dir(&graphs)
        .with_context(|| format!("listing {}", graphs.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("manifest.json").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("no graph under {}", graphs.display()),
        many => bail!(
            "several graphs under {}: {many:?}; pick one with --graph-name",
            graphs.display()
        ),
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (graph, name, default_out) = match (&args.graph_dir, args.synthetic) {
        (Some(dir), None) => {
            let name = match &args.graph_name {
                Some(n) => n.clone(),
                None => only_graph(dir)?,
            };
            let graph = read_graph(&local(dir)?, &name).await?;
            (graph, name, dir.clone())
        }
        (None, Some(windows)) => {
            let name = args
                .graph_name
                .clone()
                .unwrap_or_else(|| "synthetic".into());
            let graph = Synthetic {
                symbols: args.synthetic_symbols,
                windows,
                noise: args.synthetic_noise,
                cross_asset: true,
                seed: args.seed as u64,
            }
            .graph(&name);
            (graph, name, PathBuf::from("gnn-out"))
        }
        _ => bail!("give one of --graph-dir or --synthetic"),
    };
    if let Some(dir) = &args.export {
        write_graph(&local(dir)?, &name, &graph).await?;
        println!("{}", dir.join("graphs").join(&name).display());
        return Ok(());
    }
    let mut config = TrainConfig::new(&name);
    config.epochs = args.epochs;
    config.model = args.model.parse()?;
    config.features = args.features.as_deref().map(parse_list).unwrap_or_default();
    config.label = args.label.clone();
    config.loss = args.loss.parse()?;
    config.learning_rate = args.lr;
    config.hidden = args.hidden;
    config.device = args.device.parse()?;
    config.seed = args.seed;
    let out = args.out.clone().unwrap_or(default_out);
    let base = std::path::absolute(&out).unwrap_or_else(|_| out.clone());
    let models = ModelStore::new(
        local(&out)?,
        base.display().to_string(),
        &name,
        &args.run_id,
    );
    let job = Job {
        graph,
        config,
        run: 1,
        resume: Default::default(),
        model_uri: models.uri(CHECKPOINT),
        metrics_uri: models.uri(METRICS),
        save_every: Duration::MAX,
    };
    let mut printer = Printer { quiet: args.quiet };
    let outcome = drive(job, &mut printer, std::future::pending()).await?;
    models.save(&outcome.files).await?;
    let report = outcome.report;
    models.put(PREDICTIONS, outcome.predictions).await?;
    models
        .put(METRICS, serde_json::to_vec_pretty(&report)?)
        .await?;
    let mut summary = report.finished_extra();
    if let serde_json::Value::Object(m) = &mut summary {
        m.insert("mean_epoch_ms".into(), report.mean_epoch_ms.into());
        m.insert("epochs_done".into(), report.epochs_done.into());
        m.insert("message".into(), report.message().into());
    }
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
