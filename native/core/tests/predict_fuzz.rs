//! The query port's predict body parser (`http::predict::parse`) under property tests: arbitrary bytes and
//! JSON-like text never panic it, and bodies written by a JSON serializer read back as the inputs they
//! hold, in wire encoding. Its own binary, as a client of the library's public parser.

use clipper_core::http::predict::{parse, Uid};
use clipper_core::rpc::InputType;
use proptest::prelude::*;

const INPUT_TYPES: [InputType; 5] = [
    InputType::Bytes,
    InputType::Ints,
    InputType::Floats,
    InputType::Doubles,
    InputType::Strings,
];

/// Text from JSON's own alphabet, so that many cases get past the first byte.
fn json_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("{"),
            Just("}"),
            Just("["),
            Just("]"),
            Just(","),
            Just(":"),
            Just("\""),
            Just("\"input\""),
            Just("\"input_batch\""),
            Just("\"uid\""),
            Just("\"version\""),
            Just("-"),
            Just("."),
            Just("e"),
            Just("+"),
            Just("0"),
            Just("7"),
            Just("12345678901234567890"),
            Just("1e400"),
            Just("\\"),
            Just("\\u00e9"),
            Just(" "),
            Just("null"),
            Just("true"),
            Just("é"),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// Serializes `inputs` as the body a client would send: one input, or a batch.
fn body<T: serde::Serialize>(key: &str, inputs: &[T], uid: Option<&str>) -> String {
    let mut object = serde_json::Map::new();
    let value = if key == "input" {
        serde_json::to_value(&inputs[0])
    } else {
        serde_json::to_value(inputs)
    };
    object.insert(key.into(), value.unwrap());
    if let Some(uid) = uid {
        object.insert("uid".into(), uid.into());
    }
    serde_json::to_string_pretty(&object).unwrap()
}

/// Input `i` of `offsets`/`data`.
fn input<'d>(offsets: &[u32], data: &'d [u8], i: usize) -> &'d [u8] {
    &data[offsets[i] as usize..offsets[i + 1] as usize]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_parser(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        input_type in proptest::sample::select(INPUT_TYPES.to_vec()),
    ) {
        let _ = parse(&bytes, input_type);
    }

    #[test]
    fn json_like_text_never_panics_the_parser(
        text in json_like(),
        input_type in proptest::sample::select(INPUT_TYPES.to_vec()),
    ) {
        let _ = parse(text.as_bytes(), input_type);
    }

    #[test]
    fn batches_of_doubles_read_back_bit_for_bit(
        inputs in proptest::collection::vec(
            proptest::collection::vec(any::<f64>().prop_filter("finite", |v| v.is_finite()), 0..20),
            1..6,
        ),
        batch in any::<bool>(),
    ) {
        let key = if batch { "input_batch" } else { "input" };
        let parsed = parse(body(key, &inputs, None).as_bytes(), InputType::Doubles);
        let parsed = parsed.expect("a valid body is the core's to serve");
        let read = if batch { inputs.len() } else { 1 };
        prop_assert_eq!(parsed.batch, batch);
        prop_assert_eq!(parsed.offsets.len(), read + 1);
        for (i, values) in inputs.iter().take(read).enumerate() {
            let wire: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            prop_assert_eq!(input(&parsed.offsets, &parsed.data, i), &wire[..]);
        }
    }

    #[test]
    fn ints_and_a_uid_read_back_exactly(
        inputs in proptest::collection::vec(proptest::collection::vec(any::<i32>(), 0..20), 1..6),
        uid in "[a-z0-9]{1,12}",
    ) {
        let parsed = parse(body("input_batch", &inputs, Some(&uid)).as_bytes(), InputType::Ints)
            .expect("a valid body is the core's to serve");
        prop_assert_eq!(parsed.uid, Uid::Key(uid));
        for (i, values) in inputs.iter().enumerate() {
            let wire: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            prop_assert_eq!(input(&parsed.offsets, &parsed.data, i), &wire[..]);
        }
    }

    #[test]
    fn strings_read_back_as_their_utf8_whatever_they_hold(
        inputs in proptest::collection::vec(".{0,30}", 1..6),
    ) {
        let parsed = parse(body("input_batch", &inputs, None).as_bytes(), InputType::Strings)
            .expect("a valid body is the core's to serve");
        for (i, text) in inputs.iter().enumerate() {
            prop_assert_eq!(input(&parsed.offsets, &parsed.data, i), text.as_bytes());
        }
    }
}
