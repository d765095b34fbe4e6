"""A small admin client for the Clipper management API: the counterpart of the original
`clipper_admin.ClipperConnection`, for deploying a trained model from the Python session that trained it.

Every deploy call takes (name, version, input_type, model or function, ...), as the original's do. It checks
the function's contract on a sample input first, with the sample encoded and decoded as a served replica
gets it, pickles the function with cloudpickle (with the user's own modules by value, so the replica needs
only the packages it imports), asks the server to run replicas of it as local processes, and by default
returns once they are connected, having answered the sample.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import numbers
import os
import sys
import sysconfig
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple, Union

import cloudpickle
import numpy as np

from .closure import PICKLE_NAME, SAMPLE_NAME, ContractError, run_on_sample
from .config import parse_input_type
from .rpc import NUMERIC_DTYPES, InputType

# How long a deploy call waits, by default, for its replicas to load the model and connect.
DEFAULT_WAIT_TIMEOUT_S = 120.0
# Between two looks at the server's replicas while waiting for them.
_POLL_S = 0.1
# How much of a replica's log a deploy error shows.
_LOG_TAIL_LINES = 30
_INT32 = (-(2**31), 2**31 - 1)


class ClipperAdminError(Exception):
    """The server refused a management call; `code` is its stable error code."""

    def __init__(self, status: int, code: str, cause: str):
        super().__init__(f"{cause} (HTTP {status}, {code})")
        self.status = status
        self.code = code
        self.cause = cause


class DeployError(RuntimeError):
    """The deployed version's replicas did not come up: one exited, or they did not all connect in time.
    The message ends with the tail of a replica's log, also in `log`."""

    def __init__(self, message: str, log: str):
        super().__init__(message)
        self.log = log


def encode_sample(input_type: InputType, sample: Any) -> bytes:
    """`sample` in RPC wire encoding for `input_type`, as the query frontend encodes a JSON input: a list,
    tuple or 1-D numpy array of finite numbers (32-bit integers for ints), a `str` for strings, `bytes` for
    bytes. What the frontend would refuse raises `ContractError`."""
    kind = input_type.name.lower()

    def refuse(problem: str) -> ContractError:
        return ContractError(f'the sample input is not a valid "{kind}" input: {problem}')

    if input_type == InputType.BYTES:
        if not isinstance(sample, (bytes, bytearray, memoryview)):
            raise refuse(f"expected bytes, got {type(sample).__name__}")
        return bytes(sample)
    if input_type == InputType.STRINGS:
        if not isinstance(sample, str):
            raise refuse(f"expected a str, got {type(sample).__name__}")
        try:
            return sample.encode("utf-8")
        except UnicodeEncodeError as e:
            raise refuse(f"the text has no UTF-8 form: {e}") from None
    if isinstance(sample, np.ndarray) and sample.ndim != 1:
        raise refuse(f"expected a 1-D numpy array, got one of shape {sample.shape}")
    if not isinstance(sample, (list, tuple, np.ndarray)):
        raise refuse(f"expected a list, tuple or 1-D numpy array of numbers, got {type(sample).__name__}")
    values = sample.tolist() if isinstance(sample, np.ndarray) else list(sample)
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not _finite(value):
            raise refuse(f"element {index} is {value!r}, expected a finite number")
        if input_type == InputType.INTS and not (float(value).is_integer() and _INT32[0] <= value <= _INT32[1]):
            raise refuse(f"element {index} is {value!r}, expected a 32-bit integer")
    return np.array(values, dtype=NUMERIC_DTYPES[input_type]).tobytes()


def _finite(value: numbers.Real) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a double, which JSON would read as infinity
        return False


def _input_type(input_type: Any) -> InputType:
    try:
        return parse_input_type(input_type)
    except ValueError as e:
        raise ValueError(f"input_type {input_type!r} is invalid: {e}") from None


def check_contract(input_type: str, func: Callable[[list], Any], sample_input: Any) -> bytes:
    """Runs `func` on a batch of one `sample_input`, handed over exactly as a served replica of input type
    `input_type` would get it (a doubles sample as a read-only float64 array), and explains, in plain words,
    what breaks the contract. Returns the sample in wire encoding."""
    kind = _input_type(input_type)
    wire = encode_sample(kind, sample_input)
    run_on_sample(func, kind, wire)
    return wire


def _deploy_input_type(call: str, what: str, name: str, version: str, input_type: Any) -> InputType:
    """A deploy call's `input_type`. A model or function in its place (the argument order of an earlier
    `deploy_sklearn_model`) is refused with the call written the right way."""
    if not isinstance(input_type, (str, InputType)):
        raise TypeError(
            f"{call} takes (name, version, input_type, {what}, ...): got a {type(input_type).__name__} as "
            f'input_type; call {call}("{name}", "{version}", "doubles", {what}, sample_input=...)'
        )
    return _input_type(input_type)


class _Replicas(NamedTuple):
    """How a deploy call runs its model: the replicas, their batching, and whether it waits for them."""

    num_replicas: int
    batch_size: int
    python: str
    gpus: Tuple[str, ...]
    wait: bool
    wait_timeout_s: float


def _user_module(obj: Any) -> Optional[Any]:
    """The module defining `obj` when it is the user's own code (not the standard library, a package, or
    this library, which the replica has)."""
    module = inspect.getmodule(obj)
    path = getattr(module, "__file__", None)
    if module is None or path is None or module.__name__ == "__main__":
        return None
    if module.__name__.split(".")[0] == __name__.split(".")[0]:
        return None
    installed = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return None if any(os.path.abspath(path).startswith(p) for p in installed) else module


class ClipperConnection:
    """Talks to one Clipper server's management API (and its query API for `inspect_instance`).

    `admin_token` (else `CLIPPER_ADMIN_TOKEN`) is sent as `Authorization: Bearer` with every admin call, for
    a server started with `--admin-token`."""

    def __init__(
        self,
        admin_url: str = "http://127.0.0.1:1338",
        query_url: str = "http://127.0.0.1:1337",
        models_dir: str = os.path.join(os.path.expanduser("~"), ".clipper", "models"),
        admin_token: Optional[str] = None,
    ):
        self.admin_url = admin_url.rstrip("/")
        self.query_url = query_url.rstrip("/")
        self.models_dir = models_dir
        self.admin_token = admin_token if admin_token is not None else os.environ.get("CLIPPER_ADMIN_TOKEN")

    def _call(self, endpoint: str, body: Optional[dict], query: str = "") -> Any:
        """POSTs `body` to the management API (or GETs `endpoint?query` when `body` is None); returns the answer
        parsed when it is JSON and as text otherwise (writes confirm in plain text, and a log is text even where
        it looks like JSON)."""
        headers = {"content-type": "application/json"}
        if self.admin_token:
            headers["authorization"] = f"Bearer {self.admin_token}"
        request = urllib.request.Request(
            f"{self.admin_url}/admin/{endpoint}" + (f"?{query}" if query else ""),
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                is_json = response.headers.get_content_type() == "application/json"
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            try:
                error = json.loads(text)
                raise ClipperAdminError(e.code, error.get("code", "unknown"), error.get("cause", text)) from None
            except ValueError:
                raise ClipperAdminError(e.code, "unknown", text) from None
        return json.loads(text) if is_json else text

    def register_application(
        self,
        name: str,
        input_type: str,
        default_output: str,
        slo_micros: int,
        policy: Optional[str] = None,
        policy_params: Optional[dict] = None,
    ) -> None:
        """Adds an application; `policy` ("exp3", "exp4", "epsilon_greedy", "ucb1"; the original's default
        when None) chooses among the models linked to it, learning from `/update` feedback."""
        body = {"name": name, "input_type": input_type, "default_output": default_output, "latency_slo_micros": slo_micros}
        if policy is not None:
            body.update(policy=policy, policy_params=policy_params or {})
        self._call("add_app", body)

    def set_app_policy(self, name: str, policy: str, policy_params: Optional[dict] = None) -> None:
        self._call("set_app_policy", {"name": name, "policy": policy, "policy_params": policy_params or {}})

    def get_app_policy(self, name: str, uid: Union[int, str] = 0) -> dict:
        """The app's policy, its params and, per linked model, the policy's weight for `uid`, its feedback
        count and recent mean loss."""
        return self._call("get_app_policy", None, urllib.parse.urlencode({"name": name, "uid": str(uid)}))

    def delete_application(self, name: str) -> None:
        self._call("delete_app", {"name": name})

    def link_model_to_app(self, app_name: str, model_name: str) -> None:
        self._call("add_model_links", {"app_name": app_name, "model_names": [model_name]})

    def deploy_python_closure(
        self,
        name: str,
        version: str,
        input_type: str,
        func: Callable[[list], List[str]],
        *,
        sample_input: Any = None,
        num_replicas: int = 1,
        batch_size: int = -1,
        python: str = sys.executable,
        gpus: Sequence[str] = (),
        wait: bool = True,
        wait_timeout_s: float = DEFAULT_WAIT_TIMEOUT_S,
    ) -> str:
        """Deploys `func` as model `name:version`; returns the folder holding the pickled closure.

        With `sample_input`, the function is first run on a batch of one, handed over as a served replica
        gets it, and a broken contract raises `ContractError` before anything is deployed; each replica
        answers the sample too before it connects. `gpus` pins replicas in turn to GPUs ("" for the CPU).
        With `wait`, returns once `num_replicas` replicas are connected, so the first queries get the
        model's answers; raises `DeployError`, with the end of the replica's log, when one exits first or
        they are not all connected within `wait_timeout_s`.
        """
        kind = _deploy_input_type("deploy_python_closure", "func", name, version, input_type)
        sample = None if sample_input is None else check_contract(kind, func, sample_input)
        replicas = _Replicas(num_replicas, batch_size, python, tuple(gpus), wait, wait_timeout_s)
        return self._deploy(name, str(version), kind, func, [func], sample, replicas)

    def _deploy(
        self,
        name: str,
        version: str,
        input_type: InputType,
        func: Callable[[list], List[str]],
        owners: Sequence[Any],
        sample: Optional[bytes],
        replicas: _Replicas,
    ) -> str:
        """Pickles `func`, with the user's modules that define any of `owners` by value, stores `sample` (in
        wire encoding) beside it for the replicas to answer first, registers it and starts the replicas."""
        folder = os.path.join(self.models_dir, name, version)
        os.makedirs(folder, exist_ok=True)
        modules = {m for m in map(_user_module, owners) if m is not None}
        for module in modules:
            cloudpickle.register_pickle_by_value(module)
        try:
            with open(os.path.join(folder, PICKLE_NAME), "wb") as f:
                cloudpickle.dump(func, f)
        finally:
            for module in modules:
                cloudpickle.unregister_pickle_by_value(module)
        sample_path = os.path.join(folder, SAMPLE_NAME)
        if sample is not None:
            with open(sample_path, "wb") as f:
                f.write(sample)
        elif os.path.exists(sample_path):  # left by an earlier deploy into this folder; not this function's
            os.remove(sample_path)
        self._call(
            "add_model",
            {
                "model_name": name,
                "model_version": version,
                "input_type": input_type.name.lower(),
                "container_name": "python-closure",
                "model_data_path": folder,
                "batch_size": replicas.batch_size,
                "container_command": [replicas.python, "-m", "clipper_container.closure"],
            },
        )
        self.set_num_replicas(name, replicas.num_replicas, version, replicas.gpus)
        if replicas.wait:
            self._wait_for_replicas(name, version, replicas.num_replicas, replicas.wait_timeout_s)
        return folder

    def _wait_for_replicas(self, name: str, version: str, num_replicas: int, timeout_s: float) -> None:
        """Returns once `num_replicas` replicas of `name:version` are connected to the server. A replica that
        exits first fails at once: the server restarts it, but it would most likely fail the same way."""
        label = f"{name}:{version}"
        deadline = time.monotonic() + timeout_s
        while True:
            connected = sum(
                1
                for c in self._call("get_all_containers", {"verbose": True})
                if c["model_name"] == name and c["model_version"] == version
            )
            if connected >= num_replicas:
                return
            managed = self.get_model_replicas(name, version)
            exited = [r["replica"] for r in managed if r["restarts"] > 0]
            if exited:
                raise self._replica_error(
                    name,
                    version,
                    exited[0],
                    f'replica {exited[0]} of model "{label}" exited before it connected; the server keeps '
                    f"restarting it until you stop it (stop_models([{name!r}]))",
                )
            if time.monotonic() >= deadline:
                problem = f'{connected} of {num_replicas} replicas of model "{label}" connected within {timeout_s:g} s'
                if not managed:
                    raise DeployError(f"{problem}; the server runs none (is it run with --manage-replicas false?)", "")
                raise self._replica_error(
                    name, version, managed[0]["replica"], f"{problem}; a slow model may need a longer wait_timeout_s"
                )
            time.sleep(_POLL_S)

    def _replica_error(self, name: str, version: str, replica: int, problem: str) -> DeployError:
        log = "\n".join(self.get_replica_logs(name, replica, version).splitlines()[-_LOG_TAIL_LINES:])
        shown = textwrap.indent(log, "    ") if log else "    (empty)"
        return DeployError(f"{problem}. The end of replica {replica}'s log:\n{shown}", log)

    def deploy_sklearn_model(
        self,
        name: str,
        version: str,
        input_type: str,
        model: Any = None,
        *,
        sample_input: Any = None,
        num_replicas: int = 1,
        batch_size: int = -1,
        wait: bool = True,
        wait_timeout_s: float = DEFAULT_WAIT_TIMEOUT_S,
    ) -> str:
        """Deploys a fitted scikit-learn estimator: each input is one feature row, each output is the
        estimator's prediction for it as a string. The replica needs scikit-learn installed. The other
        arguments are `deploy_python_closure`'s."""
        # `model` has a default only so that the older order, (name, version, model, sample_input), reaches
        # the check below and gets its explanation rather than Python's "missing argument".
        kind = _deploy_input_type("deploy_sklearn_model", "model", name, version, input_type)
        if model is None:
            raise TypeError(
                f'deploy_sklearn_model needs the fitted estimator: call deploy_sklearn_model("{name}", "{version}", '
                f'"{input_type}", model, sample_input=...)'
            )

        def predict(batch: list) -> List[str]:
            return [str(p) for p in model.predict(np.stack(batch)).tolist()]

        return self.deploy_python_closure(
            name,
            version,
            kind,
            predict,
            sample_input=sample_input,
            num_replicas=num_replicas,
            batch_size=batch_size,
            wait=wait,
            wait_timeout_s=wait_timeout_s,
        )

    def deploy_pytorch_model(
        self,
        name: str,
        version: str,
        input_type: str,
        func: Callable[[Any, list], List[str]],
        pytorch_model: Any,
        *,
        sample_input: Any = None,
        num_replicas: int = 1,
        batch_size: int = -1,
        gpus: Sequence[str] = (),
        wait: bool = True,
        wait_timeout_s: float = DEFAULT_WAIT_TIMEOUT_S,
    ) -> str:
        """Deploys a trained `torch.nn.Module`: each batch runs `func(model, inputs)`, which returns one string
        per input. In the replica the model is in eval mode, on the GPU when the replica has one (pin replicas
        with `gpus`, e.g. `["0", ""]` for one GPU replica and one CPU replica) and on the CPU otherwise, and
        `func` runs under `torch.no_grad()`; it finds the device with `next(model.parameters()).device`.

        A copy of the model is checked and pickled (on the CPU, so a replica without a GPU can load it), so
        the caller's model keeps its device and training mode. The model's class and `func` travel by value
        when they are the user's own code; the replica needs torch and what they import. The other arguments
        are `deploy_python_closure`'s."""
        kind = _deploy_input_type("deploy_pytorch_model", "func, pytorch_model", name, version, input_type)
        model = copy.deepcopy(pytorch_model)
        sample = None if sample_input is None else check_contract(kind, torch_predict(func, model), sample_input)
        # The check may have moved the copy to a GPU; a fresh closure places it again in the replica.
        predict = torch_predict(func, model.cpu())
        owners = [func, type(pytorch_model)]
        replicas = _Replicas(num_replicas, batch_size, sys.executable, tuple(gpus), wait, wait_timeout_s)
        return self._deploy(name, str(version), kind, predict, owners, sample, replicas)

    def set_model_batching(
        self,
        name: str,
        version: Optional[str] = None,
        *,
        batch_size: Optional[int] = None,
        batching: Optional[str] = None,
        batch_delay_micros: Optional[int] = None,
    ) -> None:
        """Changes how `name:version` (the current version by default) is batched, live: `batch_size` (-1
        adaptive, else a fixed maximum), `batching` ("aimd" or "quantile", for adaptive batches) and
        `batch_delay_micros` (how long a replica with room in its batch waits for more queries, never past
        the earliest deadline waiting; 0: never). Only the arguments given change."""
        changes = {"batch_size": batch_size, "batching": batching, "batch_delay_micros": batch_delay_micros}
        body = {"model_name": name, "model_version": self._version(name, version)}
        body.update({k: v for k, v in changes.items() if v is not None})
        self._call("set_model_batching", body)

    def set_model_version(self, name: str, version: str) -> None:
        self._call("set_model_version", {"model_name": name, "model_version": str(version)})

    def _version(self, name: str, version: Optional[str]) -> str:
        """`version`, or the model's current version when it is None."""
        if version is not None:
            return str(version)
        for model in self._call("get_all_models", {"verbose": True}):
            if model["model_name"] == name and model["is_current_version"]:
                return model["model_version"]
        raise ClipperAdminError(404, "model_not_found", f'Model "{name}" has no current version')

    def set_num_replicas(self, name: str, num_replicas: int, version: Optional[str] = None, gpus: Sequence[str] = ()) -> None:
        version = self._version(name, version)
        self._call(
            "set_num_replicas",
            {"model_name": name, "model_version": version, "num_replicas": num_replicas, "gpus": list(gpus)},
        )

    def get_model_replicas(self, name: str, version: Optional[str] = None) -> list:
        """The replica processes the server runs for `name:version` (the current version by default), each
        a dict: its index `replica`, `pid`, whether it is `running`, how many `restarts` it had, its `gpu`
        (None when not pinned) and its `log_path`."""
        return self._call("get_model_replicas", {"model_name": name, "model_version": self._version(name, version)})

    def get_replica_logs(self, name: str, replica: int, version: Optional[str] = None) -> str:
        """What replica `replica` (its index in `get_model_replicas`) of `name:version` (the current version by
        default) wrote to stdout and stderr, and the server's notes on its exits: the last 64 KiB."""
        return self._call(
            "get_replica_logs", {"model_name": name, "model_version": self._version(name, version), "replica": replica}
        )

    def get_all_apps(self, verbose: bool = False) -> list:
        return self._call("get_all_applications", {"verbose": verbose})

    def get_all_models(self, verbose: bool = False) -> list:
        return self._call("get_all_models", {"verbose": verbose})

    def inspect_instance(self) -> dict:
        """The query frontend's metrics: counters and latency histograms per app and per model."""
        with urllib.request.urlopen(f"{self.query_url}/metrics", timeout=30) as response:
            return json.loads(response.read().decode())

    def stop_models(self, model_names: Sequence[str]) -> None:
        """Stops every replica of every version of the named models (the versions stay registered)."""
        for model in self._call("get_all_models", {"verbose": True}):
            if model["model_name"] in model_names:
                self.set_num_replicas(model["model_name"], 0, model["model_version"])


def torch_predict(func: Callable[[Any, list], List[str]], model: Any) -> Callable[[list], List[str]]:
    """A batch function that runs `func(model, batch)` without gradients, with `model` in eval mode on the
    first visible GPU, or the CPU. The model is placed on the first call, in the process that serves it."""
    placed = False

    def predict(batch: list) -> List[str]:
        import torch

        nonlocal placed
        if not placed:
            # `Module.to` and `eval` change the module itself.
            model.to(torch.device("cuda" if torch.cuda.is_available() else "cpu")).eval()
            placed = True
        with torch.no_grad():
            return func(model, batch)

    return predict
