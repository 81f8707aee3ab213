//! visualizer: the platform's window. Two modes, one binary:
//!
//! * **service** (`visualizer serve`, a Deployment): a web UI with seven tabs (Webhooks, Kafka
//!   Topic, Candlestick Chart, Heatmap Levels, Indicators, GNN Output, Graph View) over a JSON
//!   API and WebSockets;
//! * **Queue target** (`visualizer report`, the default when `QUEUE_ID` is set): renders a
//!   self-contained HTML report to `outputPath` and reports its path.
//!
//! ```text
//!  queue-events ─► events (ring + broadcast) ─────────────┐
//!  any allowed topic ─► topic_tail (one consumer, fan-out) ├─► routes ─► browser
//!  ws_orderbook topic ─► topic_read ─► heatmap ────────────┤      (api: JSON, ws: live)
//!  lake: candles ─► indicators; graphs/; models/ ──────────┘
//!  Queue run: lake ─► report (inline SVG) ─► output (s3:// or a path) ─► finished {output_path}
//! ```

pub mod api;
pub mod app;
pub mod config;
pub mod events;
pub mod filter;
pub mod heatmap;
pub mod lake;
pub mod output;
pub mod page;
pub mod report;
pub mod routes;
pub mod run;
pub mod server;
pub mod topic_read;
pub mod topic_tail;
