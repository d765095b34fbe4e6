"""A model that takes a while: sleeps the seconds given as its first argument, then echoes input lengths."""
import sys
import time

from clipper_container import serve

DELAY_SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5


def predict(inputs):
    time.sleep(DELAY_SECONDS)
    return [str(len(x)) for x in inputs]


serve(predict)
