//! Clipper RPC v3 messages as ZeroMQ frames: pure encoding and decoding, no sockets.
//!
//! Frame layouts (all integers little-endian) are the original Clipper's, so its containers work unchanged.
//! Owns byte layouts only; what a message *means* for queues and replicas is the engine's business.

use std::fmt;
use std::sync::Arc;

/// The one protocol version we speak; containers announce theirs in `NewContainer`.
pub const RPC_VERSION: u32 = 3;

const MSG_NEW_CONTAINER: u32 = 0;
const MSG_CONTAINER_CONTENT: u32 = 1;
const MSG_HEARTBEAT: u32 = 2;
/// Our extension: a container reports that it failed one batch (original v3 containers never send it).
const MSG_BATCH_ERROR: u32 = 3;
/// Our extension: a container is stopping; anything it holds must go to another replica.
const MSG_LEAVING: u32 = 4;

const REQUEST_PREDICT: u32 = 0;

/// What a frontend heartbeat asks of the container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeartbeatKind {
    KeepAlive = 0,
    RequestMetadata = 1,
}

/// The wire ids of the five input types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputType {
    Bytes = 0,
    Ints = 1,
    Floats = 2,
    Doubles = 3,
    Strings = 4,
}

impl InputType {
    pub fn from_id(id: u32) -> Option<InputType> {
        Some(match id {
            0 => InputType::Bytes,
            1 => InputType::Ints,
            2 => InputType::Floats,
            3 => InputType::Doubles,
            4 => InputType::Strings,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            InputType::Bytes => "bytes",
            InputType::Ints => "ints",
            InputType::Floats => "floats",
            InputType::Doubles => "doubles",
            InputType::Strings => "strings",
        }
    }
}

/// One frame of an outbound message. Inputs are shared with the queue that holds them, so a batch is
/// sent without copying its payload into intermediate buffers.
#[derive(Clone, Debug)]
pub enum Frame {
    U32([u8; 4]),
    U64([u8; 8]),
    Owned(Vec<u8>),
    Shared(Arc<[u8]>, usize, usize),
}

impl Frame {
    fn u32(v: u32) -> Frame {
        Frame::U32(v.to_le_bytes())
    }
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        match self {
            Frame::U32(b) => b,
            Frame::U64(b) => b,
            Frame::Owned(v) => v,
            Frame::Shared(data, start, end) => &data[*start..*end],
        }
    }
}

/// Frames after the routing identity of a frontend → container heartbeat.
pub fn encode_heartbeat(kind: HeartbeatKind) -> Vec<Frame> {
    vec![
        Frame::Owned(Vec::new()),
        Frame::u32(RPC_VERSION),
        Frame::u32(MSG_HEARTBEAT),
        Frame::u32(kind as u32),
    ]
}

/// Frames after the routing identity of a prediction request carrying `inputs` (already in wire
/// encoding for `input_type`).
pub fn encode_prediction_request(
    msg_id: u32,
    input_type: InputType,
    inputs: Vec<Frame>,
) -> Vec<Frame> {
    let mut header = Vec::with_capacity(8 * (inputs.len() + 2));
    header.extend_from_slice(&(input_type as u64).to_le_bytes());
    header.extend_from_slice(&(inputs.len() as u64).to_le_bytes());
    for input in &inputs {
        header.extend_from_slice(&(input.as_ref().len() as u64).to_le_bytes());
    }
    let mut frames = Vec::with_capacity(inputs.len() + 7);
    frames.push(Frame::Owned(Vec::new()));
    frames.push(Frame::u32(RPC_VERSION));
    frames.push(Frame::u32(MSG_CONTAINER_CONTENT));
    frames.push(Frame::u32(msg_id));
    frames.push(Frame::u32(REQUEST_PREDICT));
    frames.push(Frame::U64((header.len() as u64).to_le_bytes()));
    frames.push(Frame::Owned(header));
    frames.extend(inputs);
    frames
}

/// A container's `NewContainer` message: which model it serves and how.
#[derive(Debug, PartialEq, Eq)]
pub struct Announcement<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub input_type: InputType,
    pub rpc_version: u32,
    /// Our extension: the replica's number as the process that started it counts (an optional frame
    /// after the RPC version, u32, sent only when the container was given `CLIPPER_REPLICA`), so the
    /// core's logs and the management API name a replica alike.
    pub replica: Option<u32>,
}

/// A message from a container, decoded from the frames that follow its routing identity.
#[derive(Debug, PartialEq, Eq)]
pub enum ContainerMessage<'a> {
    Heartbeat,
    NewContainer(Announcement<'a>),
    Response { msg_id: u32, outputs: Vec<&'a [u8]> },
    BatchError { msg_id: u32, message: &'a str },
    Leaving,
}

/// Why a container's frames could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    MissingDelimiter,
    MissingFrame(&'static str),
    BadLength {
        field: &'static str,
        expected: usize,
        got: usize,
    },
    UnknownMessageType(u32),
    UnknownInputType(String),
    NotUtf8(&'static str),
    OutputCount {
        header: usize,
        frames: usize,
    },
    OutputLength {
        index: usize,
        header: usize,
        frame: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::MissingDelimiter => write!(f, "first frame is not the empty delimiter"),
            DecodeError::MissingFrame(field) => write!(f, "frame \"{field}\" is missing"),
            DecodeError::BadLength {
                field,
                expected,
                got,
            } => {
                write!(f, "frame \"{field}\" has {got} bytes, expected {expected}")
            }
            DecodeError::UnknownMessageType(t) => write!(f, "unknown message type {t}"),
            DecodeError::UnknownInputType(s) => write!(f, "unknown input type \"{s}\""),
            DecodeError::NotUtf8(field) => write!(f, "frame \"{field}\" is not UTF-8"),
            DecodeError::OutputCount { header, frames } => {
                write!(
                    f,
                    "header announces {header} outputs but {frames} frames follow"
                )
            }
            DecodeError::OutputLength {
                index,
                header,
                frame,
            } => {
                write!(
                    f,
                    "output {index} has {frame} bytes but the header announces {header}"
                )
            }
        }
    }
}

struct Reader<'f, 'a> {
    frames: &'f [&'a [u8]],
    next: usize,
}

impl<'f, 'a> Reader<'f, 'a> {
    fn frame(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let frame = self
            .frames
            .get(self.next)
            .ok_or(DecodeError::MissingFrame(field))?;
        self.next += 1;
        Ok(frame)
    }

    fn fixed<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let frame = self.frame(field)?;
        frame.try_into().map_err(|_| DecodeError::BadLength {
            field,
            expected: N,
            got: frame.len(),
        })
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.fixed(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.fixed(field)?))
    }

    fn str(&mut self, field: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.frame(field)?).map_err(|_| DecodeError::NotUtf8(field))
    }

    fn rest(&self) -> &'f [&'a [u8]] {
        &self.frames[self.next.min(self.frames.len())..]
    }
}

/// Decodes the frames after the routing identity: `["", type, ...]`.
pub fn decode_container_message<'a>(
    frames: &[&'a [u8]],
) -> Result<ContainerMessage<'a>, DecodeError> {
    let mut r = Reader { frames, next: 0 };
    if !r
        .frame("delimiter")
        .map_err(|_| DecodeError::MissingDelimiter)?
        .is_empty()
    {
        return Err(DecodeError::MissingDelimiter);
    }
    match r.u32("message type")? {
        MSG_HEARTBEAT => Ok(ContainerMessage::Heartbeat),
        MSG_NEW_CONTAINER => {
            let name = r.str("model name")?;
            let version = r.str("model version")?;
            let type_text = r.str("input type")?;
            let input_type = type_text
                .trim()
                .parse::<u32>()
                .ok()
                .and_then(InputType::from_id)
                .ok_or_else(|| DecodeError::UnknownInputType(type_text.to_owned()))?;
            // Containers older than v3 omit the version frame; the engine refuses them by version 0.
            let rpc_version = if r.rest().is_empty() {
                0
            } else {
                r.u32("rpc version")?
            };
            let replica = if r.rest().is_empty() {
                None
            } else {
                Some(r.u32("replica number")?)
            };
            Ok(ContainerMessage::NewContainer(Announcement {
                name,
                version,
                input_type,
                rpc_version,
                replica,
            }))
        }
        MSG_CONTAINER_CONTENT => {
            let msg_id = u32::from_le_bytes(r.fixed("message id")?);
            let header_len = r.u64("header length")? as usize;
            let header = r.frame("output header")?;
            if header.len() != header_len || header_len < 8 || !header_len.is_multiple_of(8) {
                return Err(DecodeError::BadLength {
                    field: "output header",
                    expected: header_len,
                    got: header.len(),
                });
            }
            let lens: Vec<usize> = header
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")) as usize)
                .collect();
            let count = lens[0];
            let outputs = r.rest();
            if count != lens.len() - 1 || count != outputs.len() {
                return Err(DecodeError::OutputCount {
                    header: count,
                    frames: outputs.len(),
                });
            }
            for (index, (len, frame)) in lens[1..].iter().zip(outputs).enumerate() {
                if *len != frame.len() {
                    return Err(DecodeError::OutputLength {
                        index,
                        header: *len,
                        frame: frame.len(),
                    });
                }
            }
            Ok(ContainerMessage::Response {
                msg_id,
                outputs: outputs.to_vec(),
            })
        }
        MSG_BATCH_ERROR => {
            let msg_id = u32::from_le_bytes(r.fixed("message id")?);
            let message = r.str("error message")?;
            Ok(ContainerMessage::BatchError { msg_id, message })
        }
        MSG_LEAVING => Ok(ContainerMessage::Leaving),
        other => Err(DecodeError::UnknownMessageType(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(frames: &[Frame]) -> Vec<Vec<u8>> {
        frames.iter().map(|f| f.as_ref().to_vec()).collect()
    }

    #[test]
    fn heartbeat_requesting_metadata_has_the_original_layout() {
        assert_eq!(
            bytes(&encode_heartbeat(HeartbeatKind::RequestMetadata)),
            vec![vec![], vec![3, 0, 0, 0], vec![2, 0, 0, 0], vec![1, 0, 0, 0]]
        );
    }

    #[test]
    fn prediction_request_carries_type_count_and_sizes_in_its_header() {
        let data: Arc<[u8]> = Arc::from(&[1u8, 0, 0, 0, 2, 0, 0, 0, 9, 0, 0, 0][..]);
        let inputs = vec![
            Frame::Shared(data.clone(), 0, 8),
            Frame::Shared(data, 8, 12),
        ];
        let got = bytes(&encode_prediction_request(7, InputType::Ints, inputs));
        let mut header = Vec::new();
        for v in [1u64, 2, 8, 4] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(
            got,
            vec![
                vec![],
                vec![3, 0, 0, 0],
                vec![1, 0, 0, 0],
                vec![7, 0, 0, 0],
                vec![0, 0, 0, 0],
                32u64.to_le_bytes().to_vec(),
                header,
                vec![1, 0, 0, 0, 2, 0, 0, 0],
                vec![9, 0, 0, 0],
            ]
        );
    }

    #[test]
    fn new_container_message_is_decoded() {
        let frames: Vec<&[u8]> = vec![b"", &[0, 0, 0, 0], b"sum", b"1", b"3", &[3, 0, 0, 0]];
        assert_eq!(
            decode_container_message(&frames),
            Ok(ContainerMessage::NewContainer(Announcement {
                name: "sum",
                version: "1",
                input_type: InputType::Doubles,
                rpc_version: 3,
                replica: None,
            }))
        );
    }

    #[test]
    fn new_container_may_name_its_replica_number_after_the_version() {
        let frames: Vec<&[u8]> = vec![
            b"",
            &[0, 0, 0, 0],
            b"sum",
            b"1",
            b"3",
            &[3, 0, 0, 0],
            &[2, 1, 0, 0],
        ];
        assert!(matches!(
            decode_container_message(&frames),
            Ok(ContainerMessage::NewContainer(Announcement {
                replica: Some(258),
                ..
            }))
        ));
        let short: Vec<&[u8]> = vec![b"", &[0, 0, 0, 0], b"m", b"1", b"3", &[3, 0, 0, 0], &[2]];
        assert!(decode_container_message(&short).is_err());
    }

    #[test]
    fn new_container_without_version_frame_reports_version_zero() {
        let frames: Vec<&[u8]> = vec![b"", &[0, 0, 0, 0], b"m", b"1", b"0"];
        assert!(matches!(
            decode_container_message(&frames),
            Ok(ContainerMessage::NewContainer(Announcement {
                rpc_version: 0,
                ..
            }))
        ));
    }

    #[test]
    fn response_outputs_are_checked_against_the_header() {
        let header: Vec<u8> = [2u64, 2, 3].iter().flat_map(|v| v.to_le_bytes()).collect();
        let len = 24u64.to_le_bytes();
        let frames: Vec<&[u8]> = vec![
            b"",
            &[1, 0, 0, 0],
            &[5, 0, 0, 0],
            &len,
            &header,
            b"ok",
            b"yes",
        ];
        assert_eq!(
            decode_container_message(&frames),
            Ok(ContainerMessage::Response {
                msg_id: 5,
                outputs: vec![b"ok", b"yes"]
            })
        );
        let short: Vec<&[u8]> = vec![b"", &[1, 0, 0, 0], &[5, 0, 0, 0], &len, &header, b"ok"];
        assert_eq!(
            decode_container_message(&short),
            Err(DecodeError::OutputCount {
                header: 2,
                frames: 1
            })
        );
        let wrong: Vec<&[u8]> = vec![
            b"",
            &[1, 0, 0, 0],
            &[5, 0, 0, 0],
            &len,
            &header,
            b"ok",
            b"no",
        ];
        assert_eq!(
            decode_container_message(&wrong),
            Err(DecodeError::OutputLength {
                index: 1,
                header: 3,
                frame: 2
            })
        );
    }

    #[test]
    fn garbage_frames_are_errors_not_panics() {
        let cases: Vec<Vec<&[u8]>> = vec![
            vec![],
            vec![b"x"],
            vec![b""],
            vec![b"", &[1, 0]],
            vec![b"", &[9, 0, 0, 0]],
            vec![b"", &[1, 0, 0, 0], &[1, 0, 0, 0]],
            vec![b"", &[1, 0, 0, 0], &[1, 0, 0, 0], &[255; 8], &[1]],
            vec![b"", &[0, 0, 0, 0], b"m", b"1", b"seven"],
            vec![b"", &[3, 0, 0, 0], &[1, 0, 0, 0], &[0xff, 0xfe]],
        ];
        for frames in cases {
            assert!(
                decode_container_message(&frames).is_err(),
                "{frames:?} decoded"
            );
        }
    }

    /// The frames a container sends for `message`, written as the original containers write them.
    fn container_frames(message: &ContainerMessage) -> Vec<Vec<u8>> {
        let u32_frame = |v: u32| v.to_le_bytes().to_vec();
        let mut frames = vec![Vec::new()];
        match message {
            ContainerMessage::Heartbeat => frames.push(u32_frame(MSG_HEARTBEAT)),
            ContainerMessage::NewContainer(a) => {
                frames.push(u32_frame(MSG_NEW_CONTAINER));
                frames.push(a.name.as_bytes().to_vec());
                frames.push(a.version.as_bytes().to_vec());
                frames.push((a.input_type as u32).to_string().into_bytes());
                frames.push(u32_frame(a.rpc_version));
                frames.extend(a.replica.map(u32_frame));
            }
            ContainerMessage::Response { msg_id, outputs } => {
                let mut header = (outputs.len() as u64).to_le_bytes().to_vec();
                for output in outputs {
                    header.extend_from_slice(&(output.len() as u64).to_le_bytes());
                }
                frames.push(u32_frame(MSG_CONTAINER_CONTENT));
                frames.push(u32_frame(*msg_id));
                frames.push((header.len() as u64).to_le_bytes().to_vec());
                frames.push(header);
                frames.extend(outputs.iter().map(|o| o.to_vec()));
            }
            ContainerMessage::BatchError { msg_id, message } => {
                frames.push(u32_frame(MSG_BATCH_ERROR));
                frames.push(u32_frame(*msg_id));
                frames.push(message.as_bytes().to_vec());
            }
            ContainerMessage::Leaving => frames.push(u32_frame(MSG_LEAVING)),
        }
        frames
    }

    /// The owned parts of one container message, for the strategies below.
    #[derive(Clone, Debug)]
    enum Sample {
        Heartbeat,
        NewContainer(String, String, u32, u32, Option<u32>),
        Response(u32, Vec<Vec<u8>>),
        BatchError(u32, String),
        Leaving,
    }

    impl Sample {
        fn message(&self) -> ContainerMessage<'_> {
            match self {
                Sample::Heartbeat => ContainerMessage::Heartbeat,
                Sample::NewContainer(name, version, input_type, rpc_version, replica) => {
                    ContainerMessage::NewContainer(Announcement {
                        name,
                        version,
                        input_type: InputType::from_id(*input_type).unwrap(),
                        rpc_version: *rpc_version,
                        replica: *replica,
                    })
                }
                Sample::Response(msg_id, outputs) => ContainerMessage::Response {
                    msg_id: *msg_id,
                    outputs: outputs.iter().map(Vec::as_slice).collect(),
                },
                Sample::BatchError(msg_id, message) => ContainerMessage::BatchError {
                    msg_id: *msg_id,
                    message,
                },
                Sample::Leaving => ContainerMessage::Leaving,
            }
        }
    }

    fn samples() -> impl proptest::strategy::Strategy<Value = Sample> {
        use proptest::prelude::*;
        let bytes = || proptest::collection::vec(any::<u8>(), 0..64);
        prop_oneof![
            Just(Sample::Heartbeat),
            (
                ".{0,20}",
                ".{0,20}",
                0u32..5,
                any::<u32>(),
                any::<Option<u32>>()
            )
                .prop_map(|(n, v, t, r, i)| Sample::NewContainer(n, v, t, r, i)),
            (any::<u32>(), proptest::collection::vec(bytes(), 0..8))
                .prop_map(|(id, outputs)| Sample::Response(id, outputs)),
            (any::<u32>(), ".{0,40}").prop_map(|(id, m)| Sample::BatchError(id, m)),
            Just(Sample::Leaving),
        ]
    }

    proptest::proptest! {
        #[test]
        fn every_container_message_round_trips_through_its_frames(sample in samples()) {
            let message = sample.message();
            let frames = container_frames(&message);
            let frames: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            proptest::prop_assert_eq!(decode_container_message(&frames), Ok(message));
        }

        #[test]
        fn arbitrary_frames_decode_or_fail_without_panicking(
            frames in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..40), 0..10),
        ) {
            let frames: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            let _ = decode_container_message(&frames);
        }

        #[test]
        fn a_damaged_valid_message_decodes_or_fails_without_panicking(
            sample in samples(),
            damage in proptest::collection::vec((0usize..16, 0usize..128, proptest::num::u8::ANY), 1..4),
            cut in proptest::option::of(0usize..16),
        ) {
            // Valid frames with bytes overwritten, frames truncated or dropped: reaches the checks past the
            // message type that arbitrary frames seldom get to.
            let mut frames = container_frames(&sample.message());
            for (frame, at, byte) in damage {
                let count = frames.len();
                let frame = &mut frames[frame % count];
                match frame.get_mut(at) {
                    Some(b) => *b = byte,
                    None => frame.truncate(at / 2),
                }
            }
            if let Some(cut) = cut {
                frames.truncate(cut);
            }
            let frames: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            let _ = decode_container_message(&frames);
        }
    }

    #[test]
    fn batch_error_extension_is_decoded() {
        let frames: Vec<&[u8]> = vec![b"", &[3, 0, 0, 0], &[9, 0, 0, 0], b"boom"];
        assert_eq!(
            decode_container_message(&frames),
            Ok(ContainerMessage::BatchError {
                msg_id: 9,
                message: "boom"
            })
        );
    }
}
