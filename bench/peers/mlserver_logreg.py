"""Prepares an MLServer folder serving the benchmark's logistic regression with mlserver-sklearn (V2
inference protocol: POST /v2/models/logreg/infer), then runs `mlserver start` on it.
Usage: python mlserver_logreg.py DIR HTTP_PORT GRPC_PORT METRICS_PORT"""
import json
import os
import sys

import joblib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
from logreg_model import train  # noqa: E402

folder, http_port, grpc_port, metrics_port = sys.argv[1], *map(int, sys.argv[2:5])
os.makedirs(folder, exist_ok=True)
joblib.dump(train(), os.path.join(folder, "model.joblib"))
# No worker pool: its worker processes fail to start with this release ("no current event loop").
settings = {
    "host": "127.0.0.1",
    "http_port": http_port,
    "grpc_port": grpc_port,
    "metrics_port": metrics_port,
    "parallel_workers": 0,
}
with open(os.path.join(folder, "settings.json"), "w") as f:
    json.dump(settings, f)
model_settings = {
    "name": "logreg",
    "implementation": "mlserver_sklearn.SKLearnModel",
    "parameters": {"uri": "./model.joblib"},
}
with open(os.path.join(folder, "model-settings.json"), "w") as f:
    json.dump(model_settings, f)
os.execvp(os.path.join(os.path.dirname(sys.executable), "mlserver"), ["mlserver", "start", folder])
