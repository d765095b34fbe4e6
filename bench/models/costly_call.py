"""A model whose call costs at least 1 ms whatever its batch (a fixed cost, as a GPU launch or a remote
lookup has), then a linear model over 784 features: the second batching scenario's. Batching pays off here
by spreading that fixed cost over the batch."""
import time

import numpy as np

from clipper_container import serve

CALL_SECONDS = 0.001
WEIGHTS = np.linspace(-1.0, 1.0, 784)


def predict(inputs):
    time.sleep(CALL_SECONDS)
    return [str(int(score > 0)) for score in np.stack(inputs) @ WEIGHTS]


serve(predict)
