"""A small admin client for the Clipper management API: the counterpart of the original
`clipper_admin.ClipperConnection`, for deploying a trained model from the Python session that trained it.

`deploy_python_closure` checks the function's contract on a sample input first, pickles it with
cloudpickle (with the user's own modules by value, so the replica needs only the packages it imports), and
asks the server to run replicas of it as local processes.
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import sys
import sysconfig
import urllib.error
import urllib.request
from typing import Any, Callable, List, Optional, Sequence

import cloudpickle

from .closure import PICKLE_NAME
from .container import contract_violation


class ClipperAdminError(Exception):
    """The server refused a management call; `code` is its stable error code."""

    def __init__(self, status: int, code: str, cause: str):
        super().__init__(f"{cause} (HTTP {status}, {code})")
        self.status = status
        self.code = code
        self.cause = cause


class ContractError(ValueError):
    """The function does not take a batch and return one string per input."""


def check_contract(func: Callable[[list], Any], sample_input: Any) -> None:
    """Runs `func` on a batch of one `sample_input` and explains, in plain words, what breaks the contract."""
    try:
        outputs = func([sample_input])
    except Exception as e:
        raise ContractError(f"the function raised {type(e).__name__} on a batch of one sample input: {e}") from e
    problem = contract_violation(outputs, 1)
    if problem is not None:
        raise ContractError(f"the function must take a batch and return one string per input: {problem}")


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
    """Talks to one Clipper server's management API (and its query API for `inspect_instance`)."""

    def __init__(
        self,
        admin_url: str = "http://127.0.0.1:1338",
        query_url: str = "http://127.0.0.1:1337",
        models_dir: str = os.path.join(os.path.expanduser("~"), ".clipper", "models"),
    ):
        self.admin_url = admin_url.rstrip("/")
        self.query_url = query_url.rstrip("/")
        self.models_dir = models_dir

    def _call(self, endpoint: str, body: dict) -> Any:
        request = urllib.request.Request(
            f"{self.admin_url}/admin/{endpoint}",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            try:
                error = json.loads(text)
                raise ClipperAdminError(e.code, error.get("code", "unknown"), error.get("cause", text)) from None
            except ValueError:
                raise ClipperAdminError(e.code, "unknown", text) from None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def register_application(self, name: str, input_type: str, default_output: str, slo_micros: int) -> None:
        self._call(
            "add_app",
            {"name": name, "input_type": input_type, "default_output": default_output, "latency_slo_micros": slo_micros},
        )

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
        sample_input: Any = None,
        num_replicas: int = 1,
        batch_size: int = -1,
        python: str = sys.executable,
        gpus: Sequence[str] = (),
    ) -> str:
        """Deploys `func` as model `name:version`; returns the folder holding the pickled closure.

        With `sample_input`, the function is first run on a batch of one and a broken contract raises
        `ContractError` before anything is deployed. `gpus` pins replicas in turn to GPUs ("" for the CPU).
        """
        if sample_input is not None:
            check_contract(func, sample_input)
        return self._deploy(name, version, input_type, func, [func], num_replicas, batch_size, python, gpus)

    def _deploy(
        self,
        name: str,
        version: str,
        input_type: str,
        func: Callable[[list], List[str]],
        owners: Sequence[Any],
        num_replicas: int,
        batch_size: int,
        python: str,
        gpus: Sequence[str],
    ) -> str:
        """Pickles `func`, with the user's modules that define any of `owners` by value, and registers it."""
        folder = os.path.join(self.models_dir, name, str(version))
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
        self._call(
            "add_model",
            {
                "model_name": name,
                "model_version": str(version),
                "input_type": input_type,
                "container_name": "python-closure",
                "model_data_path": folder,
                "batch_size": batch_size,
                "container_command": [python, "-m", "clipper_container.closure"],
            },
        )
        self.set_num_replicas(name, num_replicas, version, gpus)
        return folder

    def deploy_sklearn_model(
        self,
        name: str,
        version: str,
        model: Any,
        sample_input: Any,
        input_type: str = "doubles",
        num_replicas: int = 1,
        batch_size: int = -1,
    ) -> str:
        """Deploys a fitted scikit-learn estimator: each input is one feature row, each output is the
        estimator's prediction for it as a string. The replica needs scikit-learn installed."""

        def predict(batch: list) -> List[str]:
            import numpy as np

            return [str(p) for p in model.predict(np.stack(batch)).tolist()]

        return self.deploy_python_closure(
            name, version, input_type, predict, sample_input=sample_input, num_replicas=num_replicas, batch_size=batch_size
        )

    def deploy_pytorch_model(
        self,
        name: str,
        version: str,
        input_type: str,
        func: Callable[[Any, list], List[str]],
        pytorch_model: Any,
        sample_input: Any = None,
        num_replicas: int = 1,
        batch_size: int = -1,
        gpus: Sequence[str] = (),
    ) -> str:
        """Deploys a trained `torch.nn.Module`: each batch runs `func(model, inputs)`, which returns one string
        per input. In the replica the model is in eval mode, on the GPU when the replica has one (pin replicas
        with `gpus`, e.g. `["0", ""]` for one GPU replica and one CPU replica) and on the CPU otherwise, and
        `func` runs under `torch.no_grad()`; it finds the device with `next(model.parameters()).device`.

        A copy of the model is checked and pickled (on the CPU, so a replica without a GPU can load it), so
        the caller's model keeps its device and training mode. The model's class and `func` travel by value
        when they are the user's own code; the replica needs torch and what they import."""
        model = copy.deepcopy(pytorch_model)
        if sample_input is not None:
            check_contract(torch_predict(func, model), sample_input)
        # The check may have moved the copy to a GPU; a fresh closure places it again in the replica.
        predict = torch_predict(func, model.cpu())
        owners = [func, type(pytorch_model)]
        return self._deploy(name, version, input_type, predict, owners, num_replicas, batch_size, sys.executable, gpus)

    def set_model_version(self, name: str, version: str) -> None:
        self._call("set_model_version", {"model_name": name, "model_version": str(version)})

    def _current_version(self, name: str) -> str:
        for model in self._call("get_all_models", {"verbose": True}):
            if model["model_name"] == name and model["is_current_version"]:
                return model["model_version"]
        raise ClipperAdminError(404, "model_not_found", f'Model "{name}" has no current version')

    def set_num_replicas(self, name: str, num_replicas: int, version: Optional[str] = None, gpus: Sequence[str] = ()) -> None:
        version = str(version) if version is not None else self._current_version(name)
        self._call(
            "set_num_replicas",
            {"model_name": name, "model_version": version, "num_replicas": num_replicas, "gpus": list(gpus)},
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
