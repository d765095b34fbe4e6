"""A real ZeroMQ ROUTER on a free local port playing the Clipper frontend in tests.

Every receive is bounded by a poll timeout so a broken container fails the test instead of hanging it.
"""

from __future__ import annotations

import time
from typing import List, Optional, Sequence, Tuple

import zmq

from clipper_container import rpc

TIMEOUT_S = 5.0


class FakeFrontend:
    def __init__(self, port: Optional[int] = None) -> None:
        self.socket = zmq.Context.instance().socket(zmq.ROUTER)
        self.socket.linger = 0
        if port is None:
            self.port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        else:
            self._bind_when_free(port)
            self.port = port

    def _bind_when_free(self, port: int) -> None:
        # A ROUTER closed a moment ago may still hold the port: libzmq closes its listener in the background.
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            try:
                self.socket.bind(f"tcp://127.0.0.1:{port}")
                return
            except zmq.ZMQError as e:
                if e.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def recv(self, timeout: float = TIMEOUT_S) -> Tuple[bytes, List[bytes]]:
        """The next message as (routing identity, frames after it)."""
        if not self.socket.poll(timeout * 1000):
            raise AssertionError(f"no message from the container within {timeout} s")
        identity, *frames = self.socket.recv_multipart()
        return identity, frames

    def send(self, identity: bytes, frames: Sequence[bytes]) -> None:
        self.socket.send_multipart([identity, *frames])

    def handshake(self, timeout: float = TIMEOUT_S) -> Tuple[bytes, List[bytes]]:
        """Waits for the container's first heartbeat, asks for its metadata, and returns
        (identity, NewContainer frames)."""
        identity, frames = self.recv(timeout)
        assert frames == rpc.encode_heartbeat(), f"expected a heartbeat first, got {frames}"
        self.send(identity, rpc.encode_frontend_heartbeat(request_metadata=True))
        answered_by, metadata = self.recv()
        assert answered_by == identity
        return identity, metadata

    def predict(self, identity: bytes, msg_id: int, input_type: rpc.InputType, inputs: Sequence[bytes]) -> List[bytes]:
        """Sends one prediction request and returns the container's answer frames."""
        self.send(identity, rpc.encode_prediction_request(msg_id, input_type, inputs))
        answered_by, frames = self.recv()
        assert answered_by == identity
        return frames

    def close(self) -> None:
        self.socket.close()
