//! ZMTP 3 framing for the ROUTER end of the RPC socket: greeting, NULL-mechanism handshake and frames.
//!
//! Facts from the ZeroMQ wire protocol (RFC 23/ZMTP 3.0, 37/ZMTP 3.1), enough for the containers that
//! connect to us (libzmq DEALER sockets, any version that speaks ZMTP 3): a 64-byte greeting each way, one
//! READY command each way carrying the socket type (and the peer's routing identity), then frames whose
//! flag byte says "more follows", "long size" and "command". Pure byte work, no sockets, so it is tested
//! byte for byte; `runtime::router` drives it over TCP.

use super::Frame;

pub const GREETING_BYTES: usize = 64;

/// A frame or message larger than this closes the connection: no container answer comes near it, and a
/// garbage size must not make us allocate it.
pub const MAX_MESSAGE_BYTES: usize = 1 << 30;

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
    TooLarge(u64),
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
            ZmtpError::TooLarge(n) => write!(f, "the peer sent a frame of {n} bytes"),
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

/// The header of the frame at the front of `buf`, or `None` until the whole frame has arrived.
pub fn next_frame(buf: &[u8]) -> Result<Option<FrameHead>, ZmtpError> {
    let Some(&flags) = buf.first() else {
        return Ok(None);
    };
    let (header_len, body_len) = if flags & FLAG_LONG != 0 {
        let Some(size) = buf.get(1..9) else {
            return Ok(None);
        };
        let size = u64::from_be_bytes(size.try_into().expect("eight bytes"));
        if size > MAX_MESSAGE_BYTES as u64 {
            return Err(ZmtpError::TooLarge(size));
        }
        (9, size as usize)
    } else {
        let Some(&size) = buf.get(1) else {
            return Ok(None);
        };
        (2, size as usize)
    };
    let head = FrameHead {
        more: flags & FLAG_MORE != 0,
        command: flags & FLAG_COMMAND != 0,
        header_len,
        body_len,
    };
    if head.command && head.more {
        return Err(ZmtpError::Unexpected);
    }
    Ok((buf.len() >= header_len + body_len).then_some(head))
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
        let head = next_frame(&ready).unwrap().unwrap();
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
        while let Some(head) = next_frame(rest).unwrap() {
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
            assert_eq!(next_frame(&wire[..cut]), Ok(None), "cut at {cut}");
        }
        assert!(next_frame(&wire).unwrap().is_some());
        let mut huge = vec![FLAG_LONG];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(next_frame(&huge), Err(ZmtpError::TooLarge(u64::MAX)));
        assert_eq!(
            next_frame(&[FLAG_COMMAND | FLAG_MORE, 0]),
            Err(ZmtpError::Unexpected)
        );
    }

    #[test]
    fn a_ping_is_answered_with_its_context() {
        let pong = pong_for(b"\x00\x0actx");
        let head = next_frame(&pong).unwrap().unwrap();
        let (name, context) = command_parts(&pong[head.header_len..]).unwrap();
        assert_eq!((name, context), (&b"PONG"[..], &b"ctx"[..]));
    }
}
