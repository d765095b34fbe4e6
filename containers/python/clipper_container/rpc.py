"""Clipper RPC v3 messages as ZeroMQ frames: pure encoding and decoding, no sockets.

Owns the byte layouts only (all integers little-endian, one field per frame), for both directions, so the
container and the tests playing the frontend share one definition. Frames are given as bytes-like objects;
decoding numeric inputs wraps the received buffers without copying them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import List, Optional, Sequence, Union

import numpy as np

RPC_VERSION = 3

MSG_NEW_CONTAINER = 0
MSG_CONTAINER_CONTENT = 1
MSG_HEARTBEAT = 2
# Our extension: a container reports that it failed one batch (original v3 containers never send it).
MSG_BATCH_ERROR = 3
# Our extension: the container is stopping, so the frontend hands what it holds to another replica.
MSG_LEAVING = 4

HEARTBEAT_KEEP_ALIVE = 0
HEARTBEAT_REQUEST_METADATA = 1

REQUEST_PREDICT = 0
REQUEST_FEEDBACK = 1

Buffer = Union[bytes, bytearray, memoryview]


class InputType(IntEnum):
    """The wire ids of the five input types."""

    BYTES = 0
    INTS = 1
    FLOATS = 2
    DOUBLES = 3
    STRINGS = 4


# Numeric inputs arrive as little-endian arrays of these element types.
NUMERIC_DTYPES = {
    InputType.INTS: np.dtype("<i4"),
    InputType.FLOATS: np.dtype("<f4"),
    InputType.DOUBLES: np.dtype("<f8"),
}
# Keyed by plain ints: hashing an IntEnum member runs Python code, and these lookups are per message.
_INPUT_TYPES = {int(t): t for t in InputType}
_DTYPES_BY_ID = {int(t): dtype for t, dtype in NUMERIC_DTYPES.items()}


class ProtocolError(ValueError):
    """Frames that do not form a valid message. `msg_id` is set when the bad message was a prediction
    request whose id could still be read, so the container can answer it with a batch error."""

    def __init__(self, message: str, msg_id: Optional[bytes] = None):
        super().__init__(message)
        self.msg_id = msg_id


class VersionMismatch(ProtocolError):
    """A message from a frontend speaking another RPC version."""

    def __init__(self, version: int):
        super().__init__(f"RPC version {version} is not supported (this container speaks {RPC_VERSION})")
        self.version = version


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def _u64_array(values: Sequence[int]) -> bytes:
    return struct.pack(f"<{len(values)}Q", *values)


# ---- container -> frontend ------------------------------------------------------------------------


def encode_heartbeat() -> List[bytes]:
    return [b"", _u32(MSG_HEARTBEAT)]


def encode_new_container(name: str, version: str, input_type: InputType, replica: Optional[int] = None) -> List[bytes]:
    """`replica`, when given, goes in our extension frame after the RPC version (the number the process
    manager gave this replica); the original frontend never starts containers with one."""
    frames = [
        b"",
        _u32(MSG_NEW_CONTAINER),
        name.encode("utf-8"),
        version.encode("utf-8"),
        str(int(input_type)).encode("ascii"),
        _u32(RPC_VERSION),
    ]
    return frames if replica is None else frames + [_u32(replica)]


def encode_response(msg_id: Buffer, outputs: Sequence[str]) -> List[bytes]:
    """`msg_id` is the 4-byte id frame exactly as received. Raises UnicodeEncodeError for text that has
    no UTF-8 form (lone surrogates)."""
    encoded = [output.encode("utf-8") for output in outputs]
    header = _u64_array([len(encoded)] + [len(output) for output in encoded])
    return [b"", _u32(MSG_CONTAINER_CONTENT), bytes(msg_id), _u64(len(header)), header] + encoded


def encode_leaving() -> List[bytes]:
    return [b"", _u32(MSG_LEAVING)]


def encode_batch_error(msg_id: Buffer, message: str) -> List[bytes]:
    # "replace" because an error report must never itself fail to encode.
    return [b"", _u32(MSG_BATCH_ERROR), bytes(msg_id), message.encode("utf-8", "replace")]


@dataclass(frozen=True)
class Heartbeat:
    """A container's liveness message, as the frontend decodes it."""


@dataclass(frozen=True)
class NewContainer:
    name: str
    version: str
    input_type: InputType
    rpc_version: int
    replica: Optional[int] = None


@dataclass(frozen=True)
class Response:
    msg_id: bytes
    outputs: List[str]


@dataclass(frozen=True)
class BatchError:
    msg_id: bytes
    message: str


ContainerMessage = Union[Heartbeat, NewContainer, Response, BatchError]


# ---- frontend -> container ------------------------------------------------------------------------


def encode_frontend_heartbeat(request_metadata: bool, version: int = RPC_VERSION) -> List[bytes]:
    kind = HEARTBEAT_REQUEST_METADATA if request_metadata else HEARTBEAT_KEEP_ALIVE
    return [b"", _u32(version), _u32(MSG_HEARTBEAT), _u32(kind)]


def encode_prediction_request(
    msg_id: int, input_type: InputType, inputs: Sequence[bytes], request_type: int = REQUEST_PREDICT
) -> List[bytes]:
    """`inputs` are already in wire encoding for `input_type`."""
    header = _u64_array([int(input_type), len(inputs)] + [len(i) for i in inputs])
    frames = [b"", _u32(RPC_VERSION), _u32(MSG_CONTAINER_CONTENT), _u32(msg_id), _u32(request_type)]
    return frames + [_u64(len(header)), header] + [bytes(i) for i in inputs]


@dataclass(frozen=True)
class FrontendHeartbeat:
    request_metadata: bool


@dataclass(frozen=True)
class PredictionRequest:
    msg_id: bytes
    input_type: InputType
    inputs: list


@dataclass(frozen=True)
class Feedback:
    msg_id: bytes


FrontendMessage = Union[FrontendHeartbeat, PredictionRequest, Feedback]


class _Reader:
    """Walks the frames of one message, naming the field that is missing or malformed."""

    def __init__(self, frames: Sequence[Buffer]):
        self.frames = frames
        self.next = 0
        self.msg_id: Optional[bytes] = None

    def fail(self, message: str) -> ProtocolError:
        return ProtocolError(message, self.msg_id)

    def frame(self, field: str) -> memoryview:
        if self.next >= len(self.frames):
            raise self.fail(f'frame "{field}" is missing')
        self.next += 1
        return memoryview(self.frames[self.next - 1])

    def fixed(self, field: str, size: int) -> memoryview:
        frame = self.frame(field)
        if frame.nbytes != size:
            raise self.fail(f'frame "{field}" has {frame.nbytes} bytes, expected {size}')
        return frame

    def u32(self, field: str) -> int:
        return struct.unpack("<I", self.fixed(field, 4))[0]

    def u64(self, field: str) -> int:
        return struct.unpack("<Q", self.fixed(field, 8))[0]

    def text(self, field: str) -> str:
        try:
            return str(self.frame(field), "utf-8")
        except UnicodeDecodeError:
            raise self.fail(f'frame "{field}" is not UTF-8') from None

    def rest(self) -> Sequence[Buffer]:
        return self.frames[self.next :]

    def delimiter(self) -> None:
        if not self.frames or memoryview(self.frames[0]).nbytes != 0:
            raise self.fail("first frame is not the empty delimiter")
        self.next = 1

    def u64_header(self, field: str) -> List[int]:
        declared = self.u64(f"{field} length")
        header = self.frame(field)
        if header.nbytes != declared or declared % 8 != 0:
            raise self.fail(f'frame "{field}" has {header.nbytes} bytes, expected {declared} (a multiple of 8)')
        return list(struct.unpack(f"<{declared // 8}Q", header))


def decode_frontend_message(frames: Sequence[Buffer]) -> FrontendMessage:
    """Decodes the frames a DEALER receives: `["", version, type, ...]`."""
    r = _Reader(frames)
    r.delimiter()
    version = r.u32("rpc version")
    if version != RPC_VERSION:
        raise VersionMismatch(version)
    msg_type = r.u32("message type")
    if msg_type == MSG_HEARTBEAT:
        return FrontendHeartbeat(request_metadata=r.u32("heartbeat type") == HEARTBEAT_REQUEST_METADATA)
    if msg_type != MSG_CONTAINER_CONTENT:
        raise r.fail(f"unknown message type {msg_type}")
    r.msg_id = bytes(r.fixed("message id", 4))
    request_type = r.u32("request type")
    if request_type == REQUEST_FEEDBACK:
        return Feedback(r.msg_id)
    if request_type != REQUEST_PREDICT:
        raise r.fail(f"unknown request type {request_type}")
    header = r.u64_header("input header")
    if len(header) < 2:
        raise r.fail("input header is shorter than its type and count")
    input_type = _INPUT_TYPES.get(header[0])
    if input_type is None:
        raise r.fail(f"unknown input type {header[0]}")
    count, sizes = header[1], header[2:]
    frames_left = r.rest()
    if count != len(sizes) or count != len(frames_left):
        raise r.fail(
            f"input header announces {count} inputs with {len(sizes)} sizes but {len(frames_left)} frames follow"
        )
    return PredictionRequest(r.msg_id, input_type, _decode_inputs(r, header[0], sizes, frames_left))


def _decode_inputs(r: _Reader, type_id: int, sizes: Sequence[int], frames: Sequence[Buffer]) -> list:
    # One pass per check rather than one call per input: this runs for every query a container answers.
    views = [memoryview(frame) for frame in frames]
    for index, (view, size) in enumerate(zip(views, sizes)):
        if view.nbytes != size:
            raise r.fail(f"input {index} has {view.nbytes} bytes but the header announces {size}")
    if type_id == InputType.BYTES:
        return [bytes(view) for view in views]
    if type_id == InputType.STRINGS:
        try:
            return [str(view, "utf-8") for view in views]
        except UnicodeDecodeError:
            index = next(i for i, v in enumerate(views) if not _is_utf8(v))
            raise r.fail(f"input {index} is not UTF-8") from None
    dtype = _DTYPES_BY_ID[type_id]
    for index, size in enumerate(sizes):
        if size % dtype.itemsize != 0:
            name = _INPUT_TYPES[type_id].name.lower()
            raise r.fail(f"input {index} has {size} bytes, not a whole number of {name}")
    # Read-only views of the received frames: no copy on the hot path.
    return [np.frombuffer(view, dtype=dtype) for view in views]


def _is_utf8(view: memoryview) -> bool:
    try:
        str(view, "utf-8")
        return True
    except UnicodeDecodeError:
        return False


def decode_container_message(frames: Sequence[Buffer]) -> ContainerMessage:
    """Decodes the frames a ROUTER receives after the routing identity: `["", type, ...]`."""
    r = _Reader(frames)
    r.delimiter()
    msg_type = r.u32("message type")
    if msg_type == MSG_HEARTBEAT:
        return Heartbeat()
    if msg_type == MSG_NEW_CONTAINER:
        name, version, type_text = r.text("model name"), r.text("model version"), r.text("input type")
        try:
            input_type = InputType(int(type_text))
        except ValueError:
            raise r.fail(f'unknown input type "{type_text}"') from None
        rpc_version = r.u32("rpc version")
        return NewContainer(name, version, input_type, rpc_version, r.u32("replica number") if r.rest() else None)
    if msg_type == MSG_CONTAINER_CONTENT:
        r.msg_id = bytes(r.fixed("message id", 4))
        header = r.u64_header("output header")
        outputs = r.rest()
        if not header or header[0] != len(header) - 1 or header[0] != len(outputs):
            raise r.fail(f"output header {header} does not match the {len(outputs)} frames that follow")
        for i, (size, output) in enumerate(zip(header[1:], outputs)):
            if memoryview(output).nbytes != size:
                raise r.fail(f"output {i} has {memoryview(output).nbytes} bytes but the header announces {size}")
        return Response(r.msg_id, [r.text(f"output {i}") for i in range(header[0])])
    if msg_type == MSG_BATCH_ERROR:
        r.msg_id = bytes(r.fixed("message id", 4))
        return BatchError(r.msg_id, r.text("error message"))
    raise r.fail(f"unknown message type {msg_type}")
