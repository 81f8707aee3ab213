//! Binance spot: one job per layer. `rest` is the raw HTTP client (weights, 429/418, retries),
//! `limits` the weight budget, `parse` wire → records, `market` the typed calls,
//! `ws` the WebSocket stream client.

pub mod limits;
pub mod market;
pub mod parse;
pub mod rest;
pub mod ws;
