"""Example container that answers each numeric input's mean (as its decimal string): a second opinion to
`sum`'s for the README's model-selection example."""

from clipper_container import serve


def predict(inputs):
    # .item() turns the numpy scalar into a Python float, which prints as "2.0" or "2.5".
    return [str(value.mean().item()) for value in inputs]


if __name__ == "__main__":
    serve(predict)
