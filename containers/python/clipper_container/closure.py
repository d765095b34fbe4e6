"""The closure container: serves a function that `ClipperConnection.deploy_python_closure` pickled.

Run by the container manager as `python -m clipper_container.closure`; it loads `predict.pkl` from
CLIPPER_MODEL_PATH and serves it like any other model.
"""

from __future__ import annotations

import os
import sys

import cloudpickle

from . import serve

PICKLE_NAME = "predict.pkl"


def load(model_path: str):
    with open(os.path.join(model_path, PICKLE_NAME), "rb") as f:
        return cloudpickle.load(f)


def main() -> None:
    model_path = os.environ.get("CLIPPER_MODEL_PATH")
    if not model_path:
        raise SystemExit("clipper_container: CLIPPER_MODEL_PATH is not set; it must name the deployed closure's folder")
    try:
        predict = load(model_path)
    except (OSError, EOFError, AttributeError, ImportError) as e:
        print(f"clipper_container: cannot load the closure from {model_path}: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    serve(predict)


if __name__ == "__main__":
    main()
