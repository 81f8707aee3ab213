//! The graph format shared by graph-builder and gnn-trainer: nodes, edges and a manifest as Parquet and JSON in the lake.
