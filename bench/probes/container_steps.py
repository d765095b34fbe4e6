"""The Python container's steps for one batch of N 784-feature rows, in isolation (timeit), with the
batching scenario's logistic regression (bench/models): ZMTP framing in and out, Clipper RPC decoding and
encoding, and the model's call taken apart (stacking the rows, scikit-learn's predict, the matrix product
inside it, turning labels into text). What a batch costs the container when nothing else competes for the
CPU; bench/probes/timed_container.py measures the same steps under load.

Usage: .venv/bin/python bench/probes/container_steps.py N [--repeat R] [--pyzmq]

--pyzmq also times pyzmq's recv_multipart/send_multipart against the Cython socket's own recv and send
called frame by frame, as the pyzmq container of 672e271 did (over an inproc PAIR, so no syscall). With an
older container library first on PYTHONPATH (672e271's, which has no zmtp module), the framing steps are
left out and the rest is that library's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import timeit
from typing import Callable, List

import numpy as np

from clipper_container import rpc

try:
    from clipper_container import zmtp

    # .venv's editable install can lend this tree's module to an older library first on PYTHONPATH.
    if os.path.dirname(zmtp.__file__) != os.path.dirname(rpc.__file__):
        zmtp = None
except ImportError:  # a library from before the Python DEALER (pyzmq)
    zmtp = None

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
from logreg_model import FEATURES, train  # noqa: E402


class MemorySocket:
    """Just enough of a socket for a Dealer: every read returns the same message again, and writes are
    dropped, so framing is timed without the kernel."""

    def __init__(self, wire: bytes):
        self.wire = memoryview(wire)
        self.at = 0

    def settimeout(self, _timeout: float) -> None:
        pass

    def recv_into(self, view: memoryview) -> int:
        n = min(len(view), len(self.wire) - self.at)
        view[:n] = self.wire[self.at : self.at + n]
        self.at = (self.at + n) % len(self.wire)
        return n

    def sendall(self, _data: bytes) -> None:
        pass


def time_us(stmt: Callable[[], object], number: int, repeat: int, setup: Callable[[], object] = lambda: None):
    """Median and best microseconds per call over `repeat` runs of `number` calls each."""
    runs = timeit.repeat(stmt, setup=setup, number=number, repeat=repeat)
    per_call = [r / number * 1e6 for r in runs]
    return statistics.median(per_call), min(per_call)


def pyzmq_rows(request: List[bytes], answer: List[bytes], repeat: int):
    import zmq

    raw_send, raw_recv, more = zmq.backend.Socket.send, zmq.backend.Socket.recv, int(zmq.SNDMORE)
    context = zmq.Context.instance()
    a, b = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
    a.bind("inproc://steps")
    b.connect("inproc://steps")
    number = 200

    def fill(frames: List[bytes]) -> Callable[[], None]:
        return lambda: [a.send_multipart(frames) for _ in range(number)]

    def drain() -> None:
        while True:
            try:
                b.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return

    def recv_raw() -> None:
        frames = [raw_recv(b, 0, False)]
        while frames[-1].more:
            frames.append(raw_recv(b, 0, False))

    def send_raw(frames: List[bytes]) -> None:
        last = len(frames) - 1
        for index, frame in enumerate(frames):
            raw_send(a, frame, more if index < last else 0)

    receive_multipart = lambda: b.recv_multipart(copy=False)  # noqa: E731
    rows = [
        (f"pyzmq recv_multipart(copy=False), {len(request)} frames", receive_multipart, fill(request)),
        (f"pyzmq raw recv frame by frame, {len(request)} frames", recv_raw, fill(request)),
        (f"pyzmq send_multipart, {len(answer)} frames", lambda: a.send_multipart(answer), drain),
        (f"pyzmq raw send frame by frame, {len(answer)} frames", lambda: send_raw(answer), drain),
    ]
    timed = [(name, *time_us(stmt, number, repeat, setup)) for name, stmt, setup in rows]
    drain()
    a.close(0)
    b.close(0)
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="rows in the batch")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--pyzmq", action="store_true")
    args = parser.parse_args()

    model = train()
    rows = np.random.default_rng(1).random((args.n, FEATURES))
    request = rpc.encode_prediction_request(7, rpc.InputType.DOUBLES, [row.tobytes() for row in rows])
    dealer = zmtp.Dealer(MemorySocket(zmtp.encode(request))) if zmtp else None
    frames = dealer.receive(1.0) if dealer else request
    message = rpc.decode_frontend_message(frames)
    inputs = message.inputs
    x = np.stack(inputs)
    labels = model.predict(x)
    outputs = [str(label) for label in labels]
    answer = rpc.encode_response(message.msg_id, outputs)
    coef, intercept = model.coef_, model.intercept_

    # Few calls per run for the slow steps, many for the fast ones: each run takes a few milliseconds.
    framing_in = [("receive: ZMTP framing of the request (from memory)", lambda: dealer.receive(1.0), 200)]
    framing_out = [("send: ZMTP framing of the answer", lambda: zmtp.encode(answer), 200)]
    steps = (framing_in if zmtp else []) + [
        ("decode: Clipper RPC request into numpy rows", lambda: rpc.decode_frontend_message(frames), 200),
        ("predict: np.stack of the rows", lambda: np.stack(inputs), 200),
        ("predict: scikit-learn's predict", lambda: model.predict(x), 20),
        ("  inside it: the matrix product alone", lambda: x @ coef.T + intercept, 200),
        ("predict: labels into text", lambda: [str(label) for label in labels], 200),
        ("encode: Clipper RPC answer", lambda: rpc.encode_response(message.msg_id, outputs), 200),
    ] + (framing_out if zmtp else [])
    timed = [(name, *time_us(stmt, number, args.repeat)) for name, stmt, number in steps]
    total = sum(median for name, median, _ in timed if not name.startswith(" "))
    print(f"batch of {args.n} rows of {FEATURES} doubles ({len(request)} frames in, {len(answer)} out);")
    print(f"microseconds per batch, median and best of {args.repeat} runs")
    for name, median, best in timed:
        print(f"  {name:<58} {median:9.1f} {best:9.1f}")
    print(f"  {'all steps (the indented line is inside predict)':<58} {total:9.1f}")
    if args.pyzmq:
        for name, median, best in pyzmq_rows(request, answer, args.repeat):
            print(f"  {name:<58} {median:9.1f} {best:9.1f}")


if __name__ == "__main__":
    main()
