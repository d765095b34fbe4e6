"""The Python DEALER: its bytes checked against ZMTP 3.0, then spoken to a real libzmq ROUTER (pyzmq)."""

from __future__ import annotations

import socket
import struct
import threading

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
