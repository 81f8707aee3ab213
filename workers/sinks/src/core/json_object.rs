//! A single-pass check of a JSON object that also notes where its top-level fields lie.
//!
//! Sinks read every message once to decide between storing it and dead-lettering it; a full
//! JSON tree (every name and string copied) would cost more than the rest of the pipeline. This
//! scanner validates the whole text against RFC 8259 (strings, escapes, numbers, literals,
//! nesting up to [`MAX_DEPTH`]) over bytes already checked as UTF-8, and records byte ranges of
//! the top-level names and values, nothing else. Its verdicts agree with `serde_json`'s, which
//! the tests check on generated and mutated documents.

use std::ops::Range;

/// Nesting deeper than this is refused, as `serde_json` does.
pub const MAX_DEPTH: usize = 128;

/// One top-level field: where its name (between the quotes) and raw value lie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawField {
    pub name: Range<usize>,
    /// The name has escape sequences and must be decoded before use.
    pub name_escaped: bool,
    pub value: Range<usize>,
}

/// Why the text is not a JSON object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanError(pub String);

/// Scan `text`, which must start (after whitespace) with `{`, into its top-level fields.
pub fn scan_object(text: &str, out: &mut Vec<RawField>) -> Result<(), ScanError> {
    let mut s = Scanner {
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    s.ws();
    s.object(Some(out))?;
    s.ws();
    if s.i != s.b.len() {
        return Err(s.error("trailing characters"));
    }
    Ok(())
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl Scanner<'_> {
    fn error(&self, what: &str) -> ScanError {
        if self.i >= self.b.len() {
            ScanError(format!("{what}: the text ends at byte {}", self.b.len()))
        } else {
            ScanError(format!("{what} at byte {}", self.i))
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), ScanError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn enter(&mut self) -> Result<(), ScanError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        Ok(())
    }

    /// An object; its fields go to `fields` when given (the top level only).
    fn object(&mut self, mut fields: Option<&mut Vec<RawField>>) -> Result<(), ScanError> {
        self.expect(b'{', "expected an object")?;
        self.enter()?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a field name"));
            }
            let name_start = self.i + 1;
            let name_escaped = self.string()?;
            let name = name_start..self.i - 1;
            self.ws();
            self.expect(b':', "expected ':'")?;
            self.ws();
            let value_start = self.i;
            self.value()?;
            if let Some(out) = fields.as_deref_mut() {
                out.push(RawField {
                    name,
                    name_escaped,
                    value: value_start..self.i,
                });
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self) -> Result<(), ScanError> {
        self.expect(b'[', "expected an array")?;
        self.enter()?;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            self.value()?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn value(&mut self) -> Result<(), ScanError> {
        match self.peek() {
            Some(b'{') => self.object(None),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(|_| ()),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("expected a value")),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), ScanError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<(), ScanError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        // Like serde_json, refuse a number no 64-bit float can hold (`1e999`); only fractions,
        // exponents and long integers can be one.
        let text = &self.b[start..self.i];
        if (text.len() > 18 || text.iter().any(|c| matches!(c, b'.' | b'e' | b'E')))
            && !std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(f64::is_finite)
        {
            return Err(self.error("number out of range"));
        }
        Ok(())
    }

    /// The four hex digits of a `\\u` escape, as a UTF-16 code unit.
    fn hex4(&mut self) -> Result<u32, ScanError> {
        let hex = self
            .b
            .get(self.i..self.i + 4)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        let unit = hex.iter().fold(0u32, |acc, d| {
            acc * 16 + (*d as char).to_digit(16).unwrap_or(0)
        });
        self.i += 4;
        Ok(unit)
    }

    /// A string, from its opening quote to just past its closing one; true when it has escapes.
    fn string(&mut self) -> Result<bool, ScanError> {
        self.expect(b'"', "expected a string")?;
        let mut escaped = false;
        loop {
            self.i = plain_run_end(self.b, self.i);
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            self.i += 1;
                            let unit = self.hex4()?;
                            // UTF-16 in escapes: a high surrogate must be followed by an escaped
                            // low one; a low one alone is not a character (serde_json and
                            // ArangoDB refuse both, and a store would keep an empty string).
                            if (0xDC00..0xE000).contains(&unit) {
                                return Err(self.error("lone low surrogate in a \\u escape"));
                            }
                            if (0xD800..0xDC00).contains(&unit) {
                                let low = if self.b.get(self.i..self.i + 2) == Some(b"\\u") {
                                    self.i += 2;
                                    self.hex4()?
                                } else {
                                    0
                                };
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.error("lone high surrogate in a \\u escape"));
                                }
                            }
                        }
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                0..=0x1f => return Err(self.error("control character in a string")),
                _ => self.i += 1,
            }
        }
    }
}

/// Eight copies of a byte in one word.
const fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// Where the run of plain string characters starting at `i` ends: the first quote, backslash
/// or control character, or the end of `b`. Eight bytes at a time: the flag of a byte below
/// `x` is `(w - splat(x)) & !w & splat(0x80)`; a borrow can flag bytes after the first true
/// one, never before it, so the lowest flag is exact.
fn plain_run_end(b: &[u8], mut i: usize) -> usize {
    const HIGH: u64 = splat(0x80);
    let below = |w: u64, x: u8| w.wrapping_sub(splat(x)) & !w & HIGH;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let special = below(w ^ splat(b'"'), 1) | below(w ^ splat(b'\\'), 1) | below(w, 0x20);
        if special != 0 {
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    let rest = &b[i.min(b.len())..];
    i + rest
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .unwrap_or(rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn scan(text: &str) -> Result<Vec<RawField>, ScanError> {
        let mut out = vec![];
        scan_object(text, &mut out).map(|()| out)
    }

    #[test]
    fn fields_and_their_ranges() {
        let text = r#" { "a" : 1 , "b\n":[1,{"c":[]}], "d":"x\"y" ,"e":-0.5e+3 } "#;
        let f = scan(text).unwrap();
        let parts: Vec<_> = f
            .iter()
            .map(|f| {
                (
                    &text[f.name.clone()],
                    f.name_escaped,
                    &text[f.value.clone()],
                )
            })
            .collect();
        assert_eq!(
            parts,
            [
                ("a", false, "1"),
                ("b\\n", true, r#"[1,{"c":[]}]"#),
                ("d", false, r#""x\"y""#),
                ("e", false, "-0.5e+3"),
            ]
        );
        assert_eq!(scan("{}").unwrap(), vec![]);
    }

    #[test]
    fn plain_runs_end_at_the_first_quote_backslash_or_control_character() {
        // Every position of a special byte in and past the first word, after every kind of
        // plain byte (ASCII, UTF-8, 0x7f, bytes just above the specials).
        for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
            for filler in [b'a', 0xc3, 0x7f, 0x20, 0x21, 0x23, 0x5d] {
                for at in 0..20 {
                    let mut b = vec![filler; 24];
                    b[at] = special;
                    assert_eq!(
                        plain_run_end(&b, 0),
                        at,
                        "{special:#x} at {at} after {filler:#x}"
                    );
                    if at >= 3 {
                        assert_eq!(plain_run_end(&b, 3), at);
                    }
                }
            }
        }
        assert_eq!(plain_run_end(b"abc", 0), 3);
        assert_eq!(plain_run_end(b"abcdefghijk", 11), 11);
        // Two specials in one word: the first counts, whatever follows it.
        assert_eq!(plain_run_end(b"ab\x01\"cdefgh", 0), 2);
        assert_eq!(plain_run_end(b"abcdef\"\\", 0), 6);
    }

    #[test]
    fn lone_surrogates_are_refused_as_serde_json_refuses_them() {
        for (text, ok) in [
            (r#"{"a":"\ud83d\ude00"}"#, true),
            (r#"{"a":"\u00e9\uFFFF"}"#, true),
            (r#"{"a":"\ud800"}"#, false),
            (r#"{"a":"\ud800x"}"#, false),
            (r#"{"a":"\ud800\u0041"}"#, false),
            (r#"{"a":"\udc00"}"#, false),
            (r#"{"\udfff":1}"#, false),
            (r#"{"a":"\ud800\ud800"}"#, false),
        ] {
            assert_eq!(scan(text).is_ok(), ok, "{text}");
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(text).is_ok(),
                ok,
                "serde_json on {text}"
            );
        }
        assert!(
            scan(r#"{"a":"\ud800"}"#)
                .unwrap_err()
                .0
                .starts_with("lone high surrogate")
        );
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(
            scan(r#"{"a":01}"#).unwrap_err().0,
            "expected ',' or '}' at byte 6"
        );
        assert_eq!(
            scan(r#"{"a":1"#).unwrap_err().0,
            "expected ',' or '}': the text ends at byte 6"
        );
        assert_eq!(
            scan(r#"{"a":1e999}"#).unwrap_err().0,
            "number out of range at byte 10"
        );
        assert!(scan(r#"{"a":1e-999,"b":123456789012345678901234}"#).is_ok());
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(scan(&deep).unwrap_err().0.starts_with("nesting too deep"));
    }

    /// The reference: `serde_json` reading the object's values as raw text.
    fn reference(text: &str) -> Option<Vec<(String, String)>> {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
        drop(map);
        let raw: Vec<(String, Box<RawValue>)> =
            serde_json::from_str::<std::collections::BTreeMap<String, Box<RawValue>>>(text)
                .ok()?
                .into_iter()
                .collect();
        Some(
            raw.into_iter()
                .map(|(k, v)| (k, v.get().to_owned()))
                .collect(),
        )
    }

    /// A small deterministic generator of JSON-like text: valid documents, then mutated ones.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[(self.next() % xs.len() as u64) as usize]
        }
        fn value(&mut self, depth: u32) -> String {
            match self.next() % if depth > 3 { 4 } else { 6 } {
                0 => self
                    .pick(&["0", "-1", "12.5", "1e3", "-0.0E-2", "123456789012345678901"])
                    .into(),
                1 => self
                    .pick(&[
                        r#""""#,
                        r#""BTCUSDT""#,
                        r#""a\"b""#,
                        r#""\u00e9\n""#,
                        "\"é漢\"",
                    ])
                    .into(),
                2 => self.pick(&["true", "false", "null"]).into(),
                3 => self.pick(&[r#""42000.10""#, "1722470400000"]).into(),
                4 => {
                    let n = self.next() % 4;
                    let items: Vec<_> = (0..n).map(|_| self.value(depth + 1)).collect();
                    format!("[{}]", items.join(self.pick(&[",", " , "])))
                }
                _ => self.object(depth + 1),
            }
        }
        fn object(&mut self, depth: u32) -> String {
            let n = self.next() % 6;
            let fields: Vec<_> = (0..n)
                .map(|_| {
                    let name = self.pick(&["a", "open_time", "x\\ty", "é", "symbol", ""]);
                    format!(
                        "\"{name}\"{}{}",
                        self.pick(&[":", " : "]),
                        self.value(depth)
                    )
                })
                .collect();
            format!("{{{}}}", fields.join(self.pick(&[",", ",\n "])))
        }
    }

    #[test]
    fn agrees_with_serde_json_on_valid_and_mutated_documents() {
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        let noise = [
            "", " ", "\"", "\\", "{", "}", "[", "]", ",", ":", "0", "-", ".", "e", "t", "\u{1}",
            "\\u12", "é",
        ];
        let (mut valid, mut invalid) = (0, 0);
        for round in 0..20_000 {
            let mut text = g.object(0);
            if round % 2 == 1 {
                // Cut, insert or delete at a character boundary.
                let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
                let at = cuts[(g.next() % cuts.len() as u64) as usize];
                match g.next() % 3 {
                    0 => text.truncate(at),
                    1 => text.insert_str(at, g.pick(&noise)),
                    _ => {
                        text.remove(at);
                    }
                }
            }
            let ours = scan(&text);
            match reference(&text) {
                Some(want) => {
                    valid += 1;
                    let got = ours.unwrap_or_else(|e| panic!("refused {text:?}: {e:?}"));
                    // The reference keeps the last of repeated names, in name order.
                    let mut got: Vec<(String, String)> = got
                        .iter()
                        .map(|f| {
                            let name = &text[f.name.clone()];
                            let name = if f.name_escaped {
                                serde_json::from_str::<String>(&format!("\"{name}\"")).unwrap()
                            } else {
                                name.to_owned()
                            };
                            (name, text[f.value.clone()].to_owned())
                        })
                        .collect();
                    got.reverse();
                    let mut seen = std::collections::BTreeMap::new();
                    for (k, v) in got {
                        seen.entry(k).or_insert(v);
                    }
                    let got: Vec<_> = seen.into_iter().collect();
                    assert_eq!(got, want, "{text:?}");
                }
                None => {
                    invalid += 1;
                    // Our scan may only accept what serde_json refuses for a reason beyond the
                    // grammar and ranges (a lone surrogate escape): none is generated here, so
                    // both must refuse.
                    assert!(ours.is_err(), "accepted {text:?}");
                }
            }
        }
        assert!(
            valid > 5_000 && invalid > 2_000,
            "{valid} valid, {invalid} invalid"
        );
    }
}
