"""A ZeroMQ DEALER over one TCP connection, in Python: ZMTP 3.0 with the NULL mechanism, no libzmq.

Owns the wire below the Clipper messages: the greeting, the READY handshake, frame headers and reading
whole messages off the socket. It must not know what the frames mean (that is `rpc`) nor reconnect (that
is `container`). Facts from RFC 23 (ZMTP 3.0): a 64-byte greeting each way, one READY command each way
naming the socket type, then frames with a flag byte (MORE 0x01, LONG 0x02, COMMAND 0x04) and a 1-byte or
8-byte big-endian size. With no routing identity in READY, the ROUTER makes one up per connection, so a
reconnected container is a new peer, as with a fresh libzmq socket.

Why not libzmq: a libzmq socket hands every message to and from its own I/O thread, two thread wake-ups per
round trip that the serving thread here does without.
"""

from __future__ import annotations

import socket
import struct
from typing import List, Optional, Sequence, Tuple, Union

Buffer = Union[bytes, bytearray, memoryview]

GREETING_BYTES = 64
_MORE = 0x01
_LONG = 0x02
_COMMAND = 0x04
# No frontend message comes near this; a garbage size must not make us allocate it.
MAX_MESSAGE_BYTES = 1 << 30


class ZmtpError(ConnectionError):
    """The peer does not speak ZMTP 3 as a ROUTER, or broke the framing; the connection is unusable."""


def greeting() -> bytes:
    """Signature, version 3.0, the NULL mechanism, not as-server, filler."""
    return b"\xff" + bytes(8) + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + bytes(32)


def check_greeting(peer: Buffer) -> None:
    if peer[0] != 0xFF or not peer[9] & 0x01:
        raise ZmtpError("the peer does not speak ZMTP")
    if peer[10] < 3:
        raise ZmtpError(f"the peer speaks ZMTP revision {peer[10]}, older than 3")
    mechanism = bytes(peer[12:32]).rstrip(b"\x00")
    if mechanism != b"NULL":
        raise ZmtpError(f'the peer asks for security mechanism "{mechanism.decode("ascii", "replace")}"')


def _header(flags: int, size: int) -> bytes:
    if size > 255:
        return struct.pack(">BQ", flags | _LONG, size)
    return struct.pack(">BB", flags, size)


def ready() -> bytes:
    """Our READY command: socket type DEALER, no identity."""
    body = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 6) + b"DEALER"
    return _header(_COMMAND, len(body)) + body


def encode(frames: Sequence[Buffer]) -> bytes:
    """One message as bytes on the wire."""
    parts: List[Buffer] = []
    last = len(frames) - 1
    for index, frame in enumerate(frames):
        parts.append(_header(_MORE if index < last else 0, len(frame)))
        parts.append(frame)
    return b"".join(parts)


def next_frame(buf: Buffer, start: int, end: int) -> Optional[Tuple[int, int, int]]:
    """The frame at `buf[start:end]` as (flags, body start, body end), or None when it is not all there."""
    if end - start < 2:
        return None
    flags = buf[start]
    if flags & _LONG:
        if end - start < 9:
            return None
        (size,) = struct.unpack_from(">Q", buf, start + 1)
        body = start + 9
    else:
        size = buf[start + 1]
        body = start + 2
    if size > MAX_MESSAGE_BYTES:
        raise ZmtpError(f"the peer sent a frame of {size} bytes")
    if end - body < size:
        return None
    return flags, body, body + size


def _ready_socket_type(body: Buffer) -> bytes:
    """The Socket-Type property of a READY command body (after its name)."""
    at, end = 0, len(body)
    while at < end:
        name_len = body[at]
        value_at = at + 5 + name_len
        if value_at > end:
            raise ZmtpError("the peer's READY command is cut short")
        name = bytes(body[at + 1 : at + 1 + name_len])
        (value_len,) = struct.unpack_from(">I", body, at + 1 + name_len)
        if value_at + value_len > end:
            raise ZmtpError("the peer's READY command is cut short")
        if name.lower() == b"socket-type":
            return bytes(body[value_at : value_at + value_len])
        at = value_at + value_len
    raise ZmtpError("the peer's READY command names no socket type")


class Dealer:
    """A connected DEALER. Not thread-safe: one thread sends and receives."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._buf = bytearray(1 << 16)
        # Unread bytes are self._buf[self._start:self._end].
        self._start = 0
        self._end = 0
        # Setting a timeout costs two fcntl calls, and the serving loop asks for the same one each time.
        self._timeout_s: Optional[float] = None

    @classmethod
    def connect(cls, host: str, port: int, timeout_s: float) -> "Dealer":
        """Connects and completes the handshake within `timeout_s`; raises OSError (ZmtpError included)."""
        sock = socket.create_connection((host, port), timeout=timeout_s)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(greeting() + ready())
            dealer = cls(sock)
            check_greeting(dealer._read_exactly(GREETING_BYTES))
            flags, body = dealer._read_frame()
            if not flags & _COMMAND or bytes(body[:6]) != b"\x05READY":
                raise ZmtpError("the peer's first command is not READY")
            kind = _ready_socket_type(body[6:])
            if kind != b"ROUTER":
                raise ZmtpError(f'a DEALER cannot talk to a "{kind.decode("ascii", "replace")}" socket')
            return dealer
        except BaseException:
            sock.close()
            raise

    def send(self, frames: Sequence[Buffer]) -> None:
        self._sock.sendall(encode(frames))

    def receive(self, timeout_s: float) -> Optional[List[memoryview]]:
        """The next whole message's frames, or None when none completed within `timeout_s`. Raises
        ConnectionError when the peer closed the connection or broke the framing."""
        if timeout_s != self._timeout_s:
            self._sock.settimeout(timeout_s)
            self._timeout_s = timeout_s
        while True:
            message = self._take_message()
            if message is not None:
                return message
            try:
                self._fill()
            except socket.timeout:
                return None

    def close(self, linger_s: float = 0.0) -> None:
        """With `linger_s`, what was sent gets that long to reach the peer: our side is shut for writing,
        and the peer's remaining bytes are read until it closes (closing with unread bytes would reset the
        connection and could drop our last message)."""
        try:
            if linger_s > 0:
                self._sock.shutdown(socket.SHUT_WR)
                self._sock.settimeout(linger_s)
                while self._sock.recv(1 << 16):
                    pass
        except OSError:
            pass
        finally:
            self._sock.close()

    def _take_message(self) -> Optional[List[memoryview]]:
        """Cuts one whole data message out of the buffer, skipping commands (a 3.0 ROUTER sends none after
        READY); None when the buffer holds only part of one."""
        buf, at, frames = self._buf, self._start, []
        while True:
            frame = next_frame(buf, at, self._end)
            if frame is None:
                return None
            flags, body, at = frame
            if flags & _COMMAND:
                if frames:
                    raise ZmtpError("the peer sent a command inside a message")
                self._start = at
                continue
            frames.append((body, at))
            if not flags & _MORE:
                break
        # One copy of the message, so its frames stay valid while the buffer is reused.
        first = self._start
        message = memoryview(bytes(memoryview(buf)[first:at]))
        self._start = at
        return [message[body - first : end - first] for body, end in frames]

    def _fill(self) -> None:
        """Reads what the socket has into the buffer, making room first."""
        if self._start == self._end:
            self._start = self._end = 0
        elif self._end == len(self._buf):
            pending = self._end - self._start
            if self._start > 0:
                self._buf[:pending] = self._buf[self._start : self._end]
                self._start, self._end = 0, pending
            if self._end == len(self._buf):
                self._buf.extend(bytes(len(self._buf)))
        with memoryview(self._buf) as view:
            n = self._sock.recv_into(view[self._end :])
        if n == 0:
            raise ConnectionResetError("the frontend closed the connection")
        self._end += n

    def _read_exactly(self, n: int) -> memoryview:
        while self._end - self._start < n:
            self._fill()
        at = self._start
        self._start += n
        return memoryview(bytes(self._buf[at : at + n]))

    def _read_frame(self) -> Tuple[int, memoryview]:
        while True:
            frame = next_frame(self._buf, self._start, self._end)
            if frame is not None:
                flags, body, end = frame
                self._start = end
                return flags, memoryview(bytes(self._buf[body:end]))
            self._fill()
