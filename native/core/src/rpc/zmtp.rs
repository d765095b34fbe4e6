//! ZMTP 3 framing for the ROUTER end of the RPC socket: greeting, NULL-mechanism handshake and frames.
//!
//! Facts from the ZeroMQ wire protocol (RFC 23/ZMTP 3.0, 37/ZMTP 3.1), enough for the containers that
//! connect to us (libzmq DEALER sockets, any version that speaks ZMTP 3): a 64-byte greeting each way, one
//! READY command each way carrying the socket type (and the peer's routing identity), then frames whose
//! flag byte says "more follows", "long size" and "command". Pure byte work, no sockets, so it is tested
//! byte for byte (and against tests/vectors/zmtp.json, shared with the containers' DEALERs);
//! `runtime::router` drives it over TCP. Reading never trusts a size: a frame is taken once all of it has
//! arrived, and one announced over the connection's limit is refused from its header.

use bytes::{Bytes, BytesMut};

use super::Frame;

pub const GREETING_BYTES: usize = 64;

/// A message larger than this closes the connection, whatever the frame limit: no container answer comes
/// near it. Also the largest frame limit there is (src/config.ts checks `--max-frame-bytes` against it).
pub const MAX_MESSAGE_BYTES: usize = 1 << 30;

/// Room made in a connection's buffer before each read: a read takes what arrived, up to this, so the
/// buffer grows with the bytes received, never with the size a header claims.
pub const READ_CHUNK: usize = 64 * 1024;

const FLAG_MORE: u8 = 0x01;
const FLAG_LONG: u8 = 0x02;
const FLAG_COMMAND: u8 = 0x04;

/// Our greeting: signature, version 3.0, the NULL mechanism, not as-server (unused by NULL), filler.
pub fn greeting() -> [u8; GREETING_BYTES] {
    let mut g = [0u8; GREETING_BYTES];
    g[0] = 0xFF;
    g[9] = 0x7F;
    g[10] = 3;
    g[12..16].copy_from_slice(b"NULL");
    g
}

#[derive(Debug, PartialEq, Eq)]
pub enum ZmtpError {
    NotZmtp,
    OldVersion(u8),
    Mechanism(String),
    /// The first command was not READY, or READY was malformed.
    BadReady,
    /// The peer's socket type cannot talk to a ROUTER.
    SocketType(String),
    /// A frame header announced `size` bytes, over the connection's `limit`.
    FrameTooLarge {
        size: u64,
        limit: usize,
    },
    /// The frames of one message add up to more than `MAX_MESSAGE_BYTES`.
    MessageTooLarge(usize),
    /// A data frame before the handshake finished, or a command frame with MORE set.
    Unexpected,
}

impl std::fmt::Display for ZmtpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZmtpError::NotZmtp => write!(f, "the peer does not speak ZMTP"),
            ZmtpError::OldVersion(v) => {
                write!(f, "the peer speaks ZMTP revision {v}, older than 3")
            }
            ZmtpError::Mechanism(m) => write!(f, "the peer asks for security mechanism \"{m}\""),
            ZmtpError::BadReady => write!(f, "the peer's READY command is malformed"),
            ZmtpError::SocketType(t) => write!(f, "a \"{t}\" socket cannot talk to a ROUTER"),
            ZmtpError::FrameTooLarge { size, limit } => write!(
                f,
                "the peer announced a frame of {size} bytes, over the limit of {limit} (--max-frame-bytes)"
            ),
            ZmtpError::MessageTooLarge(n) => {
                write!(f, "the peer sent a message of more than {n} bytes")
            }
            ZmtpError::Unexpected => write!(f, "the peer broke the frame sequence"),
        }
    }
}

/// Checks the peer's greeting: ZMTP 3 or later, NULL mechanism (3.1 peers are answered as 3.0, which
/// they accept).
pub fn check_greeting(peer: &[u8; GREETING_BYTES]) -> Result<(), ZmtpError> {
    if peer[0] != 0xFF || peer[9] & 0x01 == 0 {
        return Err(ZmtpError::NotZmtp);
    }
    if peer[10] < 3 {
        return Err(ZmtpError::OldVersion(peer[10]));
    }
    let mechanism = &peer[12..32];
    let name_end = mechanism.iter().position(|&b| b == 0).unwrap_or(20);
    if &mechanism[..name_end] != b"NULL" {
        let name = String::from_utf8_lossy(&mechanism[..name_end]).into_owned();
        return Err(ZmtpError::Mechanism(name));
    }
    Ok(())
}

/// Appends the header of a frame of `len` bytes.
fn put_header(out: &mut Vec<u8>, flags: u8, len: usize) {
    match u8::try_from(len) {
        Ok(short) => out.extend_from_slice(&[flags, short]),
        Err(_) => {
            out.push(flags | FLAG_LONG);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// Appends a command frame named `name` with `body` after the name.
fn put_command(out: &mut Vec<u8>, name: &[u8], body: &[u8]) {
    put_header(out, FLAG_COMMAND, 1 + name.len() + body.len());
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(body);
}

/// Our READY command: socket type ROUTER.
pub fn ready() -> Vec<u8> {
    let mut properties = Vec::new();
    properties.push(11);
    properties.extend_from_slice(b"Socket-Type");
    properties.extend_from_slice(&6u32.to_be_bytes());
    properties.extend_from_slice(b"ROUTER");
    let mut out = Vec::new();
    put_command(&mut out, b"READY", &properties);
    out
}

/// Appends one message: each frame with its header, MORE on all but the last. The routing identity is not
/// sent: it only picks the connection.
pub fn put_message(out: &mut Vec<u8>, frames: &[Frame]) {
    let last = frames.len().saturating_sub(1);
    for (i, frame) in frames.iter().enumerate() {
        let bytes = frame.as_ref();
        put_header(out, if i < last { FLAG_MORE } else { 0 }, bytes.len());
        out.extend_from_slice(bytes);
    }
}

/// One frame found at the front of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameHead {
    pub more: bool,
    pub command: bool,
    /// Header bytes before the body.
    pub header_len: usize,
    pub body_len: usize,
}

/// The header of the frame at the front of `buf`, or `None` until the whole frame has arrived. A frame
/// announced over `max_frame_bytes` is refused from its header alone, before any of its body is read.
pub fn next_frame(buf: &[u8], max_frame_bytes: usize) -> Result<Option<FrameHead>, ZmtpError> {
    let Some(&flags) = buf.first() else {
        return Ok(None);
    };
    let (header_len, body_len) = if flags & FLAG_LONG != 0 {
        let Some(size) = buf.get(1..9) else {
            return Ok(None);
        };
        (9, u64::from_be_bytes(size.try_into().expect("eight bytes")))
    } else {
        let Some(&size) = buf.get(1) else {
            return Ok(None);
        };
        (2, u64::from(size))
    };
    let body_len = usize::try_from(body_len)
        .ok()
        .filter(|&len| len <= max_frame_bytes)
        .ok_or(ZmtpError::FrameTooLarge {
            size: body_len,
            limit: max_frame_bytes,
        })?;
    let head = FrameHead {
        more: flags & FLAG_MORE != 0,
        command: flags & FLAG_COMMAND != 0,
        header_len,
        body_len,
    };
    if head.command && head.more {
        return Err(ZmtpError::Unexpected);
    }
    // Subtracted, not added: a limit near `usize::MAX` must not overflow the sum.
    Ok((buf.len() - header_len >= body_len).then_some(head))
}

/// What the frames read from one connection add up to.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// A command frame's body: its name and data (see `command_parts`).
    Command(Bytes),
    /// A whole message: its frames' bodies, in order.
    Message(Vec<Bytes>),
}

/// Splits the bytes read from one connection into commands and whole messages. Memory follows what
/// arrived, never what a header claims: a frame is taken only once all its bytes are buffered, and one
/// announced over the limit is refused from its header.
pub struct Deframer {
    buf: BytesMut,
    max_frame_bytes: usize,
    /// The frames of a message whose last frame has not arrived yet.
    message: Vec<Bytes>,
    message_bytes: usize,
}

impl Deframer {
    /// A deframer refusing frames over `max_frame_bytes`, starting with the bytes already `buffered`.
    pub fn new(max_frame_bytes: usize, buffered: BytesMut) -> Deframer {
        Deframer {
            buf: buffered,
            max_frame_bytes,
            message: Vec::new(),
            message_bytes: 0,
        }
    }

    /// The buffer the next read appends to, with room for `READ_CHUNK` bytes.
    pub fn buffer(&mut self) -> &mut BytesMut {
        self.buf.reserve(READ_CHUNK);
        &mut self.buf
    }

    /// The next command or whole message in the buffer; `None` until more bytes arrive. After an error
    /// the connection is to be closed: the stream cannot be resynchronized.
    pub fn take(&mut self) -> Result<Option<Received>, ZmtpError> {
        while let Some(head) = next_frame(&self.buf, self.max_frame_bytes)? {
            let frame = self
                .buf
                .split_to(head.header_len + head.body_len)
                .freeze()
                .slice(head.header_len..);
            if head.command {
                return Ok(Some(Received::Command(frame)));
            }
            self.message_bytes += frame.len();
            if self.message_bytes > MAX_MESSAGE_BYTES {
                return Err(ZmtpError::MessageTooLarge(MAX_MESSAGE_BYTES));
            }
            self.message.push(frame);
            if !head.more {
                self.message_bytes = 0;
                return Ok(Some(Received::Message(std::mem::take(&mut self.message))));
            }
        }
        Ok(None)
    }
}

/// A command frame's body split into its name and the rest.
pub fn command_parts(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&name_len, rest) = body.split_first()?;
    let name_len = name_len as usize;
    (rest.len() >= name_len).then(|| rest.split_at(name_len))
}

/// The peer's READY: its routing identity (empty when it set none).
pub fn parse_ready(body: &[u8]) -> Result<Vec<u8>, ZmtpError> {
    let (name, mut properties) = command_parts(body).ok_or(ZmtpError::BadReady)?;
    if name != b"READY" {
        return Err(ZmtpError::BadReady);
    }
    let mut identity = Vec::new();
    let mut socket_type = None;
    while let Some((&name_len, rest)) = properties.split_first() {
        let name_len = name_len as usize;
        let name = rest.get(..name_len).ok_or(ZmtpError::BadReady)?;
        let size = rest
            .get(name_len..name_len + 4)
            .ok_or(ZmtpError::BadReady)?;
        let size = u32::from_be_bytes(size.try_into().expect("four bytes")) as usize;
        let start = name_len + 4;
        let value = rest.get(start..start + size).ok_or(ZmtpError::BadReady)?;
        if name.eq_ignore_ascii_case(b"Socket-Type") {
            socket_type = Some(value);
        } else if name.eq_ignore_ascii_case(b"Identity") {
            identity = value.to_vec();
        }
        properties = &rest[start + size..];
    }
    match socket_type {
        Some(b"DEALER" | b"REQ" | b"ROUTER") => Ok(identity),
        Some(other) => Err(ZmtpError::SocketType(
            String::from_utf8_lossy(other).into_owned(),
        )),
        None => Err(ZmtpError::BadReady),
    }
}

/// The PONG answering a ZMTP 3.1 PING body (after its name): the PING's context, echoed.
pub fn pong_for(ping: &[u8]) -> Vec<u8> {
    // A PING is a 2-byte TTL followed by up to 16 bytes of context.
    let context = ping.get(2..).unwrap_or_default();
    let context = &context[..context.len().min(16)];
    let mut out = Vec::new();
    put_command(&mut out, b"PONG", context);
    out
}

/// A peer's whole READY command frame with these properties, for tests that play the peer.
#[cfg(test)]
pub fn ready_command(properties: &[(&[u8], &[u8])]) -> Vec<u8> {
    let body = ready_from(properties);
    let mut out = Vec::new();
    put_header(&mut out, FLAG_COMMAND, body.len());
    out.extend_from_slice(&body);
    out
}

/// The body of a peer's READY command with these properties, for tests that play the peer.
#[cfg(test)]
pub fn ready_from(properties: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    for (name, value) in properties {
        body.push(name.len() as u8);
        body.extend_from_slice(name);
        body.extend_from_slice(&(value.len() as u32).to_be_bytes());
        body.extend_from_slice(value);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = MAX_MESSAGE_BYTES;

    #[test]
    fn our_greeting_is_accepted_by_our_own_check() {
        assert_eq!(check_greeting(&greeting()), Ok(()));
        assert_eq!(&greeting()[..11], b"\xFF\0\0\0\0\0\0\0\0\x7F\x03");
    }

    #[test]
    fn greetings_of_other_protocols_versions_and_mechanisms_are_refused() {
        let mut http = [0u8; GREETING_BYTES];
        http[..4].copy_from_slice(b"GET ");
        assert_eq!(check_greeting(&http), Err(ZmtpError::NotZmtp));
        let mut old = greeting();
        old[10] = 2;
        assert_eq!(check_greeting(&old), Err(ZmtpError::OldVersion(2)));
        let mut curve = greeting();
        curve[12..17].copy_from_slice(b"CURVE");
        assert_eq!(
            check_greeting(&curve),
            Err(ZmtpError::Mechanism("CURVE".into()))
        );
    }

    #[test]
    fn our_ready_names_the_router_socket_type() {
        let ready = ready();
        let head = next_frame(&ready, LIMIT).unwrap().unwrap();
        assert!(head.command && !head.more);
        let body = &ready[head.header_len..];
        assert_eq!(body.len(), head.body_len);
        let (name, properties) = command_parts(body).unwrap();
        assert_eq!(name, b"READY");
        assert_eq!(properties, b"\x0bSocket-Type\0\0\0\x06ROUTER");
    }

    #[test]
    fn a_dealers_ready_gives_its_identity_or_none() {
        let named = ready_from(&[(b"Socket-Type", b"DEALER"), (b"Identity", b"replica-7")]);
        assert_eq!(parse_ready(&named), Ok(b"replica-7".to_vec()));
        let anonymous = ready_from(&[(b"Socket-Type", b"DEALER"), (b"Identity", b"")]);
        assert_eq!(parse_ready(&anonymous), Ok(Vec::new()));
    }

    #[test]
    fn ready_from_sockets_that_cannot_talk_to_a_router_or_cut_short_is_refused() {
        let sub = ready_from(&[(b"Socket-Type", b"SUB")]);
        assert_eq!(parse_ready(&sub), Err(ZmtpError::SocketType("SUB".into())));
        let untyped = ready_from(&[(b"Identity", b"x")]);
        assert_eq!(parse_ready(&untyped), Err(ZmtpError::BadReady));
        let whole = ready_from(&[(b"Socket-Type", b"DEALER")]);
        assert_eq!(
            parse_ready(&whole[..whole.len() - 1]),
            Err(ZmtpError::BadReady)
        );
        assert_eq!(parse_ready(b"\x05HELLO"), Err(ZmtpError::BadReady));
    }

    #[test]
    fn messages_round_trip_through_short_and_long_frames() {
        let big = vec![7u8; 300];
        let frames = [
            Frame::Owned(Vec::new()),
            Frame::U32(3u32.to_le_bytes()),
            Frame::Owned(big.clone()),
        ];
        let mut wire = Vec::new();
        put_message(&mut wire, &frames);
        let mut rest = &wire[..];
        let mut seen = Vec::new();
        while let Some(head) = next_frame(rest, LIMIT).unwrap() {
            assert!(!head.command);
            let end = head.header_len + head.body_len;
            seen.push((head.more, rest[head.header_len..end].to_vec()));
            rest = &rest[end..];
        }
        assert!(rest.is_empty());
        let expected = vec![(true, Vec::new()), (true, vec![3, 0, 0, 0]), (false, big)];
        assert_eq!(seen, expected);
        // A long header: flag, then the size in 8 big-endian bytes.
        assert_eq!(wire[8], FLAG_LONG);
        assert_eq!(&wire[9..17], &300u64.to_be_bytes());
    }

    #[test]
    fn a_partial_frame_waits_and_an_absurd_size_is_refused() {
        let mut wire = Vec::new();
        put_message(&mut wire, &[Frame::Owned(vec![1; 10])]);
        for cut in 0..wire.len() {
            assert_eq!(next_frame(&wire[..cut], LIMIT), Ok(None), "cut at {cut}");
        }
        assert!(next_frame(&wire, LIMIT).unwrap().is_some());
        let mut huge = vec![FLAG_LONG];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        let refused = ZmtpError::FrameTooLarge {
            size: u64::MAX,
            limit: LIMIT,
        };
        assert_eq!(next_frame(&huge, LIMIT), Err(refused));
        assert_eq!(
            next_frame(&[FLAG_COMMAND | FLAG_MORE, 0], LIMIT),
            Err(ZmtpError::Unexpected)
        );
    }

    #[test]
    fn a_frame_over_the_configured_limit_is_refused_from_its_header_short_or_long() {
        let too_large = |size| ZmtpError::FrameTooLarge { size, limit: 10 };
        assert_eq!(next_frame(&[0, 11], 10), Err(too_large(11)));
        assert!(next_frame(&[0, 10], 10).unwrap().is_none());
        let mut long = vec![FLAG_LONG];
        long.extend_from_slice(&300u64.to_be_bytes());
        assert_eq!(next_frame(&long, 10), Err(too_large(300)));
        // A limit as large as the address space still compares without overflowing.
        long[1..].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(next_frame(&long, usize::MAX), Ok(None));
    }

    #[test]
    fn the_deframer_hands_over_whole_messages_and_commands_as_bytes_arrive() {
        let mut wire = pong_for(b"\0\x01ab");
        put_message(
            &mut wire,
            &[Frame::Owned(b"one".to_vec()), Frame::Owned(vec![2; 300])],
        );
        put_message(&mut wire, &[Frame::Owned(Vec::new())]);
        let mut deframer = Deframer::new(LIMIT, BytesMut::new());
        let mut received = Vec::new();
        // One byte at a time: every split point of every header and body.
        for &byte in &wire {
            deframer.buffer().extend_from_slice(&[byte]);
            while let Some(r) = deframer.take().unwrap() {
                received.push(r);
            }
        }
        let expected = vec![
            Received::Command(Bytes::from_static(b"\x04PONGab")),
            Received::Message(vec![Bytes::from_static(b"one"), Bytes::from(vec![2; 300])]),
            Received::Message(vec![Bytes::new()]),
        ];
        assert_eq!(received, expected);
    }

    #[test]
    fn the_deframer_refuses_a_frame_over_its_limit_before_its_body_arrives() {
        let mut deframer = Deframer::new(100, BytesMut::new());
        deframer
            .buffer()
            .extend_from_slice(&[FLAG_LONG, 0, 0, 0, 0, 0, 0, 0, 101]);
        assert_eq!(
            deframer.take(),
            Err(ZmtpError::FrameTooLarge {
                size: 101,
                limit: 100
            })
        );
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn field<'v>(vector: &'v serde_json::Value, name: &str) -> &'v str {
        vector[name].as_str().unwrap()
    }

    /// The vectors every ZMTP implementation here shares (see its `about`).
    fn vectors() -> serde_json::Value {
        serde_json::from_str(include_str!("../../../../tests/vectors/zmtp.json")).unwrap()
    }

    #[test]
    fn the_shared_greeting_vectors_are_judged_alike() {
        for vector in vectors()["greetings"].as_array().unwrap() {
            let greeting: [u8; GREETING_BYTES] = hex(field(vector, "hex")).try_into().unwrap();
            let outcome = match check_greeting(&greeting) {
                Ok(()) => "ok",
                Err(ZmtpError::NotZmtp) => "not_zmtp",
                Err(ZmtpError::OldVersion(_)) => "old_version",
                Err(ZmtpError::Mechanism(_)) => "mechanism",
                Err(other) => panic!("{other}"),
            };
            assert_eq!(outcome, field(vector, "outcome"), "{vector}");
        }
    }

    #[test]
    fn the_shared_frame_vectors_are_read_with_their_flags_and_bodies() {
        for vector in vectors()["frames"].as_array().unwrap() {
            let wire = hex(field(vector, "wire"));
            let head = next_frame(&wire, LIMIT).unwrap().expect("a whole frame");
            assert_eq!(head.header_len + head.body_len, wire.len(), "{vector}");
            assert_eq!(head.more, vector["more"].as_bool().unwrap(), "{vector}");
            assert_eq!(
                head.command,
                vector["command"].as_bool().unwrap(),
                "{vector}"
            );
            assert_eq!(
                wire[head.header_len..],
                hex(field(vector, "body")),
                "{vector}"
            );
        }
    }

    #[test]
    fn the_shared_message_vectors_are_written_exactly_and_read_back() {
        for vector in vectors()["messages"].as_array().unwrap() {
            let frames: Vec<Vec<u8>> = vector["frames"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| hex(f.as_str().unwrap()))
                .collect();
            let wire = hex(field(vector, "wire"));
            let mut written = Vec::new();
            put_message(
                &mut written,
                &frames.iter().cloned().map(Frame::Owned).collect::<Vec<_>>(),
            );
            assert_eq!(written, wire, "{vector}");
            let mut deframer = Deframer::new(LIMIT, BytesMut::from(&wire[..]));
            let read = deframer.take().unwrap();
            let frames = frames.into_iter().map(Bytes::from).collect();
            assert_eq!(read, Some(Received::Message(frames)), "{vector}");
            assert_eq!(deframer.take(), Ok(None));
        }
    }

    #[test]
    fn the_shared_invalid_vectors_wait_or_are_refused_from_the_header() {
        let vectors = vectors();
        assert_eq!(vectors["limit_bytes"].as_u64(), Some(LIMIT as u64));
        for vector in vectors["invalid"].as_array().unwrap() {
            let wire = hex(field(vector, "wire"));
            let outcome = next_frame(&wire, LIMIT);
            match field(vector, "outcome") {
                "incomplete" => assert_eq!(outcome, Ok(None), "{vector}"),
                "too_large" => {
                    let size = field(vector, "size").parse().unwrap();
                    let refused = ZmtpError::FrameTooLarge { size, limit: LIMIT };
                    assert_eq!(outcome, Err(refused), "{vector}");
                }
                other => panic!("unknown outcome {other}"),
            }
        }
    }

    /// Bytes cut into pieces at `cuts` (taken modulo the length), as reads from a socket would deliver them.
    fn pieces(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        at.extend([0, bytes.len()]);
        at.sort_unstable();
        at.windows(2).map(|w| bytes[w[0]..w[1]].to_vec()).collect()
    }

    /// Feeds `pieces` to a deframer until it refuses one; what it handed over, and its error if any.
    fn deframe(limit: usize, pieces: &[Vec<u8>]) -> (Vec<Received>, Option<ZmtpError>) {
        let mut deframer = Deframer::new(limit, BytesMut::new());
        let mut received = Vec::new();
        for piece in pieces {
            deframer.buffer().extend_from_slice(piece);
            loop {
                match deframer.take() {
                    Ok(Some(r)) => received.push(r),
                    Ok(None) => break,
                    Err(err) => return (received, Some(err)),
                }
            }
        }
        (received, None)
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_in_arbitrary_pieces_never_panic_the_reader(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048),
            cuts in proptest::collection::vec(0usize..4096, 0..8),
            limit in proptest::prop_oneof![0usize..600, proptest::strategy::Just(usize::MAX)],
        ) {
            let (received, _) = deframe(limit, &pieces(&bytes, &cuts));
            // Whatever it handed over came from the input, so never more than the input's bytes.
            let total: usize = received.iter().map(|r| match r {
                Received::Command(c) => c.len(),
                Received::Message(frames) => frames.iter().map(Bytes::len).sum(),
            }).sum();
            proptest::prop_assert!(total <= bytes.len());
        }

        #[test]
        fn arbitrary_greetings_and_commands_are_judged_without_panicking(
            greeting in proptest::array::uniform32(proptest::num::u8::ANY),
            rest in proptest::array::uniform32(proptest::num::u8::ANY),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
        ) {
            let mut whole = [0u8; GREETING_BYTES];
            whole[..32].copy_from_slice(&greeting);
            whole[32..].copy_from_slice(&rest);
            let _ = check_greeting(&whole);
            let _ = parse_ready(&body);
            let _ = command_parts(&body);
            let _ = pong_for(&body);
        }

        #[test]
        fn messages_round_trip_through_the_reader_however_they_are_cut(
            frames in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..700), 1..6),
            cuts in proptest::collection::vec(0usize..8192, 0..12),
        ) {
            let mut wire = Vec::new();
            put_message(&mut wire, &frames.iter().cloned().map(Frame::Owned).collect::<Vec<_>>());
            let (received, err) = deframe(LIMIT, &pieces(&wire, &cuts));
            proptest::prop_assert_eq!(err, None);
            let frames = frames.into_iter().map(Bytes::from).collect();
            proptest::prop_assert_eq!(received, vec![Received::Message(frames)]);
        }

        #[test]
        fn a_frame_is_refused_exactly_when_it_is_over_the_limit(
            size in 0usize..100_000,
            limit in 0usize..100_000,
        ) {
            let mut wire = Vec::new();
            put_message(&mut wire, &[Frame::Owned(vec![0; size])]);
            let read = next_frame(&wire, limit);
            if size > limit {
                let refused = ZmtpError::FrameTooLarge { size: size as u64, limit };
                proptest::prop_assert_eq!(read, Err(refused));
            } else {
                proptest::prop_assert_eq!(read.map(|h| h.map(|h| h.body_len)), Ok(Some(size)));
            }
        }

        #[test]
        fn a_dealers_ready_gives_back_the_identity_it_claimed(
            identity in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            socket_type in proptest::sample::select(vec![&b"DEALER"[..], b"REQ", b"ROUTER"]),
        ) {
            let ready = ready_from(&[(b"Socket-Type", socket_type), (b"Identity", &identity)]);
            proptest::prop_assert_eq!(parse_ready(&ready), Ok(identity));
        }
    }

    #[test]
    fn a_ping_is_answered_with_its_context() {
        let pong = pong_for(b"\x00\x0actx");
        let head = next_frame(&pong, LIMIT).unwrap().unwrap();
        let (name, context) = command_parts(&pong[head.header_len..]).unwrap();
        assert_eq!((name, context), (&b"PONG"[..], &b"ctx"[..]));
    }
}
