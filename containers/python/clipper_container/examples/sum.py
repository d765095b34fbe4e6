"""Example container that sums each input: numbers for numeric arrays, byte values for bytes, and the
length for strings (each answer as its decimal string)."""

from clipper_container import serve


def total(value) -> str:
    if isinstance(value, str):
        return str(len(value))
    if isinstance(value, bytes):
        return str(sum(value))
    # .item() turns the numpy scalar into a Python number, which prints as "6" or "6.5".
    return str(value.sum().item())


def predict(inputs):
    return [total(value) for value in inputs]


if __name__ == "__main__":
    serve(predict)
