"""The benchmark's model: a scikit-learn logistic regression on 784 features (MNIST-sized), trained on
synthetic data with a fixed seed, so Clipper's container and every peer serve the very same model."""
import numpy as np
from sklearn.linear_model import LogisticRegression

FEATURES = 784


def train() -> LogisticRegression:
    rng = np.random.default_rng(0)
    x = rng.random((2000, FEATURES))
    y = (x[:, : FEATURES // 2].sum(axis=1) > x[:, FEATURES // 2 :].sum(axis=1)).astype(int)
    return LogisticRegression(max_iter=200).fit(x, y)
