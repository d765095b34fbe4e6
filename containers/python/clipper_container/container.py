"""The serving loop: one DEALER connection to the frontend, heartbeats, reconnects, and the predict contract.

A bad batch (predict raising, or returning the wrong number or kind of outputs) is answered with the
batch-error extension and the container keeps serving; only `stop()` or an interrupt ends `run()`.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, List, Optional, Sequence

import zmq

from . import rpc
from .config import Config

# How often run() looks at the stop flag while idle; short so stop() is prompt, cheap because a receive
# returns at once whenever a message is waiting.
_STOP_CHECK_S = 0.05
# How long a stopping container waits for its last answer to reach the frontend.
_STOP_LINGER_MS = 1000

# pyzmq's Socket wraps the Cython socket's send and recv with flag conversions that cost more than the
# calls themselves (a 27-frame answer: 71 us through send_multipart, 10 us through these; a 29-frame
# request: 86 us through recv_multipart(copy=False), 37 us), and a container pays them on every frame.
_raw_send = zmq.backend.Socket.send
_raw_recv = zmq.backend.Socket.recv
_SNDMORE = int(zmq.SNDMORE)


def _receive(socket: zmq.Socket) -> Optional[List[zmq.Frame]]:
    """One whole message, or None when none came within the socket's receive timeout."""
    try:
        frames = [_raw_recv(socket, 0, False)]
    except zmq.Again:
        return None
    while frames[-1].more:
        frames.append(_raw_recv(socket, 0, False))
    return frames


def _send(socket: zmq.Socket, frames: List[bytes]) -> None:
    last = len(frames) - 1
    for index, frame in enumerate(frames):
        _raw_send(socket, frame, _SNDMORE if index < last else 0)


def log(message: str) -> None:
    print(f"clipper_container: {message}", file=sys.stderr, flush=True)


def predict_function(model: Any) -> Callable[[list], Any]:
    """A function, or any object with a `predict(inputs)` method."""
    method = getattr(model, "predict", None)
    if callable(method):
        return method
    if callable(model):
        return model
    raise TypeError(f"expected a predict function or an object with a predict method, got {type(model).__name__}")


def contract_violation(outputs: Any, batch_size: int) -> Optional[str]:
    """Why `outputs` is not one string per input, or None when it is."""
    if not isinstance(outputs, (list, tuple)):
        return f"predict must return a list of strings, got {type(outputs).__name__}"
    if len(outputs) != batch_size:
        return f"predict returned {len(outputs)} outputs for a batch of {batch_size} inputs"
    for index, output in enumerate(outputs):
        if not isinstance(output, str):
            return f"predict must return strings; output {index} is {type(output).__name__}"
    return None


class Container:
    """Serves `model` to the frontend named by `config` until `stop()` is called."""

    def __init__(
        self,
        model: Any,
        config: Config,
        *,
        heartbeat_interval: float = 5.0,
        activity_timeout: float = 30.0,
        context: Optional[zmq.Context] = None,
    ):
        self.config = config
        self.heartbeat_interval = heartbeat_interval
        self.activity_timeout = activity_timeout
        self._predict = predict_function(model)
        self._context = context or zmq.Context.instance()
        self._stopping = threading.Event()
        self._metadata = rpc.encode_new_container(config.model_name, config.model_version, config.input_type)

    def stop(self) -> None:
        """Asks `run()` to close its socket and return; safe to call from any thread."""
        self._stopping.set()

    def run(self) -> None:
        c = self.config
        log(f"serving {c.model_name}:{c.model_version} ({c.input_type.name.lower()}) to {c.address}")
        while not self._stopping.is_set():
            self._serve_one_connection()

    def _serve_one_connection(self) -> None:
        # A fresh socket per connection gives a fresh routing identity, so the frontend treats a
        # reconnected container as new and asks for its metadata again.
        socket = self._context.socket(zmq.DEALER)
        socket.linger = 0
        # A blocking receive with a timeout rather than a poll before each receive: one call per message.
        socket.rcvtimeo = int(_STOP_CHECK_S * 1000)
        try:
            socket.connect(self.config.address)
            _send(socket, rpc.encode_heartbeat())
            last_received = last_heartbeat = time.monotonic()
            while not self._stopping.is_set():
                frames = _receive(socket)
                if frames is not None:
                    self._handle(socket, frames)
                    last_received = time.monotonic()
                    continue
                now = time.monotonic()
                if now - last_received >= self.activity_timeout:
                    log(f"nothing from the frontend for {self.activity_timeout:g} s; reconnecting with a new socket")
                    return
                if now - max(last_received, last_heartbeat) >= self.heartbeat_interval:
                    _send(socket, rpc.encode_heartbeat())
                    last_heartbeat = now
        finally:
            if self._stopping.is_set():
                # Say goodbye so the frontend requeues anything sent to us since, and give the last
                # answer and the goodbye a moment to leave; a reconnect drops pending sends instead.
                _send(socket, rpc.encode_leaving())
                socket.close(linger=_STOP_LINGER_MS)
            else:
                socket.close(linger=0)

    def _handle(self, socket: zmq.Socket, frames: List[zmq.Frame]) -> None:
        try:
            message = rpc.decode_frontend_message(frames)
        except rpc.ProtocolError as e:
            log(f"ignoring a message from the frontend: {e}")
            if e.msg_id is not None:
                _send(socket, rpc.encode_batch_error(e.msg_id, f"bad prediction request: {e}"))
            return
        if isinstance(message, rpc.FrontendHeartbeat):
            if message.request_metadata:
                _send(socket, self._metadata)
        elif isinstance(message, rpc.PredictionRequest):
            _send(socket, self._answer(message.msg_id, message.inputs))
        # Feedback needs no answer: these containers do not learn online.

    def _answer(self, msg_id: bytes, inputs: Sequence[Any]) -> List[bytes]:
        try:
            outputs = self._predict(inputs)
        except Exception as e:  # one failing batch must not take the container down
            return rpc.encode_batch_error(msg_id, f"predict raised {type(e).__name__}: {e}")
        problem = contract_violation(outputs, len(inputs))
        if problem is not None:
            return rpc.encode_batch_error(msg_id, problem)
        try:
            return rpc.encode_response(msg_id, outputs)
        except UnicodeEncodeError as e:
            return rpc.encode_batch_error(msg_id, f"predict returned text that is not valid UTF-8: {e}")
