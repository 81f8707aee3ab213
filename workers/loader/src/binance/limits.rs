//! Weight-aware rate limiting for Binance's REST API.
//!
//! Binance counts request weight per IP in one-minute windows aligned to the clock and reports
//! what was used in `X-MBX-USED-WEIGHT-1M` on every answer. The loader keeps its own count,
//! corrects it from that header (other clients on the same IP count too), and waits for the next
//! window rather than go past its budget, so in steady state it never draws a 429.
//!
//! Reference: Binance spot API, "LIMITS" and "General API Information" (HTTP 429, 418, Retry-After).

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::IntGauge;

/// Binance's published spot request-weight limit per minute.
pub const WEIGHT_LIMIT_1M: u32 = 6_000;
/// The loader's default share of it.
pub const DEFAULT_BUDGET_FRACTION: f64 = 0.9;

pub const WEIGHT_KLINES: u32 = 2;
pub const WEIGHT_AGG_TRADES: u32 = 4;
pub const WEIGHT_EXCHANGE_INFO: u32 = 20;
/// `GET /api/v3/depth` with `limit=1000`.
pub const WEIGHT_DEPTH_1000: u32 = depth_weight(1000);
/// The largest `limit` `GET /api/v3/depth` accepts.
pub const DEPTH_LIMIT_MAX: u32 = 5_000;

/// Weight of `GET /api/v3/depth` by its `limit`, as Binance documents it ("Order book"):
/// 1–100 → 5, 101–500 → 25, 501–1000 → 50, 1001–5000 → 250.
pub const fn depth_weight(limit: u32) -> u32 {
    match limit {
        0..=100 => 5,
        101..=500 => 25,
        501..=1000 => 50,
        _ => 250,
    }
}

/// Safety margin after a window boundary, for clock skew between us and the exchange.
pub const WINDOW_SKEW_MS: i64 = 250;

#[derive(Debug, Clone)]
pub struct WeightBudget {
    budget: u32,
    window: i64,
    used: u32,
}

impl WeightBudget {
    pub fn new(budget: u32) -> Self {
        Self {
            budget: budget.max(1),
            window: i64::MIN,
            used: 0,
        }
    }

    pub fn budget(&self) -> u32 {
        self.budget
    }

    fn roll(&mut self, now_ms: i64) {
        let w = now_ms.div_euclid(60_000);
        if w != self.window {
            self.window = w;
            self.used = 0;
        }
    }

    /// Take `weight` at `now_ms` if the budget allows; otherwise how long to wait first.
    pub fn try_take(&mut self, weight: u32, now_ms: i64) -> Result<(), Duration> {
        self.roll(now_ms);
        // Saturating: an absurd count from the exchange closes the window, never wraps open.
        let after = self.used.saturating_add(weight);
        if after <= self.budget {
            self.used = after;
            return Ok(());
        }
        let next = (self.window + 1) * 60_000 + WINDOW_SKEW_MS;
        Err(Duration::from_millis((next - now_ms).max(1) as u64))
    }

    /// The exchange says `used` weight is spent, in an answer to a request sent at `sent_ms` and
    /// read at `now_ms`. An answer that crossed a window boundary is ignored: the count may be of
    /// the window the request was sent in, and booking it to the new one would leave that window
    /// idle for nothing; the loader's own count stands.
    pub fn observe(&mut self, used: u32, sent_ms: i64, now_ms: i64) {
        if sent_ms.div_euclid(60_000) != now_ms.div_euclid(60_000) {
            return;
        }
        self.roll(now_ms);
        self.used = self.used.max(used);
    }

    pub fn used(&self) -> u32 {
        self.used
    }
}

/// `streamforge_loader_weight_used` and `streamforge_loader_weight_budget`: the weight spent
/// in the current one-minute window (the loader's count, corrected by the exchange's header) and
/// the loader's budget per window.
pub struct WeightGauges {
    pub used: IntGauge,
    pub budget: IntGauge,
}

static WEIGHT_GAUGES: OnceLock<Option<WeightGauges>> = OnceLock::new();

impl WeightGauges {
    fn new() -> Result<Self, prometheus::Error> {
        Ok(Self {
            used: IntGauge::new(
                "loader_weight_used",
                "Binance request weight spent in the current one-minute window",
            )?,
            budget: IntGauge::new(
                "loader_weight_budget",
                "The loader's request-weight budget per one-minute window",
            )?,
        })
    }

    /// The gauges of this process, registered in the worker's served registry the first time
    /// (unregistered when the process serves no metrics, as in tests).
    pub fn get() -> Option<&'static WeightGauges> {
        WEIGHT_GAUGES
            .get_or_init(|| {
                let g = Self::new().ok()?;
                if let Some(r) = streamforge_kit::metrics_server::served_registry() {
                    let registered = r
                        .register(Box::new(g.used.clone()))
                        .and_then(|()| r.register(Box::new(g.budget.clone())));
                    if let Err(e) = registered {
                        tracing::warn!(error = %e, "weight gauges not registered");
                    }
                }
                Some(g)
            })
            .as_ref()
    }

    /// Show `b`'s budget and what it has spent.
    pub fn show(&self, b: &WeightBudget) {
        self.budget.set(i64::from(b.budget()));
        self.used.set(i64::from(b.used()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_the_next_window_instead_of_overdrawing() {
        let mut b = WeightBudget::new(10);
        let t = 60_000 * 1000 + 45_000;
        assert!(b.try_take(4, t).is_ok());
        assert!(b.try_take(6, t).is_ok());
        assert_eq!(
            b.try_take(2, t),
            Err(Duration::from_millis(15_000 + WINDOW_SKEW_MS as u64))
        );
        assert!(
            b.try_take(2, t + 15_000).is_ok(),
            "a new window starts empty"
        );
    }

    #[test]
    fn the_exchange_count_wins_when_higher() {
        let mut b = WeightBudget::new(100);
        let t = 60_000 * 7;
        b.try_take(2, t).unwrap();
        b.observe(90, t, t + 1);
        assert_eq!(b.used(), 90);
        assert!(b.try_take(20, t + 2).is_err());
        b.observe(5, t + 2, t + 3);
        assert_eq!(
            b.used(),
            90,
            "a lower report (an older answer) does not free budget"
        );
    }

    #[test]
    fn an_absurd_used_weight_header_closes_the_window_instead_of_overflowing() {
        // `X-MBX-USED-WEIGHT-1M: 4294967295` from a broken proxy or a hostile server: the sum
        // with the next request's weight must not wrap to a small number and let it through.
        let mut b = WeightBudget::new(6000);
        let t = 60_000 * 9;
        b.observe(u32::MAX, t, t);
        assert!(b.try_take(1, t + 1).is_err());
        assert!(b.try_take(u32::MAX, t + 2).is_err());
        // The next window starts afresh.
        assert!(b.try_take(1, t + 60_000 + WINDOW_SKEW_MS).is_ok());
    }

    #[test]
    fn depth_weight_follows_the_documented_limit_bands() {
        for (limit, weight) in [
            (1, 5),
            (100, 5),
            (101, 25),
            (500, 25),
            (501, 50),
            (1000, 50),
            (1001, 250),
            (DEPTH_LIMIT_MAX, 250),
        ] {
            assert_eq!(depth_weight(limit), weight, "limit {limit}");
        }
        assert_eq!(WEIGHT_DEPTH_1000, 50);
    }

    #[test]
    fn an_answer_that_crossed_a_window_boundary_does_not_spend_the_new_window() {
        let mut b = WeightBudget::new(5_400);
        // Sent late in minute 0, answered early in minute 1 with minute 0's count.
        b.try_take(WEIGHT_KLINES, 59_900).unwrap();
        b.observe(5_300, 59_900, 60_100);
        assert_eq!(b.try_take(1_000, 60_200), Ok(()), "minute 1 is not spent");
        // An answer inside its own window still corrects the count.
        b.observe(5_300, 60_300, 60_400);
        assert!(b.try_take(1_000, 60_500).is_err());
    }

    #[test]
    fn the_gauges_show_budget_and_use() {
        let g = WeightGauges::new().unwrap();
        let mut b = WeightBudget::new(5_400);
        b.try_take(WEIGHT_KLINES, 60_000).unwrap();
        b.observe(100, 60_000, 60_001);
        g.show(&b);
        assert_eq!((g.used.get(), g.budget.get()), (100, 5_400));
        let r = streamforge_kit::metrics_server::registry();
        r.register(Box::new(g.used.clone())).unwrap();
        r.register(Box::new(g.budget.clone())).unwrap();
        let text = streamforge_kit::metrics_server::render(&r);
        assert!(
            text.contains("streamforge_loader_weight_used 100"),
            "{text}"
        );
        assert!(
            text.contains("streamforge_loader_weight_budget 5400"),
            "{text}"
        );
    }
}
