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
    let (negative, digits) = match inner.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, inner),
    };
    let (int, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], &digits[dot + 1..]),
        None => (digits, &[][..]),
    };
    let has_point = int.len() < digits.len();
    if int.is_empty()
        || int.len() > MAX_INTEGER_DIGITS
        || (int.len() > 1 && int[0] == b'0')
        || (has_point && frac.is_empty())
        || frac.len() > SCALE as usize
    {
        return None;
    }
    // Units below the point: the digits given, padded with zeros to SCALE places.
    let frac = value(frac)? * POW10[SCALE as usize - frac.len()];
    let v = if int.len() <= FAST_INTEGER_DIGITS {
        // Fits 64 bits with its SCALE places: the common case (prices, volumes).
        i128::from(value(int)? * POW10[SCALE as usize] + frac)
    } else {
        let (high, low) = int.split_at(int.len().saturating_sub(HALF_DIGITS));
        let int =
            i128::from(value(high)?) * i128::from(POW10[HALF_DIGITS]) + i128::from(value(low)?);
        int * i128::from(POW10[SCALE as usize]) + i128::from(frac)
    };
    Some(if negative { -v } else { v })
}

/// Integer digits that, with [`SCALE`] more, still fit a `u64` (10^18 < 2^64).
const FAST_INTEGER_DIGITS: usize = 18 - SCALE as usize;
/// The integer part of a long decimal is read as two halves of at most this many digits.
const HALF_DIGITS: usize = MAX_INTEGER_DIGITS / 2;
const POW10: [u64; 16] = {
    let mut t = [1u64; 16];
    let mut i = 1;
    while i < t.len() {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// The value of at most 19 ASCII digits; `None` when one is not a digit.
fn value(digits: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    Some(v)
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

    #[test]
    fn every_length_of_integer_and_fraction_reads_as_its_digits_say() {
        for int_len in 1..=MAX_INTEGER_DIGITS {
            for frac_len in 0..=SCALE as usize {
                for seed in [1u32, 7, 9] {
                    let digit = |i: usize| char::from(b'1' + ((i as u32 * seed + 3) % 9) as u8);
                    let int: String = (0..int_len).map(digit).collect();
                    let frac: String = (0..frac_len).map(|i| digit(i + 40)).collect();
                    let mut units = String::new();
                    units.push_str(&int);
                    units.push_str(&frac);
                    units.push_str(&"0".repeat(SCALE as usize - frac_len));
                    let expected: i128 = units.parse().unwrap();
                    let text = if frac_len == 0 {
                        int.clone()
                    } else {
                        format!("{int}.{frac}")
                    };
                    assert_eq!(p(&text), Some(expected), "{text}");
                    assert_eq!(p(&format!("-{text}")), Some(-expected), "-{text}");
                    let mut bad = text.clone().into_bytes();
                    let last = bad.len() - 1;
                    bad[last] = b'a';
                    assert_eq!(p(std::str::from_utf8(&bad).unwrap()), None, "{bad:?}");
                }
            }
        }
    }
}
