//! Exact decimals for the lake: a JSON string that holds a plain decimal number (as Binance
//! sends prices and quantities: `"42000.10000000"`) is stored as Parquet
//! `DECIMAL(PRECISION, SCALE)`, a 16-byte two's-complement integer of units of 10^-SCALE, which
//! DuckDB, polars, pandas and Spark read as numbers without a cast.

/// Digits after the point: Binance sends at most 8 (prices, quantities and volumes).
pub const SCALE: i32 = 8;
/// All digits: the most a 16-byte decimal holds, 30 of them before the point.
pub const PRECISION: i32 = 38;
/// Bytes of one value (`FIXED_LEN_BYTE_ARRAY(16)`, the width Arrow writers use for 38 digits).
pub const WIDTH: usize = 16;

const MAX_INTEGER_DIGITS: usize = (PRECISION - SCALE) as usize;

/// The value of a JSON string (quotes included) holding a plain decimal, in units of
/// 10^-[`SCALE`]: an optional `-`, digits without a leading zero (but `0` itself), and an
/// optional point followed by 1 to [`SCALE`] digits. Anything else (exponents, `+`, spaces,
/// escapes, more digits than fit) is `None`, and its column stays text.
pub fn parse(raw: &[u8]) -> Option<i128> {
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let (negative, digits) = match inner.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let (int, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], Some(&digits[dot + 1..])),
        None => (digits, None),
    };
    if int.is_empty()
        || int.len() > MAX_INTEGER_DIGITS
        || (int.len() > 1 && int[0] == b'0')
        || !int.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let frac = frac.unwrap_or_default();
    if frac.len() > SCALE as usize
        || (frac.is_empty() && digits.contains(&b'.'))
        || !frac.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let mut v: i128 = 0;
    for &d in int {
        v = v * 10 + i128::from(d - b'0');
    }
    for i in 0..SCALE as usize {
        v = v * 10 + frac.get(i).map_or(0, |&d| i128::from(d - b'0'));
    }
    Some(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<i128> {
        parse(format!("\"{s}\"").as_bytes())
    }

    #[test]
    fn plain_decimals_up_to_eight_places_are_exact() {
        assert_eq!(p("42000.10000000"), Some(4_200_010_000_000));
        assert_eq!(p("0.00000001"), Some(1));
        assert_eq!(p("1.5"), Some(150_000_000));
        assert_eq!(p("12"), Some(1_200_000_000));
        assert_eq!(p("-0.5"), Some(-50_000_000));
        assert_eq!(p("0"), Some(0));
        let max = "9".repeat(30) + ".99999999";
        assert_eq!(p(&max), Some(10i128.pow(38) - 1));
    }

    #[test]
    fn anything_else_stays_text() {
        for s in [
            "",
            "-",
            ".",
            "1.",
            ".5",
            "01",
            "1e5",
            "+1",
            " 1",
            "1 ",
            "1.000000001",
            "0x10",
            "1,5",
            "NaN",
            "1.2.3",
            "BTCUSDT",
        ] {
            assert_eq!(p(s), None, "{s:?}");
        }
        assert_eq!(p(&"9".repeat(31)), None, "more digits than 38 hold");
        assert_eq!(parse(b"1.5"), None, "a JSON number is not a string");
        assert_eq!(parse(br#""1\u002e5""#), None);
    }
}
