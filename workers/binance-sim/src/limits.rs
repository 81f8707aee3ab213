//! Request-weight accounting as Binance documents it: weights per endpoint, a budget per
//! minute window, 429 with `Retry-After` past it, and a 418 ban for clients that keep going.
//!
//! Reference: Binance spot API, "LIMITS" (IP limits, `X-MBX-USED-WEIGHT-(intervalNum)(intervalLetter)`).

/// Weight limit per minute Binance publishes for spot (`REQUEST_WEIGHT`, 1 MINUTE).
pub const WEIGHT_LIMIT_1M: u32 = 6_000;
/// 429s tolerated in one window before the client is banned.
pub const VIOLATIONS_BEFORE_BAN: u32 = 5;
/// Length of a ban, in seconds (Binance scales from 2 minutes up to 3 days).
pub const BAN_SECS: i64 = 120;

pub const WEIGHT_KLINES: u32 = 2;
pub const WEIGHT_AGG_TRADES: u32 = 4;
pub const WEIGHT_EXCHANGE_INFO: u32 = 20;
pub const WEIGHT_TIME: u32 = 1;

/// `GET /api/v3/depth` without `limit`.
pub const DEPTH_DEFAULT_LIMIT: u32 = 100;
/// The largest `limit` `GET /api/v3/depth` accepts ("Default: 100; Maximum: 5000").
pub const DEPTH_MAX_LIMIT: u32 = 5_000;

/// Weight of `GET /api/v3/depth` by `limit`: 1–100 → 5, 101–500 → 25, 501–1000 → 50,
/// 1001–5000 → 250 (Binance spot, "Order book", Weight).
pub fn depth_weight(limit: u32) -> u32 {
    match limit {
        0..=100 => 5,
        101..=500 => 25,
        501..=1000 => 50,
        _ => 250,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok {
        used: u32,
    },
    /// 429: retry after this many seconds.
    TooMany {
        used: u32,
        retry_after: i64,
    },
    /// 418: banned until this time (ms).
    Banned {
        until_ms: i64,
        used: u32,
    },
}

/// Windows of [`WeightMeter::history`] kept (the oldest are dropped).
pub const HISTORY_WINDOWS: usize = 120;

/// One minute window as the meter counted it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct WindowUse {
    /// Start of the window, ms since the epoch.
    pub start_ms: i64,
    /// The weight counted, as `X-MBX-USED-WEIGHT-1M` reported it (refused requests count too).
    pub used: u32,
    pub requests: u64,
    pub throttled_429: u64,
    pub banned_418: u64,
}

#[derive(Debug, Default)]
pub struct WeightMeter {
    pub limit: u32,
    window: i64,
    used: u32,
    violations: u32,
    banned_until: i64,
    pub total_429: u64,
    pub total_418: u64,
    pub total_requests: u64,
    history: std::collections::VecDeque<WindowUse>,
}

impl WeightMeter {
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// The windows that saw requests, oldest first (at most [`HISTORY_WINDOWS`]).
    pub fn history(&self) -> impl Iterator<Item = &WindowUse> {
        self.history.iter()
    }

    /// The history entry of the current window.
    fn current(&mut self) -> Option<&mut WindowUse> {
        self.history.back_mut()
    }

    /// Charge `weight` for a request at `now_ms`.
    pub fn charge(&mut self, weight: u32, now_ms: i64) -> Verdict {
        let verdict = self.judge(weight, now_ms);
        if let Some(w) = self.current() {
            w.requests += 1;
            match verdict {
                Verdict::Ok { used } => w.used = used,
                Verdict::TooMany { used, .. } => {
                    w.used = used;
                    w.throttled_429 += 1;
                }
                Verdict::Banned { used, .. } => {
                    w.used = used;
                    w.banned_418 += 1;
                }
            }
        }
        verdict
    }

    fn judge(&mut self, weight: u32, now_ms: i64) -> Verdict {
        self.total_requests += 1;
        let window = now_ms.div_euclid(60_000);
        if window != self.window || self.history.is_empty() {
            self.window = window;
            self.used = 0;
            self.violations = 0;
            if self.history.len() >= HISTORY_WINDOWS {
                self.history.pop_front();
            }
            self.history.push_back(WindowUse {
                start_ms: window.saturating_mul(60_000),
                ..WindowUse::default()
            });
        }
        if now_ms < self.banned_until {
            self.total_418 += 1;
            return Verdict::Banned {
                until_ms: self.banned_until,
                used: self.used,
            };
        }
        self.used = self.used.saturating_add(weight);
        if self.used <= self.limit {
            return Verdict::Ok { used: self.used };
        }
        self.violations += 1;
        if self.violations > VIOLATIONS_BEFORE_BAN {
            self.banned_until = now_ms + BAN_SECS * 1000;
            self.total_418 += 1;
            return Verdict::Banned {
                until_ms: self.banned_until,
                used: self.used,
            };
        }
        self.total_429 += 1;
        let retry_after = ((window + 1) * 60_000 - now_ms + 999) / 1000;
        Verdict::TooMany {
            used: self.used,
            retry_after,
        }
    }

    pub fn ban(&mut self, now_ms: i64) {
        self.banned_until = now_ms + BAN_SECS * 1000;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_then_429_then_ban() {
        let mut m = WeightMeter::new(10);
        let t = 60_000 * 100 + 30_000;
        assert_eq!(m.charge(4, t), Verdict::Ok { used: 4 });
        assert_eq!(m.charge(6, t), Verdict::Ok { used: 10 });
        assert_eq!(
            m.charge(1, t),
            Verdict::TooMany {
                used: 11,
                retry_after: 30
            }
        );
        for _ in 0..4 {
            assert!(matches!(m.charge(1, t), Verdict::TooMany { .. }));
        }
        assert!(matches!(m.charge(1, t), Verdict::Banned { .. }));
        // A new window does not lift a ban.
        assert!(matches!(m.charge(1, t + 60_000), Verdict::Banned { .. }));
        assert_eq!(
            m.charge(1, t + BAN_SECS * 1000 + 1),
            Verdict::Ok { used: 1 }
        );
        assert_eq!(depth_weight(1000), 50);
    }

    #[test]
    fn each_window_keeps_its_weight_and_refusals() {
        let mut m = WeightMeter::new(10);
        let t = 60_000 * 200;
        m.charge(6, t + 1);
        m.charge(4, t + 2);
        assert!(matches!(m.charge(2, t + 3), Verdict::TooMany { .. }));
        m.charge(3, t + 60_000);
        let h: Vec<WindowUse> = m.history().copied().collect();
        assert_eq!(
            h,
            [
                WindowUse {
                    start_ms: t,
                    used: 12,
                    requests: 3,
                    throttled_429: 1,
                    banned_418: 0
                },
                WindowUse {
                    start_ms: t + 60_000,
                    used: 3,
                    requests: 1,
                    throttled_429: 0,
                    banned_418: 0
                },
            ]
        );
        for i in 0..(HISTORY_WINDOWS as i64 + 5) {
            m.charge(1, t + (i + 2) * 60_000);
        }
        assert_eq!(m.history().count(), HISTORY_WINDOWS);
        assert_eq!(
            m.history().last().map(|w| w.start_ms),
            Some(t + (HISTORY_WINDOWS as i64 + 6) * 60_000)
        );
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
            (DEPTH_MAX_LIMIT, 250),
        ] {
            assert_eq!(depth_weight(limit), weight, "limit {limit}");
        }
    }
}
