"""The example containers as real subprocesses, configured only through the environment."""

import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from clipper_container.rpc import InputType


def start_example(name, frontend, input_type):
    env = dict(
        os.environ,
        CLIPPER_MODEL_NAME=name,
        CLIPPER_MODEL_VERSION="1",
        CLIPPER_IP="127.0.0.1",
        CLIPPER_PORT=str(frontend.port),
        CLIPPER_INPUT_TYPE=input_type,
    )
    return subprocess.Popen([sys.executable, "-m", f"clipper_container.examples.{name}"], env=env)


@pytest.fixture
def example(frontend):
    processes = []

    def start(name, input_type):
        process = start_example(name, frontend, input_type)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait(timeout=5)


def outputs(frames):
    return [f.decode() for f in frames[5:]]


@pytest.mark.parametrize(
    "input_type, alias, inputs, expected",
    [
        (InputType.INTS, "ints", [np.array([1, 2, 3], "<i4").tobytes()], ["6"]),
        (InputType.DOUBLES, "d", [np.array([1.5, 5], "<f8").tobytes(), b""], ["6.5", "0.0"]),
        (InputType.FLOATS, "float", [np.array([0.25, 0.5], "<f4").tobytes()], ["0.75"]),
        (InputType.STRINGS, "strings", ["héllo".encode(), b""], ["5", "0"]),
        (InputType.BYTES, "bytes", [b"\x01\x02\xff"], ["258"]),
    ],
)
def test_sum_example_sums_each_input_of_every_type(frontend, example, input_type, alias, inputs, expected):
    example("sum", alias)
    identity, metadata = frontend.handshake(timeout=15)
    assert metadata[2:5] == [b"sum", b"1", str(int(input_type)).encode()]
    assert outputs(frontend.predict(identity, 1, input_type, inputs)) == expected


def test_noop_example_answers_0_for_every_input(frontend, example):
    example("noop", "doubles")
    identity, _ = frontend.handshake(timeout=15)
    assert outputs(frontend.predict(identity, 1, InputType.DOUBLES, [struct.pack("<d", 1.0)] * 3)) == ["0"] * 3


def test_an_example_without_a_model_version_exits_naming_the_variable(frontend):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIPPER_")}
    env["CLIPPER_MODEL_NAME"] = "noop"
    done = subprocess.run(
        [sys.executable, "-m", "clipper_container.examples.noop"], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode != 0
    assert "CLIPPER_MODEL_VERSION is not set" in done.stderr


def test_sigterm_ends_an_example_container_cleanly(tmp_path):
    """A stop request (SIGTERM) ends the process with status 0 instead of killing it mid-batch."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import zmq

    ctx = zmq.Context.instance()
    router = ctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    env = dict(os.environ, CLIPPER_MODEL_NAME="m", CLIPPER_MODEL_VERSION="1", CLIPPER_PORT=str(port))
    proc = subprocess.Popen([sys.executable, "-m", "clipper_container.examples.noop"], env=env)
    try:
        assert router.poll(10_000), "the container never connected"
        router.recv_multipart()
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        router.close(linger=0)
