//! The simulator's shared state: its configuration and faults, the markets, the weight meter
//! and the depth books, behind one mutex that the REST handlers and the WebSocket streams share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::limits::{self, WeightMeter};
use crate::market::Market;

/// Faults a test can switch on.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Answer every request with 418.
    pub banned: bool,
    /// Answer the n-th request (1-based) with 429 and `Retry-After: 1`.
    pub throttle_request: Option<u64>,
    /// Answer every request with 500 after this many.
    pub fail_after: Option<u64>,
}

/// WebSocket behaviour and faults.
#[derive(Clone, Debug)]
pub struct WsConfig {
    /// The server pings this often (Binance: every 20 s).
    pub ping_every: std::time::Duration,
    /// Close a stream connection after this many messages.
    pub disconnect_after: Option<u64>,
    /// Lose the n-th depth event of a connection (a gap in `U`/`u`).
    pub drop_depth_event: Option<u64>,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            ping_every: std::time::Duration::from_secs(20),
            disconnect_after: None,
            drop_depth_event: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub symbols: Vec<String>,
    pub trade_step_ms: i64,
    pub weight_limit: u32,
    /// The simulated "now" in ms; data after it does not exist. Defaults to the real clock.
    pub now_ms: Option<i64>,
    pub faults: Faults,
    pub ws: WsConfig,
    /// Recorded data served instead of generated data where it exists.
    pub recorded: crate::recorded::Recorded,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            trade_step_ms: 250,
            weight_limit: limits::WEIGHT_LIMIT_1M,
            now_ms: None,
            faults: Faults::default(),
            ws: WsConfig::default(),
            recorded: crate::recorded::Recorded::default(),
        }
    }
}

pub struct State {
    pub config: Config,
    pub meter: WeightMeter,
    pub(crate) markets: HashMap<String, Market>,
    started: std::time::Instant,
    books: HashMap<String, crate::book::Book>,
    /// Pongs received on stream connections.
    pub pongs: Arc<std::sync::atomic::AtomicU64>,
}

pub type Shared = Arc<Mutex<State>>;

pub(crate) fn real_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl State {
    pub fn new(config: Config) -> Self {
        let markets = config
            .symbols
            .iter()
            .map(|s| (s.clone(), Market::new(s, config.trade_step_ms)))
            .collect();
        Self {
            meter: WeightMeter::new(config.weight_limit),
            config,
            markets,
            started: std::time::Instant::now(),
            books: HashMap::new(),
            pongs: Arc::default(),
        }
    }

    pub fn market(&self, symbol: &str) -> Option<&Market> {
        self.markets.get(symbol)
    }

    /// The depth book's current update id: one update every `UPDATE_EVERY_MS` since start.
    pub fn update_id(&self) -> i64 {
        self.started.elapsed().as_millis() as i64 / crate::book::UPDATE_EVERY_MS
    }

    /// The current book of `symbol`, advanced to the current update id.
    pub fn book(&mut self, symbol: &str) -> Option<crate::book::Book> {
        let mid = crate::book::mid_of(self.markets.get(symbol)?);
        let id = self.update_id();
        let b = self
            .books
            .entry(symbol.to_owned())
            .or_insert_with(|| crate::book::Book::initial(mid));
        b.advance_to(mid, id);
        Some(b.clone())
    }
    pub(crate) fn now_ms(&self) -> i64 {
        self.config.now_ms.unwrap_or_else(real_now_ms)
    }
}

/// Counters a test or benchmark reads back.
pub fn stats(state: &Shared) -> Value {
    let st = state.lock().map(|s| {
        json!({
            "requests": s.meter.total_requests,
            "throttled_429": s.meter.total_429,
            "banned_418": s.meter.total_418,
            "weight_limit": s.meter.limit,
            "windows": s.meter.history().collect::<Vec<_>>(),
            "pongs": s.pongs.load(std::sync::atomic::Ordering::Relaxed),
        })
    });
    st.unwrap_or(Value::Null)
}

pub fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}
