"""The benchmark's logistic regression as a BentoML service: POST /bench/predict {"input": [784 floats]}.
Usage: bentoml serve bentoml_logreg:LogReg --host 127.0.0.1 --port PORT (from this folder)"""
import os
import sys

import bentoml
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
from logreg_model import train  # noqa: E402


@bentoml.service(workers=1)
class LogReg:
    def __init__(self):
        self.model = train()

    @bentoml.api(route="/bench/predict")
    def predict(self, input: list[float]) -> dict:
        label = self.model.predict(np.asarray(input, dtype=float).reshape(1, -1))[0]
        return {"output": int(label), "default": False}
