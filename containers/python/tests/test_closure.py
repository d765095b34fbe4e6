"""The closure container (`python -m clipper_container.closure`) as a real subprocess against a real ROUTER:
it answers the sample input stored beside the closure before it connects, and exits with the reason when
the model fails on it."""

import os
import subprocess
import sys

import cloudpickle
import pytest

from clipper_container.admin import encode_sample
from clipper_container.closure import PICKLE_NAME, SAMPLE_NAME
from clipper_container.rpc import InputType


def deploy_folder(folder, func, input_type, sample):
    """Writes what `ClipperConnection._deploy` writes: the pickled function and the sample in wire encoding."""
    with open(folder / PICKLE_NAME, "wb") as f:
        cloudpickle.dump(func, f)
    (folder / SAMPLE_NAME).write_bytes(encode_sample(input_type, sample))


def start_replica(folder, frontend, input_type, **popen):
    env = dict(
        os.environ,
        CLIPPER_MODEL_NAME="m",
        CLIPPER_MODEL_VERSION="1",
        CLIPPER_IP="127.0.0.1",
        CLIPPER_PORT=str(frontend.port),
        CLIPPER_INPUT_TYPE=input_type,
        CLIPPER_MODEL_PATH=str(folder),
    )
    return subprocess.Popen([sys.executable, "-m", "clipper_container.closure"], env=env, **popen)


@pytest.fixture
def replicas():
    started = []
    yield started
    for process in started:
        process.kill()
        process.wait(timeout=5)


def test_a_replica_answers_its_sample_input_before_it_opens_a_socket(tmp_path, frontend, replicas):
    record = tmp_path / "calls.txt"

    def predict(batch):
        # Counts the sockets this process has open while it answers: none until it connects.
        sockets = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
            except FileNotFoundError:  # the descriptor that listdir itself used
                pass
        with open(record, "a") as f:
            f.write(f"{batch[0].dtype} {batch[0].tolist()} sockets={sockets}\n")
        return [str(x.sum()) for x in batch]

    deploy_folder(tmp_path, predict, InputType.INTS, [1, 2])
    replicas.append(start_replica(tmp_path, frontend, "ints"))
    identity, _ = frontend.handshake(timeout=30)
    assert record.read_text() == "int32 [1, 2] sockets=0\n"
    answer = frontend.predict(identity, 1, InputType.INTS, [encode_sample(InputType.INTS, [4, 5])])
    assert answer[5:] == [b"9"]


def test_a_replica_whose_model_fails_on_its_sample_input_exits_with_the_reason(tmp_path, frontend, replicas):
    deploy_folder(tmp_path, lambda batch: [__import__("a_package_missing_here")], InputType.DOUBLES, [0.0])
    replica = start_replica(tmp_path, frontend, "doubles", stderr=subprocess.PIPE, text=True)
    replicas.append(replica)
    _, stderr = replica.communicate(timeout=60)
    assert replica.returncode == 1
    assert "ModuleNotFoundError: No module named 'a_package_missing_here'" in stderr
    assert stderr.endswith(
        "clipper_container: the model failed on its sample input, so it is not served: the function raised "
        "ModuleNotFoundError on a batch of one sample input: No module named 'a_package_missing_here'\n"
    )
