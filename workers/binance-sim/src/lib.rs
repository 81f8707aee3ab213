//! A Binance spot exchange simulator for tests and benchmarks, implementing the documented
//! behaviour of the endpoints StreamForge's loaders use:
//!
//! * `GET /api/v3/exchangeInfo`, `/api/v3/klines`, `/api/v3/aggTrades`, `/api/v3/depth`,
//!   `/api/v3/time`, with Binance's payload shapes, pagination rules and error bodies;
//! * request weights, the `X-MBX-USED-WEIGHT-1M` header, 429 with `Retry-After` past the
//!   budget, and 418 for clients that keep going after a 429;
//! * deterministic data ([`market`]): the same request always returns the same candles and trades,
//!   so tests can check exactly what a loader produced; or recorded data files in Binance's own
//!   format ([`recorded`]), served instead of generated data.
//!
//! Reference: Binance spot API docs, "General API Information", "LIMITS", "Market Data endpoints".

pub mod book;
pub mod limits;
pub mod market;
pub mod recorded;
pub mod rest;
pub mod server;
pub mod state;
pub mod ws;

pub use server::{Config, Faults, WsConfig, serve};
