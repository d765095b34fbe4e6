"""The closure container: serves a function that `ClipperConnection.deploy_python_closure` pickled.

Run by the container manager as `python -m clipper_container.closure`; it loads `predict.pkl` from
CLIPPER_MODEL_PATH, answers the sample input stored beside it (when the deploy gave one) and only then
connects, so a connected replica has loaded its model and answered once. Also owns the sample check that
the admin client runs before a deploy: both decode the sample with the container's own decoder, so the
function gets in the check exactly what it gets when served.
"""

from __future__ import annotations

import os
import traceback
from typing import Any, Callable

import cloudpickle

from . import rpc, serve
from .config import Config, ConfigError
from .container import contract_violation

PICKLE_NAME = "predict.pkl"
# The sample input in RPC wire encoding for the model's input type, as the frontend sends it.
SAMPLE_NAME = "sample_input.bin"


class ContractError(ValueError):
    """The function does not take a batch and return one string per input."""


def run_on_sample(predict: Callable[[list], Any], input_type: rpc.InputType, wire: bytes) -> None:
    """Runs `predict` on a batch of one input decoded from `wire` as a served replica decodes a request, and
    explains, in plain words, what breaks the contract."""
    request = rpc.decode_frontend_message(rpc.encode_prediction_request(0, input_type, [wire]))
    try:
        outputs = predict(request.inputs)
    except Exception as e:
        raise ContractError(f"the function raised {type(e).__name__} on a batch of one sample input: {e}") from e
    problem = contract_violation(outputs, 1)
    if problem is not None:
        raise ContractError(f"the function must take a batch and return one string per input: {problem}")


def load(model_path: str):
    with open(os.path.join(model_path, PICKLE_NAME), "rb") as f:
        return cloudpickle.load(f)


def main() -> None:
    try:
        config = Config.from_env()
    except ConfigError as e:
        raise SystemExit(f"clipper_container: {e}") from None
    if config.model_path is None:
        raise SystemExit("clipper_container: CLIPPER_MODEL_PATH is not set; it must name the deployed closure's folder")
    try:
        predict = load(config.model_path)
    except (OSError, EOFError, AttributeError, ImportError) as e:
        raise SystemExit(f"clipper_container: cannot load the closure from {config.model_path}: {e}") from None
    sample_path = os.path.join(config.model_path, SAMPLE_NAME)
    if os.path.exists(sample_path):  # absent when the deploy gave no sample input
        with open(sample_path, "rb") as f:
            wire = f.read()
        try:
            run_on_sample(predict, config.input_type, wire)
        except ContractError as e:
            cause = e.__cause__  # what the function raised, such as a package missing here: show where
            if cause is not None:
                traceback.print_exception(type(cause), cause, cause.__traceback__)
            raise SystemExit(
                f"clipper_container: the model failed on its sample input, so it is not served: {e}"
            ) from None
    serve(predict)


if __name__ == "__main__":
    main()
