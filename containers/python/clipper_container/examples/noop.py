"""Example container that answers the string "0" for every input: measures serving overhead alone."""

from clipper_container import serve


def predict(inputs):
    return ["0"] * len(inputs)


if __name__ == "__main__":
    serve(predict)
