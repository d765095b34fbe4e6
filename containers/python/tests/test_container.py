"""The real Container, in a thread, against a real ROUTER socket playing the frontend."""

import socket
import struct
import time

import numpy as np
import pytest

from clipper_container import rpc
from clipper_container.rpc import InputType
from frontend import FakeFrontend


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def response(msg_id, outputs):
    """The expected response frames, written out independently of the codec."""
    encoded = [o.encode() for o in outputs]
    header = u64(len(encoded)) + b"".join(u64(len(o)) for o in encoded)
    return [b"", u32(1), u32(msg_id), u64(len(header)), header, *encoded]


def batch_error(msg_id, message):
    return [b"", u32(3), u32(msg_id), message.encode()]


def describe(inputs):
    """Shows exactly what predict received, so the round trip checks types and values."""
    out = []
    for x in inputs:
        if isinstance(x, np.ndarray):
            out.append(f"{x.dtype}:{x.tolist()}")
        else:
            out.append(f"{type(x).__name__}:{x!r}")
    return out


def test_container_says_hello_with_a_heartbeat_then_sends_its_metadata_when_asked(frontend, start_container):
    start_container(describe, input_type=InputType.FLOATS)
    _, metadata = frontend.handshake()
    assert metadata == [b"", u32(0), b"m", b"7", b"2", u32(3)]


@pytest.mark.parametrize(
    "input_type, wire, expected",
    [
        (InputType.BYTES, b"\x00\xffa", "bytes:b'\\x00\\xffa'"),
        (InputType.INTS, np.array([1, -2, 3], "<i4").tobytes(), "int32:[1, -2, 3]"),
        (InputType.FLOATS, np.array([0.5, 2], "<f4").tobytes(), "float32:[0.5, 2.0]"),
        (InputType.DOUBLES, np.array([1.25], "<f8").tobytes(), "float64:[1.25]"),
        (InputType.STRINGS, "héllo".encode(), "str:'héllo'"),
    ],
)
def test_each_input_type_round_trips_with_a_byte_exact_response(frontend, start_container, input_type, wire, expected):
    start_container(describe, input_type=input_type)
    identity, _ = frontend.handshake()
    assert frontend.predict(identity, 41, input_type, [wire]) == response(41, [expected])


def test_a_batch_of_several_inputs_gets_one_output_each_in_order(frontend, start_container):
    start_container(lambda xs: [str(x.sum()) for x in xs], input_type=InputType.INTS)
    identity, _ = frontend.handshake()
    inputs = [np.arange(n, dtype="<i4").tobytes() for n in (0, 1, 3, 5)]
    assert frontend.predict(identity, 2, InputType.INTS, inputs) == response(2, ["0", "0", "3", "10"])


def test_an_object_with_a_predict_method_is_served_like_a_function(frontend, start_container):
    class Model:
        def predict(self, inputs):
            return [s[::-1] for s in inputs]

    start_container(Model(), input_type=InputType.STRINGS)
    identity, _ = frontend.handshake()
    assert frontend.predict(identity, 3, InputType.STRINGS, [b"abc"]) == response(3, ["cba"])


def test_a_predict_that_raises_is_reported_and_the_next_batch_is_still_answered(frontend, start_container):
    def predict(inputs):
        if inputs == ["fail"]:
            raise RuntimeError("model exploded")
        return ["fine"] * len(inputs)

    start_container(predict, input_type=InputType.STRINGS)
    identity, _ = frontend.handshake()
    answer = frontend.predict(identity, 5, InputType.STRINGS, [b"fail"])
    assert answer == batch_error(5, "predict raised RuntimeError: model exploded")
    assert frontend.predict(identity, 6, InputType.STRINGS, [b"ok"]) == response(6, ["fine"])


@pytest.mark.parametrize(
    "returned, message",
    [
        (["a", "b", "c"], "predict returned 3 outputs for a batch of 4 inputs"),
        ([1, "b", "c", "d"], "predict must return strings; output 0 is int"),
        ("abcd", "predict must return a list of strings, got str"),
        (None, "predict must return a list of strings, got NoneType"),
    ],
)
def test_outputs_that_break_the_contract_are_reported_and_serving_continues(frontend, start_container, returned, message):
    answers = iter([returned, ("w", "x", "y", "z")])
    start_container(lambda inputs: next(answers), input_type=InputType.BYTES)
    identity, _ = frontend.handshake()
    batch = [b"1", b"2", b"3", b"4"]
    assert frontend.predict(identity, 8, InputType.BYTES, batch) == batch_error(8, message)
    assert frontend.predict(identity, 9, InputType.BYTES, batch) == response(9, ["w", "x", "y", "z"])


def test_a_malformed_request_is_answered_with_a_batch_error(frontend, start_container):
    start_container(describe, input_type=InputType.INTS)
    identity, _ = frontend.handshake()
    assert frontend.predict(identity, 4, InputType.INTS, [b"\x01\x00\x00"]) == batch_error(
        4, "bad prediction request: input 0 has 3 bytes, not a whole number of ints"
    )


def test_a_message_with_another_rpc_version_is_ignored_and_serving_continues(frontend, start_container, capfd):
    start_container(describe, input_type=InputType.STRINGS)
    identity, _ = frontend.handshake()
    stale = rpc.encode_prediction_request(1, InputType.STRINGS, [b"old"])
    stale[1] = u32(2)
    frontend.send(identity, stale)
    # The next message back must answer the v3 request, proving the v2 one got no reply.
    assert frontend.predict(identity, 2, InputType.STRINGS, [b"new"]) == response(2, ["str:'new'"])
    assert "RPC version 2 is not supported" in capfd.readouterr().err


def test_feedback_requests_get_no_answer(frontend, start_container):
    start_container(describe, input_type=InputType.STRINGS)
    identity, _ = frontend.handshake()
    frontend.send(identity, rpc.encode_prediction_request(1, InputType.STRINGS, [b"x"], request_type=rpc.REQUEST_FEEDBACK))
    assert frontend.predict(identity, 2, InputType.STRINGS, [b"y"]) == response(2, ["str:'y'"])


def test_an_idle_container_sends_heartbeats_and_stays_connected_while_the_frontend_answers(frontend, start_container):
    start_container(describe, heartbeat_interval=0.1, activity_timeout=0.5)
    identity, _ = frontend.handshake()
    for _ in range(12):  # ~1.2 s, well past the activity timeout
        sender, frames = frontend.recv(timeout=1.0)
        assert (sender, frames) == (identity, rpc.encode_heartbeat())
        frontend.send(identity, rpc.encode_frontend_heartbeat(request_metadata=False))


def test_a_container_that_hears_nothing_reconnects_with_a_new_identity_and_says_hello_again(frontend, start_container):
    start_container(describe, heartbeat_interval=0.1, activity_timeout=0.5)
    first, _ = frontend.handshake()
    heartbeats_from_first = 0
    deadline = time.monotonic() + 3.0
    while True:
        sender, frames = frontend.recv(timeout=2.0)
        assert frames == rpc.encode_heartbeat()
        if sender != first:
            break
        heartbeats_from_first += 1
        assert time.monotonic() < deadline, "still the first identity 3 s after the handshake"
    assert heartbeats_from_first >= 2, "expected keep-alive heartbeats before giving up on the connection"
    # The new connection starts over: heartbeat first, then metadata on request.
    frontend.send(sender, rpc.encode_frontend_heartbeat(request_metadata=True))
    answered_by, metadata = frontend.recv()
    assert answered_by == sender and metadata[1] == u32(0)
    assert frontend.predict(sender, 1, InputType.DOUBLES, [u64(0)]) == response(1, ["float64:[0.0]"])


def test_a_stopping_container_says_it_is_leaving_after_its_last_answer(frontend, start_container):
    container = start_container(lambda inputs: ["ok"] * len(inputs))
    identity, _ = frontend.handshake()
    answer = frontend.predict(identity, 1, rpc.InputType.DOUBLES, [b"\x00" * 8])
    assert answer[1] == struct.pack("<I", rpc.MSG_CONTAINER_CONTENT)
    container.stop()
    sender, frames = frontend.recv()
    assert sender == identity
    assert frames == rpc.encode_leaving()


def test_a_container_started_before_its_frontend_connects_once_the_frontend_listens(frontend, start_container):
    # A port nothing listens on yet; the fixture's frontend only lends start_container its config.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    frontend.port = port
    start_container(describe)
    time.sleep(0.3)  # a few refused attempts
    late = FakeFrontend(port)
    try:
        identity, metadata = late.handshake()
        assert metadata[1] == u32(rpc.MSG_NEW_CONTAINER)
        assert late.predict(identity, 1, InputType.DOUBLES, [u64(0)]) == response(1, ["float64:[0.0]"])
    finally:
        late.close()


def test_a_container_whose_frontend_restarts_reconnects_and_says_hello_again(frontend, start_container):
    start_container(describe)
    frontend.handshake()
    frontend.close()
    restarted = FakeFrontend(frontend.port)
    try:
        identity, _ = restarted.handshake()
        assert restarted.predict(identity, 2, InputType.DOUBLES, [u64(0)]) == response(2, ["float64:[0.0]"])
    finally:
        restarted.close()
