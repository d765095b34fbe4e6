"""Runs a Clipper container with the CPU time of its serving thread (time.thread_time, so time spent
blocked waiting for the frontend does not count) summed per step of a batch: receive (ZMTP framing and the
socket's reads), decode (Clipper RPC into rows), predict (the model's function), encode (the RPC answer)
and send (framing and the socket's write). When the container stops (SIGTERM), it writes the sums, the
batches and the queries to the JSON file named by CLIPPER_PROBE_STEPS. For this tree's container library
(Python ZMTP); the probe `bench/probes/alternate.ts` starts it for a `timed` arm.

Usage: CLIPPER_PROBE_STEPS=steps.json CLIPPER_...=... \
    .venv/bin/python bench/probes/timed_container.py (-m MODULE | SCRIPT)
"""

import json
import os
import runpy
import sys
import time

from clipper_container import container, rpc, zmtp

seconds = {"receive": 0.0, "idle receive": 0.0, "decode": 0.0, "predict": 0.0, "encode": 0.0, "send": 0.0}
counts = {"batches": 0, "queries": 0}


def timed(step, function, count=None):
    """`function` with its thread time added to `seconds[step]`; `count(result)` sees each result."""

    def wrapper(*args, **kwargs):
        start = time.thread_time()
        result = function(*args, **kwargs)
        elapsed = time.thread_time() - start
        # A receive that timed out is the loop idling between batches, not part of one.
        seconds["idle receive" if step == "receive" and result is None else step] += elapsed
        if count is not None:
            count(result)
        return result

    return wrapper


def count_batch(message):
    if isinstance(message, rpc.PredictionRequest):
        counts["batches"] += 1
        counts["queries"] += len(message.inputs)


# The serving loop reaches these through their modules and classes, so wrapping them there times it.
zmtp.Dealer.receive = timed("receive", zmtp.Dealer.receive)
zmtp.Dealer.send = timed("send", zmtp.Dealer.send)
rpc.decode_frontend_message = timed("decode", rpc.decode_frontend_message, count_batch)
rpc.encode_response = timed("encode", rpc.encode_response)
_predict_function = container.predict_function
container.predict_function = lambda model: timed("predict", _predict_function(model))

target = sys.argv[1:]
sys.argv = target[1:] if target[0] == "-m" else target
if target[0] == "-m":
    runpy.run_module(target[1], run_name="__main__", alter_sys=True)
else:
    runpy.run_path(target[0], run_name="__main__")
with open(os.environ["CLIPPER_PROBE_STEPS"], "w") as out:
    json.dump({"seconds": seconds, **counts}, out)
