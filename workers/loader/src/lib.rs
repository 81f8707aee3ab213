//! StreamForge loaders: Binance spot market data into a Kafka data topic, with telemetry on
//! `queue-events`.
//!
//! ```text
//!  queue-control ─start─► worker ─► validate (type, range, exchangeInfo)
//!                                   ├► historical::{candles,trades} ─► sink (Kafka, keyed)
//!                                   ├► live::{candles,trades,orderbook} (WebSocket) ─► sink
//!                                   └► snapshots (REST depth on a time grid) ─► sink
//!                                        │ binance::{rest,limits,market,parse}
//!                                        └► progress ─► telemetry (queue-events)
//! ```

pub mod binance;
pub mod book;
pub mod datatype;
pub mod historical;
pub mod live;
pub mod progress;
pub mod records;
pub mod sink;
pub mod snapshots;
pub mod worker;
