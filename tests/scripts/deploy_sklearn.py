"""Trains a scikit-learn model and deploys it as a closure through the admin client, as a data scientist
would; prints the model's own predictions for the probe inputs as JSON so the test can compare them with
what the server answers. With `bad`, deploys a function that breaks the contract and prints the error."""

import json
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression

from clipper_container.admin import ClipperConnection, ContractError

admin_url, query_url, models_dir, mode = sys.argv[1:5]
conn = ClipperConnection(admin_url=admin_url, query_url=query_url, models_dir=models_dir)

if mode == "bad":
    try:
        conn.deploy_python_closure("broken", "1", "doubles", lambda batch: [1 for _ in batch], sample_input=[0.0, 0.0])
    except ContractError as e:
        print(json.dumps({"contract_error": str(e)}))
        sys.exit(0)
    sys.exit("the broken function was deployed")

rng = np.random.default_rng(7)
X = rng.normal(size=(200, 4))
y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
model = LogisticRegression().fit(X, y)

conn.register_application("iris-like", "doubles", "-1", 2_000_000)
conn.deploy_sklearn_model("logreg", "1", "doubles", model, sample_input=np.zeros(4))
conn.link_model_to_app("iris-like", "logreg")
probes = rng.normal(size=(6, 4))
print(json.dumps({"probes": probes.tolist(), "expected": [int(v) for v in model.predict(probes)]}))
