//! Predict bodies and answers on the native path: reads `{"input": X}` or `{"input_batch": [X, ...]}` into
//! wire-encoded inputs, and writes answers in the shapes src/api/query gives (`{query_id, output, default,
//! default_explanation?}`, `{batch_predictions: [...]}`).
//!
//! Takes only what it is sure of. Anything else (a pinned `version`, a `bytes` app, a value the TypeScript
//! frontend might accept differently, anything malformed) parses to `None` and is handed to that frontend,
//! which owns every validation message and error code.

use crate::completion::Status;
use crate::rpc::InputType;

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
}

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
    let (mut single, mut batch) = (None, None);
    if !s.eat(b'}') {
        loop {
            match s.key()? {
                "input" if single.is_none() => single = Some(s.inputs(input_type, false)?),
                "input_batch" if batch.is_none() => batch = Some(s.inputs(input_type, true)?),
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
    single.or(batch.filter(|b| b.offsets.len() > 1))
}

/// A cursor over a JSON text.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl Scanner<'_> {
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
    fn key(&mut self) -> Option<&str> {
        self.expect(b'"')?;
        let start = self.at;
        let length = self.text[start..].bytes().position(|b| b == b'"')?;
        let key = &self.text[start..start + length];
        if key.bytes().any(|b| b == b'\\' || b < 0x20) {
            return None;
        }
        self.at = start + length + 1;
        self.expect(b':')?;
        Some(key)
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

    /// The value of `input` (one input) or of `input_batch` (an array of them).
    fn inputs(&mut self, input_type: InputType, batch: bool) -> Option<Parsed> {
        let mut parsed = Parsed {
            batch,
            offsets: vec![0],
            data: Vec::new(),
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

fn write_string(out: &mut Vec<u8>, text: &str) {
    // Serializing a string into a vector cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// One query's answer, as src/api/query/answers.ts shapes it; `default_output` is already JSON.
pub fn write_answer(
    out: &mut Vec<u8>,
    query_id: u64,
    status: Status,
    payload: &[u8],
    default_output: &[u8],
) {
    out.extend_from_slice(b"{\"query_id\":");
    out.extend_from_slice(query_id.to_string().as_bytes());
    out.extend_from_slice(b",\"output\":");
    if status == Status::Ok {
        write_embedded(out, payload);
        out.extend_from_slice(b",\"default\":false}");
        return;
    }
    out.extend_from_slice(default_output);
    out.extend_from_slice(b",\"default\":true,\"default_explanation\":");
    match status {
        Status::DeadlineMissed => write_string(out, EXPLANATION_SLO_MISSED),
        Status::NoConnectedModel => write_string(out, EXPLANATION_NO_MODEL),
        _ => write_string(out, &String::from_utf8_lossy(payload)),
    }
    out.push(b'}');
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
                data: doubles(&[1.0, 2.5])
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
            let status = match v.status.as_str() {
                "ok" => Status::Ok,
                "deadline_missed" => Status::DeadlineMissed,
                "no_connected_model" => Status::NoConnectedModel,
                "model_error" => Status::ModelError,
                "dropped" => Status::Dropped,
                other => panic!("unknown status {other} in vector \"{}\"", v.name),
            };
            let mut default_output = Vec::new();
            write_embedded(&mut default_output, v.default_output.as_bytes());
            let mut out = Vec::new();
            write_answer(&mut out, 7, status, v.payload.as_bytes(), &default_output);
            assert_eq!(String::from_utf8(out).unwrap(), v.answer, "{}", v.name);
        }
    }
}
