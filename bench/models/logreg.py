"""The benchmark's logistic regression (bench/models/logreg_model.py) served as a Clipper container: the
model of the batching and peers scenarios."""
import os
import sys

import numpy as np

from clipper_container import serve

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logreg_model import train  # noqa: E402

model = train()


def predict(inputs):
    return [str(label) for label in model.predict(np.stack(inputs))]


serve(predict)
