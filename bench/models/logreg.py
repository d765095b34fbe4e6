"""A scikit-learn logistic regression on 784 features (MNIST-sized), trained at start on synthetic data,
served as a Clipper container: the model of the batching scenario (and the one peers are compared on)."""
import numpy as np
from sklearn.linear_model import LogisticRegression

from clipper_container import serve

rng = np.random.default_rng(0)
features = rng.random((2000, 784))
labels = (features[:, :392].sum(axis=1) > features[:, 392:].sum(axis=1)).astype(int)
model = LogisticRegression(max_iter=200).fit(features, labels)


def predict(inputs):
    return [str(label) for label in model.predict(np.stack(inputs))]


serve(predict)
