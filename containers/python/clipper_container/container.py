"""The serving loop: one DEALER connection to the frontend, heartbeats, reconnects, and the predict contract.

A bad batch (predict raising, or returning the wrong number or kind of outputs) is answered with the
batch-error extension and the container keeps serving; only `stop()` or an interrupt ends `run()`.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, List, Optional, Sequence

from . import rpc
from .config import Config
from .zmtp import Dealer

# How often run() looks at the stop flag while idle; short so stop() is prompt, cheap because a receive
# returns at once whenever a message is waiting.
_STOP_CHECK_S = 0.05
# How long a stopping container waits for its last answer to reach the frontend.
_STOP_LINGER_S = 1.0
# Between attempts to reach a frontend that is not listening (libzmq's default reconnect interval).
_RECONNECT_S = 0.1
# A frontend that accepts the connection must finish the handshake within this.
_HANDSHAKE_S = 5.0


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
    ):
        self.config = config
        self.heartbeat_interval = heartbeat_interval
        self.activity_timeout = activity_timeout
        self._predict = predict_function(model)
        self._stopping = threading.Event()
        self._metadata = rpc.encode_new_container(
            config.model_name, config.model_version, config.input_type, config.replica
        )

    def stop(self) -> None:
        """Asks `run()` to close its socket and return; safe to call from any thread."""
        self._stopping.set()

    def run(self) -> None:
        c = self.config
        log(f"serving {c.model_name}:{c.model_version} ({c.input_type.name.lower()}) to {c.address}")
        unreachable = False
        while not self._stopping.is_set():
            try:
                # A fresh connection gets a fresh routing identity, so the frontend treats a reconnected
                # container as new and asks for its metadata again.
                dealer = Dealer.connect(c.host, c.port, _HANDSHAKE_S)
            except OSError as e:
                if not unreachable:
                    log(f"cannot reach the frontend at {c.address} ({e}); retrying every {_RECONNECT_S:g} s")
                unreachable = True
                self._stopping.wait(_RECONNECT_S)
                continue
            unreachable = False
            self._serve(dealer)

    def _serve(self, dealer: Dealer) -> None:
        """Serves one connection until it breaks, goes quiet, or the container stops."""
        linger_s = 0.0
        try:
            dealer.send(rpc.encode_heartbeat())
            last_received = last_heartbeat = time.monotonic()
            while not self._stopping.is_set():
                frames = dealer.receive(_STOP_CHECK_S)
                if frames is not None:
                    self._handle(dealer, frames)
                    last_received = time.monotonic()
                    continue
                now = time.monotonic()
                if now - last_received >= self.activity_timeout:
                    log(f"nothing from the frontend for {self.activity_timeout:g} s; reconnecting")
                    return
                if now - max(last_received, last_heartbeat) >= self.heartbeat_interval:
                    dealer.send(rpc.encode_heartbeat())
                    last_heartbeat = now
            # Say goodbye so the frontend requeues anything sent to us since, and give the last answer and
            # the goodbye a moment to arrive; a reconnect drops the connection at once instead.
            dealer.send(rpc.encode_leaving())
            linger_s = _STOP_LINGER_S
        except OSError as e:
            log(f"lost the connection to the frontend: {e}")
        finally:
            dealer.close(linger_s)

    def _handle(self, dealer: Dealer, frames: List[memoryview]) -> None:
        try:
            message = rpc.decode_frontend_message(frames)
        except rpc.ProtocolError as e:
            log(f"ignoring a message from the frontend: {e}")
            if e.msg_id is not None:
                dealer.send(rpc.encode_batch_error(e.msg_id, f"bad prediction request: {e}"))
            return
        if isinstance(message, rpc.FrontendHeartbeat):
            if message.request_metadata:
                dealer.send(self._metadata)
        elif isinstance(message, rpc.PredictionRequest):
            dealer.send(self._answer(message.msg_id, message.inputs))
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
