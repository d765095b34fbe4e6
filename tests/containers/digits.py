"""A handwritten-digit classifier of a chosen quality (its first argument, else its model name), trained at
start on scikit-learn's digits (the first 1200 images; tests score the rest): `good` (logistic regression),
`fair` (a depth-4 tree), `poor` (a depth-2 tree). Each input is an image's 64 pixels; each output is the
predicted digit."""
import os
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from clipper_container import serve

MODELS = {
    "good": lambda: LogisticRegression(max_iter=2000),
    "fair": lambda: DecisionTreeClassifier(max_depth=4, random_state=0),
    "poor": lambda: DecisionTreeClassifier(max_depth=2, random_state=0),
}

digits = load_digits()
model = MODELS[sys.argv[1] if len(sys.argv) > 1 else os.environ["CLIPPER_MODEL_NAME"]]().fit(digits.data[:1200], digits.target[:1200])


def predict(inputs):
    return [str(p) for p in model.predict(np.stack(inputs)).tolist()]


serve(predict)
