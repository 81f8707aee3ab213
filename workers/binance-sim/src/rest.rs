//! The simulator's REST endpoints: Binance's `/api/v3` market-data calls with their weights,
//! pagination rules and error bodies, and `/sim/stats`.

// Here an error is the HTTP reply to send; boxing it would only add noise to a test server.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use serde_json::{Value, json};
use warp::Filter;
use warp::http::{Response, StatusCode};

use crate::limits::{self, Verdict};
use crate::market::{self, LISTING_MS, Market};
use crate::state::{Shared, State, lock, real_now_ms, stats};

type Reply = Response<String>;

fn reply(status: StatusCode, used: u32, body: Value, retry_after: Option<i64>) -> Reply {
    let mut r = Response::builder()
        .status(status)
        .header("content-type", "application/json;charset=UTF-8")
        .header("x-mbx-used-weight-1m", used.to_string());
    if let Some(s) = retry_after {
        r = r.header("retry-after", s.to_string());
    }
    r.body(body.to_string()).unwrap_or_default()
}

fn error(status: StatusCode, used: u32, code: i32, msg: &str) -> Reply {
    reply(status, used, json!({"code": code, "msg": msg}), None)
}

fn param_i64(q: &HashMap<String, String>, name: &str, used: u32) -> Result<Option<i64>, Reply> {
    match q.get(name) {
        None => Ok(None),
        // As the message says: digits only, so a negative number is refused here too.
        Some(v) => v.parse::<i64>().ok().filter(|_| v.bytes().all(|b| b.is_ascii_digit())).map(Some).ok_or_else(|| {
            error(StatusCode::BAD_REQUEST, used, -1100, &format!("Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."))
        }),
    }
}

fn limit(q: &HashMap<String, String>, default: i64, max: i64, used: u32) -> Result<i64, Reply> {
    let l = param_i64(q, "limit", used)?.unwrap_or(default);
    if !(1..=max).contains(&l) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            used,
            -1130,
            "Data sent for parameter 'limit' is not valid.",
        ));
    }
    Ok(l)
}

fn symbol<'a>(st: &'a State, q: &HashMap<String, String>, used: u32) -> Result<&'a Market, Reply> {
    let Some(s) = q.get("symbol").filter(|s| !s.is_empty()) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            used,
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        ));
    };
    st.markets
        .get(s)
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, used, -1121, "Invalid symbol."))
}

/// Charge the request and apply faults; `Err` is the reply to send instead.
fn admit(st: &mut State, weight: u32) -> Result<u32, Reply> {
    let now = st.now_ms();
    let n = st.meter.total_requests + 1;
    if st.config.faults.banned {
        st.meter.ban(now);
    }
    let verdict = st.meter.charge(weight, real_now_ms());
    if st.config.faults.fail_after.is_some_and(|k| n > k) {
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            0,
            -1000,
            "An unknown error occurred while processing the request.",
        ));
    }
    if st.config.faults.throttle_request == Some(n) {
        st.meter.total_429 += 1;
        return Err(reply(
            StatusCode::TOO_MANY_REQUESTS,
            st.config.weight_limit + 1,
            json!({"code": -1003, "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."}),
            Some(1),
        ));
    }
    match verdict {
        Verdict::Ok { used } => Ok(used),
        Verdict::TooMany { used, retry_after } => Err(reply(
            StatusCode::TOO_MANY_REQUESTS,
            used,
            json!({"code": -1003, "msg": format!("Too much request weight used; current limit is {} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.", st.config.weight_limit)}),
            Some(retry_after),
        )),
        Verdict::Banned { until_ms, used } => Err(reply(
            StatusCode::IM_A_TEAPOT,
            used,
            json!({"code": -1003, "msg": format!("Way too much request weight used; IP banned until {until_ms}. Please use WebSocket Streams for live updates to avoid bans.")}),
            Some((until_ms - real_now_ms()).max(0) / 1000 + 1),
        )),
    }
}

fn exchange_info(st: &mut State, q: &HashMap<String, String>) -> Reply {
    let used = match admit(st, limits::WEIGHT_EXCHANGE_INFO) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let symbols: Vec<&String> = match q.get("symbol") {
        Some(s) if st.markets.contains_key(s) => vec![s],
        Some(_) => return error(StatusCode::BAD_REQUEST, used, -1121, "Invalid symbol."),
        None => st.config.symbols.iter().collect(),
    };
    let symbols: Vec<Value> = symbols
        .into_iter()
        .map(|s| {
            let quote = if s.ends_with("USDT") { "USDT" } else { "BTC" };
            json!({
                "symbol": s,
                "status": "TRADING",
                "baseAsset": s.trim_end_matches(quote),
                "quoteAsset": quote,
                "isSpotTradingAllowed": true,
                "filters": []
            })
        })
        .collect();
    reply(
        StatusCode::OK,
        used,
        json!({
            "timezone": "UTC",
            "serverTime": st.now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": st.config.weight_limit},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000}
            ],
            "exchangeFilters": [],
            "symbols": symbols
        }),
        None,
    )
}

fn klines(st: &mut State, q: &HashMap<String, String>) -> Reply {
    let used = match admit(st, limits::WEIGHT_KLINES) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let now = st.now_ms();
    let result = (|| {
        let m = symbol(st, q, used)?;
        let Some(step) = q.get("interval").and_then(|i| market::interval_ms(i)) else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                used,
                -1120,
                "Invalid interval.",
            ));
        };
        let limit = limit(q, 500, 1000, used)?;
        let start = param_i64(q, "startTime", used)?;
        let end = param_i64(q, "endTime", used)?.unwrap_or(now).min(now);
        let last_open = end.div_euclid(step) * step;
        let first_open = match start {
            Some(s) => {
                ((s + step - 1).div_euclid(step) * step).max(LISTING_MS.div_euclid(step) * step)
            }
            None => last_open - (limit - 1) * step,
        };
        let interval = q.get("interval").map(String::as_str).unwrap_or_default();
        if let Some(rows) =
            st.config
                .recorded
                .klines(&m.symbol, interval, first_open, end, limit as usize)
        {
            return Ok(Value::Array(rows));
        }
        let rows: Vec<Value> = (0..limit)
            .map(|i| first_open + i * step)
            .take_while(|&t| t <= last_open)
            .filter(|&t| t + step > LISTING_MS)
            .map(|t| m.candle(t, step).to_json())
            .collect();
        Ok(Value::Array(rows))
    })();
    match result {
        Ok(body) => reply(StatusCode::OK, used, body, None),
        Err(r) => r,
    }
}

fn agg_trades(st: &mut State, q: &HashMap<String, String>) -> Reply {
    let used = match admit(st, limits::WEIGHT_AGG_TRADES) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let now = st.now_ms();
    let result = (|| {
        let m = symbol(st, q, used)?;
        let limit = limit(q, 500, 1000, used)?;
        let from_id = param_i64(q, "fromId", used)?;
        let start = param_i64(q, "startTime", used)?;
        let end = param_i64(q, "endTime", used)?;
        let last_id = m.first_trade_at(now + 1) - 1;
        let (first, last) = match (from_id, start, end) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    used,
                    -1128,
                    "Combination of optional parameters invalid.",
                ));
            }
            (Some(id), None, None) => (id.max(0), last_id),
            (None, Some(s), Some(e)) => {
                if e - s > 3_600_000 || e < s {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        used,
                        -1127,
                        "More than 1 hours between startTime and endTime.",
                    ));
                }
                (
                    m.first_trade_at(s),
                    (m.first_trade_at(e + 1) - 1).min(last_id),
                )
            }
            (None, Some(s), None) => (m.first_trade_at(s), last_id),
            (None, None, Some(e)) => {
                let l = (m.first_trade_at(e + 1) - 1).min(last_id);
                (l - limit + 1, l)
            }
            (None, None, None) => (last_id - limit + 1, last_id),
        };
        let recorded = match (from_id, start, end) {
            (Some(id), _, _) => {
                st.config
                    .recorded
                    .agg_trades(&m.symbol, id, i64::MIN, i64::MAX, limit as usize)
            }
            (None, s, e) => st.config.recorded.agg_trades(
                &m.symbol,
                i64::MIN,
                s.unwrap_or(i64::MIN),
                e.unwrap_or(i64::MAX),
                limit as usize,
            ),
        };
        if let Some(rows) = recorded {
            return Ok(Value::Array(rows));
        }
        let rows: Vec<Value> = (first.max(0)..=last)
            .take(limit as usize)
            .map(|id| m.trade(id).to_json())
            .collect();
        Ok(Value::Array(rows))
    })();
    match result {
        Ok(body) => reply(StatusCode::OK, used, body, None),
        Err(r) => r,
    }
}

/// `GET /api/v3/depth`: charged by the `limit` asked for (an unreadable one at the default's
/// weight), then refused unless it is 1 to 5000; the book at the current update id, which
/// advances with time (`book.rs`), so successive snapshots have growing `lastUpdateId`s.
fn depth(st: &mut State, q: &HashMap<String, String>) -> Reply {
    let requested = q
        .get("limit")
        .and_then(|l| l.parse::<u32>().ok())
        .unwrap_or(limits::DEPTH_DEFAULT_LIMIT);
    let used = match admit(st, limits::depth_weight(requested)) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let limit = match limit(
        q,
        i64::from(limits::DEPTH_DEFAULT_LIMIT),
        i64::from(limits::DEPTH_MAX_LIMIT),
        used,
    ) {
        Ok(l) => l as usize,
        Err(r) => return r,
    };
    let name = match symbol(st, q, used) {
        Ok(m) => m.symbol.clone(),
        Err(r) => return r,
    };
    match st.book(&name) {
        Some(b) => reply(
            StatusCode::OK,
            used,
            crate::ws::snapshot_json(&b, limit),
            None,
        ),
        None => error(StatusCode::BAD_REQUEST, used, -1121, "Invalid symbol."),
    }
}

fn server_time(st: &mut State) -> Reply {
    match admit(st, limits::WEIGHT_TIME) {
        Ok(used) => reply(
            StatusCode::OK,
            used,
            json!({"serverTime": st.now_ms()}),
            None,
        ),
        Err(r) => r,
    }
}

pub fn routes(state: Shared) -> impl Filter<Extract = (Reply,), Error = warp::Rejection> + Clone {
    let with = move || {
        let s = state.clone();
        warp::any().map(move || s.clone())
    };
    let q = || warp::query::<HashMap<String, String>>();
    let info = warp::path!("api" / "v3" / "exchangeInfo")
        .and(q())
        .and(with())
        .map(|q: HashMap<String, String>, s: Shared| exchange_info(&mut lock(&s), &q));
    let kl = warp::path!("api" / "v3" / "klines")
        .and(q())
        .and(with())
        .map(|q: HashMap<String, String>, s: Shared| klines(&mut lock(&s), &q));
    let agg = warp::path!("api" / "v3" / "aggTrades")
        .and(q())
        .and(with())
        .map(|q: HashMap<String, String>, s: Shared| agg_trades(&mut lock(&s), &q));
    let dp = warp::path!("api" / "v3" / "depth")
        .and(q())
        .and(with())
        .map(|q: HashMap<String, String>, s: Shared| depth(&mut lock(&s), &q));
    let time = warp::path!("api" / "v3" / "time")
        .and(with())
        .map(|s: Shared| server_time(&mut lock(&s)));
    let st = warp::path!("sim" / "stats")
        .and(with())
        .map(|s: Shared| reply(StatusCode::OK, 0, stats(&s), None));
    warp::get().and(
        info.or(kl)
            .unify()
            .or(agg)
            .unify()
            .or(dp)
            .unify()
            .or(time)
            .unify()
            .or(st)
            .unify(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::state::Config;

    /// `GET /api/v3/depth` with `query`: status, the used-weight header and the body.
    fn depth_of(st: &mut State, query: &[(&str, &str)]) -> (u16, u32, Value) {
        let q = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let r = depth(st, &q);
        let used = r
            .headers()
            .get("x-mbx-used-weight-1m")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap();
        (
            r.status().as_u16(),
            used,
            serde_json::from_str(r.body()).unwrap(),
        )
    }

    #[test]
    fn depth_charges_the_documented_weight_of_its_limit() {
        for (limit, weight, levels) in [
            (Some("5"), 5, 5),
            (Some("20"), 5, 20),
            (None, 5, 100),
            (Some("100"), 5, 100),
            (Some("101"), 25, 100),
            (Some("1000"), 50, 100),
            (Some("5000"), 250, 100),
        ] {
            let mut st = State::new(Config::default());
            let mut q = vec![("symbol", "BTCUSDT")];
            q.extend(limit.map(|l| ("limit", l)));
            let (status, used, body) = depth_of(&mut st, &q);
            assert_eq!((status, used), (200, weight), "limit {limit:?}");
            assert_eq!(body["bids"].as_array().unwrap().len(), levels, "{limit:?}");
            assert_eq!(body["asks"].as_array().unwrap().len(), levels, "{limit:?}");
        }
    }

    #[test]
    fn depth_refuses_a_limit_out_of_range_with_an_error_body() {
        let mut st = State::new(Config::default());
        for (limit, code) in [
            ("0", -1130),
            ("5001", -1130),
            ("-1", -1100),
            ("many", -1100),
        ] {
            let (status, _, body) = depth_of(&mut st, &[("symbol", "BTCUSDT"), ("limit", limit)]);
            assert_eq!(status, 400, "limit {limit}");
            assert_eq!(body["code"], json!(code), "limit {limit}: {body}");
            assert!(body["msg"].as_str().unwrap().contains("'limit'"), "{body}");
        }
        let (status, _, body) = depth_of(&mut st, &[("symbol", "NOPE")]);
        assert_eq!((status, &body["code"]), (400, &json!(-1121)));
    }

    #[test]
    fn successive_depth_snapshots_advance_their_update_id() {
        let mut st = State::new(Config::default());
        let mut last = -1;
        for _ in 0..3 {
            let (_, _, body) = depth_of(&mut st, &[("symbol", "BTCUSDT"), ("limit", "10")]);
            let id = body["lastUpdateId"].as_i64().unwrap();
            assert!(id > last, "{id} after {last}");
            last = id;
            std::thread::sleep(std::time::Duration::from_millis(
                2 * crate::book::UPDATE_EVERY_MS as u64,
            ));
        }
    }
}
