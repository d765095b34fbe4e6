"""A model that answers each input with the size of the batch it came in, after sleeping the seconds given
as its first argument (0.05 when absent), so a test can see how the server batched its queries."""
import sys
import time

from clipper_container import serve

DELAY_SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 0.05


def predict(inputs):
    time.sleep(DELAY_SECONDS)
    return [str(len(inputs))] * len(inputs)


serve(predict)
