"""A model that fails a batch holding a negative first element, and answers sums otherwise."""
from clipper_container import serve


def predict(inputs):
    if any(float(x[0]) < 0 for x in inputs):
        raise ValueError("negative input")
    return [str(float(sum(x))) for x in inputs]


serve(predict)
