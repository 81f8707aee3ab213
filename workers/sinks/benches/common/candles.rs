//! Candle messages as the loader writes them, for the lake benches.

/// The `i`-th 1m candle of `symbol` from 2024-01-01, whose prices and volumes move from minute to minute, as real ones do (constant
/// values would flatter dictionary encoding).
pub fn candle(symbol: &str, i: i64) -> (String, String) {
    let t = 1_704_067_200_000 + i * 60_000;
    let wave = (i * 7_919) % 2_000;
    let open = 4_200_000 + wave * 3;
    let cents = |c: i64| format!("{}.{:02}", c / 100, c % 100);
    let volume = 1_000 + (i * 104_729) % 50_000;
    let payload = format!(
        r#"{{"symbol":"{symbol}","interval":"1m","open_time":{t},"close_time":{},"open":"{}","high":"{}","low":"{}","close":"{}","volume":"{}.{:03}","quote_volume":"{}","trades":{},"taker_buy_base":"{}.{:03}","taker_buy_quote":"{}"}}"#,
        t + 59_999,
        cents(open),
        cents(open + 1_250),
        cents(open - 980),
        cents(open + wave % 700),
        volume / 1_000,
        volume % 1_000,
        cents(volume * 42_000),
        1234 + i % 97,
        volume / 2_000,
        (volume / 2) % 1_000,
        cents(volume * 21_000),
    );
    (format!("{symbol}|1m|{t}"), payload)
}
