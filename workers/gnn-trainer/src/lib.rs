//! gnn-trainer: node classification with GCN, GAT and GraphSAGE written with tch (libtorch), on
//! the graphs graph-builder writes (`streamforge-graph`), with baselines, checkpoints Python's
//! `torch.load` reads, resume after a restart and per-epoch telemetry.
//!
//! ```text
//!  config ──► read_graph ──► dataset ──► prepare (split by time, standardise) ──► trainer
//!                                                                    │ baselines  │ per epoch
//!                                          outputs (checkpoint.pt, last.pt, state.json,
//!                                                   metrics.json) ◄───┴────────────┘
//! ```
//!
//! `worker` runs this on the kit's lifecycle (commands, telemetry); `cli` runs it from a local
//! directory without Kafka.

pub mod baselines;
pub mod config;
pub mod dataset;
pub mod driver;
pub mod layers;
pub mod message;
pub mod model;
pub mod objective;
pub mod outputs;
pub mod prepare;
pub mod report;
pub mod session;
pub mod split;
pub mod standardize;
pub mod state;
pub mod synthetic;
pub mod torch_file;
pub mod trainer;
pub mod worker;
