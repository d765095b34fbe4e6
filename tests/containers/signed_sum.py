"""Sums each input, times the sign given as its first argument (`1` or `-1`): two models that disagree."""
import sys

from clipper_container import serve

SIGN = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def predict(inputs):
    return [str(SIGN * float(x.sum())) for x in inputs]


serve(predict)
