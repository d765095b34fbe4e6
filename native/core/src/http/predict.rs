//! Predict bodies and answers on the native path: reads `{"input": X}` or `{"input_batch": [X, ...]}`
//! (with an optional `uid`) into wire-encoded inputs, and writes answers in the shapes src/api/query gives
//! (`{query_id, output, default, default_explanation?}`, `{batch_predictions: [...]}`), leaving the object
//! open (`write_answer_fields`) for the fields a selection policy adds (`selection`). Also writes numbers
//! as JavaScript does (`write_js_number`), for outputs the core computes itself.
//!
//! Takes only what it is sure of. Anything else (a pinned `version`, a `bytes` app, a value the TypeScript
//! frontend might accept differently, anything malformed) parses to `None` and is handed to that frontend,
//! which owns every validation message and error code. Must not decide what a uid means: it only reads it.

use std::borrow::Cow;

use crate::completion::Status;
use crate::rpc::InputType;
use crate::runtime::submit::Inputs;

/// The wording clients of the original Clipper match on (also in src/api/query/answers.ts).
pub const EXPLANATION_SLO_MISSED: &str =
    "Failed to retrieve a prediction response within the specified latency SLO";
pub const EXPLANATION_NO_MODEL: &str = "No connected models found for query";

/// A predict body's inputs in wire encoding: input i is `data[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, PartialEq)]
pub struct Parsed {
    /// True for `input_batch`, answered as `{batch_predictions: [...]}`.
    pub batch: bool,
    pub offsets: Vec<u32>,
    pub data: Vec<u8>,
    pub uid: Uid,
}

impl Parsed {
    pub fn inputs(&self) -> Inputs<'_> {
        Inputs {
            offsets: &self.offsets,
            data: &self.data,
        }
    }
}

/// The `uid` of a predict body: whose weights a selection policy uses. Apps without one ignore it.
#[derive(Debug, PartialEq)]
pub enum Uid {
    /// No `uid`: the shared weights (uid "0").
    Absent,
    /// A string, or an integer as its decimal text (`5` and `"5"` are one user), as JavaScript's `String`
    /// writes it.
    Key(String),
    /// Anything else (a fraction, an object, an integer JavaScript cannot hold exactly, a string with
    /// escapes, a second `uid`): the frontend's to judge.
    Unusual,
}

/// The largest integer JavaScript holds exactly (`Number.MAX_SAFE_INTEGER`); larger ones read back
/// otherwise there, so their text would name another user.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Reads a predict body for an app taking `input_type`; `None` leaves it to the TypeScript frontend.
///
/// One pass over the body, which for large inputs is most of a request's cost: the keys of the top-level
/// object are walked by hand, inputs are encoded as they are read, and only other keys' values go through
/// serde_json (to skip them).
pub fn parse(body: &[u8], input_type: InputType) -> Option<Parsed> {
    let mut s = Scanner {
        text: std::str::from_utf8(body).ok()?,
        at: 0,
    };
    s.expect(b'{')?;
    let (mut single, mut batch, mut uid) = (None, None, Uid::Absent);
    if !s.eat(b'}') {
        loop {
            match s.key()? {
                "input" if single.is_none() => single = Some(s.inputs(input_type, false)?),
                "input_batch" if batch.is_none() => batch = Some(s.inputs(input_type, true)?),
                "uid" if uid == Uid::Absent => uid = s.uid()?,
                // Given twice (the frontend keeps the last): unusual, yet still read whole.
                "uid" => {
                    s.skip_value()?;
                    uid = Uid::Unusual;
                }
                // A pinned version, or a key given twice (the frontend keeps the last).
                "input" | "input_batch" | "version" => return None,
                _ => s.skip_value()?,
            }
            if !s.eat(b',') {
                s.expect(b'}')?;
                break;
            }
        }
    }
    s.skip_ws();
    if s.at != s.text.len() {
        return None;
    }
    // As in the frontend, `input` wins over `input_batch`; an empty batch is its error to report.
    let mut parsed = single.or(batch.filter(|b| b.offsets.len() > 1))?;
    parsed.uid = uid;
    Some(parsed)
}

/// A cursor over a JSON text.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn skip_ws(&mut self) {
        let bytes = self.text.as_bytes();
        while bytes.get(self.at).is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    /// Skips whitespace, then takes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_ws();
        let found = self.text.as_bytes().get(self.at) == Some(&byte);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// An object key and its colon. Keys with escapes are left to the frontend.
    fn key(&mut self) -> Option<&'a str> {
        let key = self.plain_string()?;
        self.expect(b':')?;
        Some(key)
    }

    /// A string without escapes or control characters, the cursor then past it; `None` for anything
    /// else, the cursor left at it.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let text = self.text;
        if text.as_bytes().get(self.at) != Some(&b'"') {
            return None;
        }
        let start = self.at + 1;
        let length = text[start..].bytes().position(|b| b == b'"')?;
        let plain = &text[start..start + length];
        if plain.bytes().any(|b| b == b'\\' || b < 0x20) {
            return None;
        }
        self.at = start + length + 1;
        Some(plain)
    }

    /// Any JSON value, checked and skipped.
    fn skip_value(&mut self) -> Option<()> {
        self.value::<serde::de::IgnoredAny>().map(drop)
    }

    fn value<T: serde::de::DeserializeOwned>(&mut self) -> Option<T> {
        let mut stream = serde_json::Deserializer::from_str(&self.text[self.at..]).into_iter::<T>();
        let value = stream.next()?.ok()?;
        self.at += stream.byte_offset();
        Some(value)
    }

    /// The value of `uid`; `None` only when it is not JSON.
    fn uid(&mut self) -> Option<Uid> {
        if let Some(uid) = self.plain_string() {
            return Some(Uid::Key(uid.to_owned()));
        }
        match self.text.as_bytes().get(self.at) {
            Some(b'-' | b'0'..=b'9') => {
                let number = Number::scan(self.text, self.at)?;
                self.at = number.end;
                let key = number
                    .integer
                    .filter(|n| n.unsigned_abs() <= MAX_SAFE_INTEGER)
                    .map(|n| Uid::Key(n.to_string()));
                Some(key.unwrap_or(Uid::Unusual))
            }
            _ => self.skip_value().map(|()| Uid::Unusual),
        }
    }

    /// The value of `input` (one input) or of `input_batch` (an array of them).
    fn inputs(&mut self, input_type: InputType, batch: bool) -> Option<Parsed> {
        let mut parsed = Parsed {
            batch,
            offsets: vec![0],
            data: Vec::new(),
            uid: Uid::Absent,
        };
        if !batch {
            self.input(input_type, &mut parsed)?;
            return Some(parsed);
        }
        self.expect(b'[')?;
        if self.eat(b']') {
            return Some(parsed);
        }
        loop {
            self.input(input_type, &mut parsed)?;
            if !self.eat(b',') {
                self.expect(b']')?;
                return Some(parsed);
            }
        }
    }

    fn input(&mut self, input_type: InputType, into: &mut Parsed) -> Option<()> {
        match input_type {
            InputType::Ints | InputType::Floats | InputType::Doubles => {
                self.numbers(input_type, &mut into.data)?
            }
            InputType::Strings => {
                let text: String = self.value()?;
                into.data.extend_from_slice(text.as_bytes());
            }
            // Base64 has edge cases (padding, stray bits) the frontend's decoder settles.
            InputType::Bytes => return None,
        }
        into.offsets.push(u32::try_from(into.data.len()).ok()?);
        Some(())
    }

    /// A JSON array of numbers, written straight into the wire encoding. Hand-written because it is most
    /// of a large request's cost (784-feature bodies, perf in `bench/`): serde_json's number parsing and
    /// the standard library's each took a fifth to a third of the thread; most inputs take the exact fast
    /// path of `Number::scan`.
    fn numbers(&mut self, input_type: InputType, out: &mut Vec<u8>) -> Option<()> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Some(());
        }
        loop {
            self.skip_ws();
            let number = Number::scan(self.text, self.at)?;
            self.at = number.end;
            match input_type {
                // Only plain 32-bit integers; `1.0` or `1e3`, which the frontend also takes, go there.
                InputType::Ints => {
                    let v = i32::try_from(number.integer?).ok()?;
                    out.extend_from_slice(&v.to_le_bytes());
                }
                // Rounded as a Float32Array rounds.
                InputType::Floats => out.extend_from_slice(&(number.value as f32).to_le_bytes()),
                _ => out.extend_from_slice(&number.value.to_le_bytes()),
            }
            if !self.eat(b',') {
                return self.expect(b']');
            }
        }
    }
}

/// Powers of ten that are exact in an f64.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// One JSON number (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`).
struct Number {
    end: usize,
    /// Finite, as JavaScript's `JSON.parse` would read it.
    value: f64,
    /// The value of a number written without fraction or exponent.
    integer: Option<i64>,
}

impl Number {
    // Inlined into `numbers` whatever else calls it: a call per number made large bodies' parse a fifth
    // slower.
    #[inline(always)]
    fn scan(text: &str, start: usize) -> Option<Number> {
        let bytes = text.as_bytes();
        let mut i = start;
        let negative = bytes.get(i) == Some(&b'-');
        i += usize::from(negative);
        // Every digit, point aside; exact while there are at most 19 (10^19 < 2^64).
        let (mut mantissa, mut count) = (0u64, 0u32);
        let mut digits = |i: &mut usize| {
            let from = *i;
            while let Some(&d) = bytes.get(*i).filter(|b| b.is_ascii_digit()) {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                *i += 1;
            }
            count += (*i - from) as u32;
            *i - from
        };
        match bytes.get(i) {
            // A leading zero stands alone and adds nothing to the mantissa.
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => _ = digits(&mut i),
            _ => return None,
        }
        let mut plain = true;
        let mut fraction_digits = 0;
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            plain = false;
            fraction_digits = digits(&mut i) as i32;
            if fraction_digits == 0 {
                return None;
            }
        }
        let mut exponent: i32 = 0;
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            plain = false;
            let sign = match bytes.get(i) {
                Some(b'-') => -1,
                Some(b'+') => 1,
                _ => 0,
            };
            i += usize::from(sign != 0);
            let from = i;
            while let Some(d) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
                exponent = exponent
                    .saturating_mul(10)
                    .saturating_add(i32::from(d - b'0'));
                i += 1;
            }
            if i == from {
                return None;
            }
            exponent *= if sign < 0 { -1 } else { 1 };
        }
        let exact = count <= 19;
        let scale = exponent.saturating_sub(fraction_digits);
        // Clinger's fast path: an exact mantissa and an exact power of ten round once, correctly.
        let fast = (exact && mantissa <= 1 << 53)
            .then(|| EXACT_POWERS_OF_TEN.get(scale.unsigned_abs() as usize))
            .flatten()
            .map(|&power| {
                let m = mantissa as f64;
                if scale < 0 {
                    m / power
                } else {
                    m * power
                }
            });
        // The fast path's values are finite by construction (at most 2^53 · 10^22); only a parsed one is
        // checked, which keeps a branch on the division's result out of the common case.
        let value = match fast {
            Some(v) if negative => -v,
            Some(v) => v,
            None => text[start..i]
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())?,
        };
        let integer = (plain && exact)
            .then(|| i64::try_from(mantissa).ok())
            .flatten()
            .map(|m| if negative { -m } else { m });
        Some(Number {
            end: i,
            value,
            integer,
        })
    }
}

/// Writes `text` as JSON: embedded as is when it is a JSON document, else as a string, as the frontend's
/// `embedOutput` does.
pub fn write_embedded(out: &mut Vec<u8>, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    let trimmed = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    let could_be_json = trimmed
        .chars()
        .next()
        .is_some_and(|c| "{[\"-0123456789tfn".contains(c));
    if could_be_json && serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_ok() {
        out.extend_from_slice(trimmed.as_bytes());
    } else {
        write_string(out, &text);
    }
}

pub fn write_string(out: &mut Vec<u8>, text: &str) {
    // Serializing a string into a vector cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// What an answer gives: a model's output, or the app's default output and why.
pub enum Outcome<'a> {
    /// Output text, embedded as `write_embedded` embeds it.
    Output(&'a [u8]),
    Default(Cow<'a, str>),
}

impl<'a> Outcome<'a> {
    /// The outcome of one model's completion, explained as src/api/query/answers.ts explains it.
    pub fn of(status: Status, payload: &'a [u8]) -> Outcome<'a> {
        match status {
            Status::Ok => Outcome::Output(payload),
            Status::DeadlineMissed => Outcome::Default(EXPLANATION_SLO_MISSED.into()),
            Status::NoConnectedModel => Outcome::Default(EXPLANATION_NO_MODEL.into()),
            _ => Outcome::Default(String::from_utf8_lossy(payload)),
        }
    }
}

/// One query's answer, as src/api/query/answers.ts shapes it; `default_output` is already JSON.
pub fn write_answer(
    out: &mut Vec<u8>,
    query_id: u64,
    status: Status,
    payload: &[u8],
    default_output: &[u8],
) {
    write_answer_fields(out, query_id, &Outcome::of(status, payload), default_output);
    out.push(b'}');
}

/// The fields every answer has, `{query_id, output, default, default_explanation?`, leaving the object
/// open for the fields a selection policy adds.
pub fn write_answer_fields(
    out: &mut Vec<u8>,
    query_id: u64,
    outcome: &Outcome<'_>,
    default_output: &[u8],
) {
    out.extend_from_slice(b"{\"query_id\":");
    out.extend_from_slice(query_id.to_string().as_bytes());
    out.extend_from_slice(b",\"output\":");
    match outcome {
        Outcome::Output(output) => {
            write_embedded(out, output);
            out.extend_from_slice(b",\"default\":false");
        }
        Outcome::Default(why) => {
            out.extend_from_slice(default_output);
            out.extend_from_slice(b",\"default\":true,\"default_explanation\":");
            write_string(out, why);
        }
    }
}

/// The value of output text that is one JSON number (whitespace around it aside), as `JSON.parse` reads
/// it; `None` for anything else, a number too large for a double included.
pub fn json_number(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    let trimmed = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    Number::scan(trimmed, 0)
        .filter(|n| n.end == trimmed.len())
        .map(|n| n.value)
}

/// Writes a finite `value` as JavaScript's `Number.prototype.toString` does (ECMA-262, Number::toString):
/// the shortest digits that read back the same, in plain notation for decimal exponents from -7 to 20,
/// else as `d.ddde+N` / `d.ddde-N`.
pub fn write_js_number(out: &mut Vec<u8>, value: f64) {
    // Both zeros are "0" there.
    if value == 0.0 {
        out.push(b'0');
        return;
    }
    // Rust's shortest round-trip digits, as `d.ddde±x`: ECMA-262 asks for the same digits.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: Vec<u8> = mantissa.bytes().filter(|&b| b != b'.').collect();
    let k = digits.len() as i32;
    // The decimal point sits after `n` digits.
    let n = exponent.parse::<i32>().unwrap_or(0) + 1;
    if value < 0.0 {
        out.push(b'-');
    }
    if (k..=21).contains(&n) {
        out.extend_from_slice(&digits);
        out.resize(out.len() + (n - k) as usize, b'0');
    } else if (1..=21).contains(&n) {
        out.extend_from_slice(&digits[..n as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[n as usize..]);
    } else if (-5..=0).contains(&n) {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + n.unsigned_abs() as usize, b'0');
        out.extend_from_slice(&digits);
    } else {
        out.push(digits[0]);
        if k > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.extend_from_slice(if n > 0 { b"e+" } else { b"e-" });
        out.extend_from_slice((n - 1).unsigned_abs().to_string().as_bytes());
    }
}

/// The status a test vector names (tests/vectors).
#[cfg(test)]
pub fn status_named(name: &str) -> Status {
    match name {
        "ok" => Status::Ok,
        "deadline_missed" => Status::DeadlineMissed,
        "no_connected_model" => Status::NoConnectedModel,
        "model_error" => Status::ModelError,
        "dropped" => Status::Dropped,
        other => panic!("unknown status {other} in a test vector"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doubles(values: &[f64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn a_single_input_is_encoded_for_its_input_type() {
        let p = parse(br#"{"input": [1, 2.5]}"#, InputType::Doubles).unwrap();
        assert_eq!(
            p,
            Parsed {
                batch: false,
                offsets: vec![0, 16],
                data: doubles(&[1.0, 2.5]),
                uid: Uid::Absent,
            }
        );
        let p = parse(br#"{"input": [1, -2]}"#, InputType::Ints).unwrap();
        assert_eq!(
            p.data,
            [1i32, -2]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>()
        );
        let p = parse(br#"{"input": [0.1]}"#, InputType::Floats).unwrap();
        assert_eq!(p.data, 0.1f32.to_le_bytes());
        let p = parse(
            br#"{"input": [ -0 , 1E2,2.5e-1 ,-3.25]}"#,
            InputType::Doubles,
        )
        .unwrap();
        assert_eq!(p.data, doubles(&[-0.0, 100.0, 0.25, -3.25]));
        let p = parse(br#"{"input": []}"#, InputType::Doubles).unwrap();
        assert_eq!(p.offsets, vec![0, 0]);
        let p = parse(
            br#" { "extra": {"k": [1, "}"]}, "input" : "caf\u00e9" } "#,
            InputType::Strings,
        )
        .unwrap();
        assert_eq!(p.data, "café".as_bytes());
    }

    #[test]
    fn numbers_read_exactly_as_the_standard_parser_reads_them() {
        let cases = [
            "0",
            "-0",
            "0.5",
            "0.1234",
            "123456789012345678",
            "12345678901234567890123",
            "1e22",
            "1e23",
            "9007199254740993",
            "0.30000000000000004",
            "1.7976931348623157e308",
            "5e-324",
            "2.5E-3",
            "-7e+2",
            "0.000000000000000000000000001",
        ];
        for case in cases {
            let n = Number::scan(case, 0).unwrap();
            assert_eq!(n.end, case.len(), "{case}");
            assert_eq!(
                n.value.to_bits(),
                case.parse::<f64>().unwrap().to_bits(),
                "{case}"
            );
        }
        assert_eq!(Number::scan("-12", 0).unwrap().integer, Some(-12));
        assert_eq!(Number::scan("12.0", 0).unwrap().integer, None);
        assert!(Number::scan("1e400", 0).is_none());
    }

    #[test]
    fn a_batch_is_encoded_in_order_with_its_offsets() {
        let p = parse(br#"{"input_batch": [[1], [], [2, 3]]}"#, InputType::Doubles).unwrap();
        assert!(p.batch);
        assert_eq!(p.offsets, vec![0, 8, 8, 24]);
        assert_eq!(p.data, doubles(&[1.0, 2.0, 3.0]));
    }

    #[test]
    fn input_wins_over_input_batch_as_in_the_frontend() {
        let p = parse(
            br#"{"input_batch": [[9]], "input": [1]}"#,
            InputType::Doubles,
        )
        .unwrap();
        assert!(!p.batch);
        assert_eq!(p.data, doubles(&[1.0]));
    }

    #[test]
    fn whatever_the_frontend_must_judge_is_left_to_it() {
        let left: &[(&[u8], InputType)] = &[
            (br#"{"input": [1], "version": "2"}"#, InputType::Doubles),
            (
                br#"{"input": null, "input_batch": [[1]]}"#,
                InputType::Doubles,
            ),
            (br#"[[1]]"#, InputType::Doubles),
            (br#"{"input": [1.0]}"#, InputType::Ints),
            (br#"{"input": [3000000000]}"#, InputType::Ints),
            (br#"{"input": [1e400]}"#, InputType::Doubles),
            (br#"{"input": [1e3]}"#, InputType::Ints),
            (br#"{"input": [[1]]}"#, InputType::Doubles),
            (br#"{"input": {"a": 1}}"#, InputType::Doubles),
            (br#"{"input": [true]}"#, InputType::Doubles),
            (br#"{"input": ["1"]}"#, InputType::Doubles),
            (br#"{"input": "AAAA"}"#, InputType::Bytes),
            (br#"{"input": "\ud800"}"#, InputType::Strings),
            (br#"{"input_batch": []}"#, InputType::Doubles),
            (br#"{"input": [1], "input": [2]}"#, InputType::Doubles),
            (br#"{"other": 1}"#, InputType::Doubles),
            (b"{\"input\": [1]", InputType::Doubles),
            (b"\xff", InputType::Doubles),
            (br#"{"\u0069nput": [1]}"#, InputType::Doubles),
            (br#"{"input": [1]} x"#, InputType::Doubles),
            (br#"{"input": [1],}"#, InputType::Doubles),
            (br#"{"input": [1,]}"#, InputType::Doubles),
            (br#"{"input": [01]}"#, InputType::Doubles),
            (br#"{"a": tru, "input": [1]}"#, InputType::Doubles),
        ];
        for (body, input_type) in left {
            assert_eq!(
                parse(body, *input_type),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_uid_is_a_string_or_a_safe_integer_as_its_decimal_text() {
        let uid = |body: &str| parse(body.as_bytes(), InputType::Doubles).map(|p| p.uid);
        let key = |k: &str| Some(Uid::Key(k.into()));
        assert_eq!(uid(r#"{"input": [1]}"#), Some(Uid::Absent));
        assert_eq!(uid(r#"{"uid": 5, "input": [1]}"#), key("5"));
        assert_eq!(uid(r#"{"input": [1], "uid": -12}"#), key("-12"));
        assert_eq!(uid(r#"{"input": [1], "uid": -0}"#), key("0"));
        assert_eq!(uid(r#"{"input": [1], "uid": "ann"}"#), key("ann"));
        assert_eq!(uid(r#"{"input": [1], "uid": "café"}"#), key("café"));
        assert_eq!(
            uid(r#"{"input": [1], "uid": 9007199254740991}"#),
            key("9007199254740991")
        );
        let batch = parse(
            br#"{"uid": "7", "input_batch": [[1], [2]]}"#,
            InputType::Doubles,
        );
        assert_eq!(
            batch.map(|p| (p.batch, p.uid)),
            Some((true, Uid::Key("7".into())))
        );
    }

    #[test]
    fn an_unusual_uid_is_read_past_and_marked_for_the_frontend() {
        let with_uid = |uid: &str| {
            let body = format!(r#"{{"input": [1], "uid": {uid}}}"#);
            parse(body.as_bytes(), InputType::Doubles).map(|p| p.uid)
        };
        for uid in [
            "1.5",
            "1e3",
            "5.0",
            "9007199254740993",
            "123456789012345678901",
            r#"{"id": 1}"#,
            "[1]",
            "null",
            "true",
            r#""caf\u00e9""#,
            r#""a\"b""#,
            r#""\ud800""#,
            r#""a", "uid": "b""#,
        ] {
            assert_eq!(with_uid(uid), Some(Uid::Unusual), "{uid}");
        }
        // Not JSON: the whole body is the frontend's.
        for uid in ["tru", "01", "-", "1e400", ""] {
            assert_eq!(with_uid(uid), None, "{uid}");
        }
    }

    #[test]
    fn numbers_are_written_as_javascript_writes_them() {
        for (value, text) in [
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            ((0.1 + 0.2) / 2.0, "0.15000000000000002"),
            (5.0, "5"),
            (-0.375, "-0.375"),
            (-0.0, "0"),
            (100.0, "100"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-7, "1e-7"),
            (-1.25e-7, "-1.25e-7"),
            (1e-6, "0.000001"),
            (1.5e-6, "0.0000015"),
            (4.0 / 3.0, "1.3333333333333333"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ] {
            let mut out = Vec::new();
            write_js_number(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), text, "{value:e}");
        }
    }

    #[test]
    fn only_output_that_is_one_json_number_reads_as_a_number() {
        assert_eq!(json_number(b" 6.0 \n"), Some(6.0));
        assert_eq!(json_number(b"-2.5e1"), Some(-25.0));
        for text in [
            &b"cat"[..],
            b"[1]",
            b"1 2",
            b"",
            b"01",
            b"1e400",
            b"NaN",
            b"+1",
            b"\xff",
        ] {
            assert_eq!(json_number(text), None, "{}", String::from_utf8_lossy(text));
        }
    }

    /// The answers both paths must write, shared with the TypeScript frontend's tests.
    #[test]
    fn answers_match_the_shared_vectors_byte_for_byte() {
        #[derive(serde::Deserialize)]
        struct Vector {
            name: String,
            status: String,
            payload: String,
            default_output: String,
            answer: String,
        }
        #[derive(serde::Deserialize)]
        struct Vectors {
            vectors: Vec<Vector>,
        }
        let file: Vectors =
            serde_json::from_str(include_str!("../../../../tests/vectors/answers.json")).unwrap();
        assert!(file.vectors.len() > 10);
        for v in file.vectors {
            let status = status_named(&v.status);
            let mut default_output = Vec::new();
            write_embedded(&mut default_output, v.default_output.as_bytes());
            let mut out = Vec::new();
            write_answer(&mut out, 7, status, v.payload.as_bytes(), &default_output);
            assert_eq!(String::from_utf8(out).unwrap(), v.answer, "{}", v.name);
        }
    }
}
