"""The Python DEALER: its bytes checked against ZMTP 3.0 and the shared vectors (tests/vectors/zmtp.json),
spoken to a real libzmq ROUTER (pyzmq), and its reading fed arbitrary bytes over real sockets (Hypothesis)."""

from __future__ import annotations

import json
import pathlib
import socket
import struct
import threading

import hypothesis
import hypothesis.strategies as st
import pytest
import zmq

from clipper_container import zmtp


def test_our_greeting_is_zmtp_3_0_with_the_null_mechanism_and_passes_our_own_check():
    g = zmtp.greeting()
    assert len(g) == zmtp.GREETING_BYTES
    assert g[:10] == b"\xff" + bytes(8) + b"\x7f" and g[10:12] == b"\x03\x00"
    assert g[12:32] == b"NULL" + bytes(16)
    zmtp.check_greeting(g)


@pytest.mark.parametrize(
    "greeting, message",
    [
        (b"GET / HTTP/1.1\r\n".ljust(64, b" "), "does not speak ZMTP"),
        (zmtp.greeting()[:10] + b"\x02" + zmtp.greeting()[11:], "revision 2, older than 3"),
        (zmtp.greeting()[:12] + b"CURVE".ljust(20, b"\x00") + zmtp.greeting()[32:], 'mechanism "CURVE"'),
    ],
)
def test_greetings_of_other_protocols_versions_and_mechanisms_are_refused(greeting, message):
    with pytest.raises(zmtp.ZmtpError, match=message):
        zmtp.check_greeting(greeting)


def test_our_ready_is_a_command_naming_the_dealer_socket_type():
    body = b"\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER"
    assert zmtp.ready() == bytes([0x04, len(body)]) + body


def test_messages_round_trip_through_short_and_long_frames():
    frames = [b"", b"x" * 255, b"y" * 256, b"z"]
    wire = zmtp.encode(frames)
    at, seen = 0, []
    while at < len(wire):
        flags, body, at = zmtp.next_frame(wire, at, len(wire))
        seen.append((flags, wire[body:at]))
    # MORE on all but the last; LONG from 256 bytes on.
    assert seen == [(0x01, b""), (0x01, b"x" * 255), (0x03, b"y" * 256), (0x00, b"z")]


def test_a_partial_frame_waits_and_an_absurd_size_is_refused():
    wire = zmtp.encode([b"a" * 300])
    for cut in (0, 1, 5, len(wire) - 1):
        assert zmtp.next_frame(wire, 0, cut) is None
    absurd = struct.pack(">BQ", 0x02, zmtp.MAX_MESSAGE_BYTES + 1)
    with pytest.raises(zmtp.ZmtpError, match="frame of"):
        zmtp.next_frame(absurd, 0, len(absurd))


@pytest.fixture
def router():
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.linger = 0
    sock.rcvtimeo = 5000
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    yield sock, port
    sock.close()


def test_a_libzmq_router_and_our_dealer_exchange_messages_of_every_size_both_ways(router):
    sock, port = router
    dealer = zmtp.Dealer.connect("127.0.0.1", port, 5.0)
    try:
        dealer.send([b"", b"hello"])
        identity, *frames = sock.recv_multipart()
        assert frames == [b"", b"hello"]
        # Larger than the dealer's first buffer, so it must grow it; many frames, some long.
        big = [b"", b"\x01" * 300_000, b"", b"\x02" * 100, b"\x03" * 70_000]
        for _ in range(3):
            sock.send_multipart([identity, *big])
        sock.send_multipart([identity, b"last"])
        for _ in range(3):
            assert [bytes(f) for f in dealer.receive(5.0)] == big
        assert [bytes(f) for f in dealer.receive(5.0)] == [b"last"]
        assert dealer.receive(0.05) is None
    finally:
        dealer.close()


def test_each_connection_gets_its_own_routing_identity(router):
    sock, port = router
    first, second = (zmtp.Dealer.connect("127.0.0.1", port, 5.0) for _ in range(2))
    try:
        first.send([b"1"])
        second.send([b"2"])
        identities = {tuple(sock.recv_multipart()[1:]): None for _ in range(2)}
        assert len(identities) == 2
    finally:
        first.close()
        second.close()


def test_a_message_received_stays_intact_while_later_ones_arrive(router):
    sock, port = router
    dealer = zmtp.Dealer.connect("127.0.0.1", port, 5.0)
    try:
        dealer.send([b""])
        identity = sock.recv_multipart()[0]
        sock.send_multipart([identity, b"a" * 1000])
        kept = dealer.receive(5.0)
        for i in range(50):
            sock.send_multipart([identity, bytes([i]) * 5000])
            dealer.receive(5.0)
        assert bytes(kept[0]) == b"a" * 1000
    finally:
        dealer.close()


def test_a_closed_connection_is_reported_as_a_connection_error(router):
    sock, port = router
    dealer = zmtp.Dealer.connect("127.0.0.1", port, 5.0)
    try:
        sock.close()
        with pytest.raises(ConnectionError):
            dealer.receive(5.0)
    finally:
        dealer.close()


def test_a_peer_that_does_not_speak_zmtp_is_refused_at_connect():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer_http():
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n".ljust(64, b" "))
            conn.recv(1024)

    thread = threading.Thread(target=answer_http)
    thread.start()
    try:
        with pytest.raises(zmtp.ZmtpError, match="does not speak ZMTP"):
            zmtp.Dealer.connect("127.0.0.1", port, 5.0)
    finally:
        thread.join(5.0)
        server.close()


def test_a_stopping_dealer_s_last_message_arrives_before_the_connection_closes(router):
    sock, port = router
    dealer = zmtp.Dealer.connect("127.0.0.1", port, 5.0)
    dealer.send([b"hi"])
    identity = sock.recv_multipart()[0]
    # Unread bytes on our side when we close: a plain close would reset the connection.
    sock.send_multipart([identity, b"unread" * 1000])
    dealer.send([b"goodbye"])
    dealer.close(linger_s=1.0)
    assert sock.recv_multipart()[1:] == [b"goodbye"]


# The vectors every ZMTP implementation here shares, and property tests (Hypothesis) of the reading code.

VECTORS = json.loads((pathlib.Path(__file__).parents[3] / "tests" / "vectors" / "zmtp.json").read_text())
# No deadline (the machine is shared and loaded) and no example database written into the repository.
FUZZ = hypothesis.settings(max_examples=200, deadline=None, database=None)
GREETING_OUTCOMES = {"does not speak ZMTP": "not_zmtp", "older than 3": "old_version", "mechanism": "mechanism"}


@pytest.mark.parametrize("vector", VECTORS["greetings"], ids=lambda v: v["name"])
def test_the_shared_greeting_vectors_are_judged_alike(vector):
    try:
        zmtp.check_greeting(bytes.fromhex(vector["hex"]))
        outcome = "ok"
    except zmtp.ZmtpError as err:
        outcome = next(o for words, o in GREETING_OUTCOMES.items() if words in str(err))
    assert outcome == vector["outcome"]


@pytest.mark.parametrize("vector", VECTORS["frames"], ids=lambda v: v["name"])
def test_the_shared_frame_vectors_are_read_with_their_flags_and_bodies(vector):
    wire = bytes.fromhex(vector["wire"])
    flags, body, end = zmtp.next_frame(wire, 0, len(wire))
    assert end == len(wire)
    assert (bool(flags & 0x01), bool(flags & 0x04)) == (vector["more"], vector["command"])
    assert wire[body:end] == bytes.fromhex(vector["body"])


@pytest.mark.parametrize("vector", VECTORS["messages"], ids=lambda v: v["name"])
def test_the_shared_message_vectors_are_written_exactly_and_read_back(vector):
    frames = [bytes.fromhex(f) for f in vector["frames"]]
    wire = bytes.fromhex(vector["wire"])
    assert zmtp.encode(frames) == wire
    assert _read_all(wire, []) == [frames]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_the_shared_invalid_vectors_wait_or_are_refused_from_the_header(vector):
    assert VECTORS["limit_bytes"] == zmtp.MAX_MESSAGE_BYTES
    wire = bytes.fromhex(vector["wire"])
    if vector["outcome"] == "incomplete":
        assert zmtp.next_frame(wire, 0, len(wire)) is None
    else:
        with pytest.raises(zmtp.ZmtpError, match=f"frame of {vector['size']} bytes"):
            zmtp.next_frame(wire, 0, len(wire))


def _pieces(data: bytes, cuts) -> list:
    """`data` cut at `cuts` (taken modulo its length), as reads from a socket would deliver it."""
    at = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(at, at[1:])]


def _read_all(data: bytes, cuts) -> list:
    """What a DEALER reads from a peer that writes `data` in pieces, then closes: its messages (as lists of
    bytes), ending with the ZmtpError it raised if any. Anything else it raises fails the test."""
    ours, theirs = socket.socketpair()
    dealer = zmtp.Dealer(ours)
    received = []

    def write():
        with theirs:
            for piece in _pieces(data, cuts):
                theirs.sendall(piece)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while True:
            try:
                message = dealer.receive(5.0)
            except zmtp.ZmtpError as err:
                received.append(err)
                break
            except ConnectionResetError as err:
                # The peer closed: how every stream here ends.
                assert "closed the connection" in str(err)
                break
            # A silent peer would be a hang: the writer closes once it has written everything.
            assert message is not None, "no message and no close within 5 s"
            received.append([bytes(f) for f in message])
    finally:
        writer.join(5.0)
        dealer.close()
    return received


@FUZZ
@hypothesis.given(data=st.binary(max_size=2048), cuts=st.lists(st.integers(0, 4096), max_size=6))
def test_arbitrary_bytes_in_arbitrary_pieces_end_in_messages_or_our_error_never_another(data, cuts):
    received = _read_all(data, cuts)
    # What it handed over came from the input, so never more bytes than that.
    frames = [f for m in received if isinstance(m, list) for f in m]
    assert sum(len(f) for f in frames) <= len(data)


@FUZZ
@hypothesis.given(start=st.integers(0, 64), data=st.binary(max_size=512))
def test_arbitrary_bytes_at_any_offset_give_a_frame_none_or_our_error(start, data):
    try:
        frame = zmtp.next_frame(data, min(start, len(data)), len(data))
    except zmtp.ZmtpError:
        return
    if frame is not None:
        flags, body, end = frame
        assert min(start, len(data)) < body <= end <= len(data)


@FUZZ
@hypothesis.given(
    frames=st.lists(st.binary(max_size=700), min_size=1, max_size=5),
    cuts=st.lists(st.integers(0, 8192), max_size=10),
)
def test_messages_round_trip_however_they_are_cut(frames, cuts):
    assert _read_all(zmtp.encode(frames) * 2, cuts) == [frames, frames]


@hypothesis.settings(FUZZ, max_examples=100)
@hypothesis.given(
    greeting=st.binary(min_size=64, max_size=64),
    properties=st.binary(max_size=250),
    valid=st.booleans(),
)
def test_a_handshake_with_arbitrary_bytes_fails_with_our_error_or_a_closed_connection(greeting, properties, valid):
    # Half the cases send a valid greeting and a READY command with arbitrary properties, so that the
    # READY parser sees them.
    hello = greeting + properties
    if valid:
        body = b"\x05READY" + properties
        hello = zmtp.greeting() + bytes([0x04, len(body)]) + body
    server = socket.create_server(("127.0.0.1", 0))

    def answer():
        conn, _ = server.accept()
        with conn:
            conn.sendall(hello)
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(4096):
                pass

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        dealer = zmtp.Dealer.connect("127.0.0.1", server.getsockname()[1], 5.0)
        dealer.close()
    except zmtp.ZmtpError:
        pass
    except ConnectionResetError as err:
        assert "closed the connection" in str(err)
    finally:
        thread.join(5.0)
        server.close()


def test_a_ready_cut_short_anywhere_is_refused_with_our_error():
    body = b"\x0bSocket-Type\x00\x00\x00\x06ROUTER"
    for cut in range(1, len(body)):
        with pytest.raises(zmtp.ZmtpError, match="cut short"):
            zmtp._ready_socket_type(body[:cut])
