"""The benchmark's logistic regression behind Ray Serve: POST /bench/predict {"input": [784 floats]}.
Usage: python ray_serve_logreg.py PORT"""
import os
import sys
import time

import numpy as np
import ray
from ray import serve
from starlette.requests import Request

MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")
sys.path.insert(0, MODELS)
from logreg_model import train  # noqa: E402


# Ray's default of 5 requests in progress per replica makes its router back off under the scenario's 32
# connections: 13.9 req/s with p50 3.1 s, against 89.6 req/s and 354 ms with 64 (oha by hand, 10 s each).
@serve.deployment(max_ongoing_requests=64)
class LogReg:
    def __init__(self):
        self.model = train()

    async def __call__(self, request: Request):
        body = await request.json()
        label = self.model.predict(np.asarray(body["input"], dtype=float).reshape(1, -1))[0]
        return {"output": int(label), "default": False}


# Replicas run in worker processes, which find the model module through PYTHONPATH.
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": MODELS}})
serve.start(http_options={"host": "127.0.0.1", "port": int(sys.argv[1])})
serve.run(LogReg.bind(), route_prefix="/bench/predict")
while True:
    time.sleep(3600)
