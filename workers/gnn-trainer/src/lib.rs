//! gnn-trainer: GCN, GAT and GraphSAGE with tch on graph-builder's graphs, with baselines, checkpoints and per-epoch telemetry.
