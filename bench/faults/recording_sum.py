"""The fault suite's model: sums each input (`[i]` answers `i`), after sleeping the seconds given as its
second argument (0 when absent, to keep batches in flight long enough to be killed mid-way), and appends
the first value of every input it answers, one per line, to the file given as its first argument, before
handing the answers back. The suite reads these files to count inputs the containers answered more than
once (the container side of "answered twice")."""
import sys
import time

from clipper_container import serve

record = open(sys.argv[1], "a", buffering=1)
DELAY_SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0


def predict(inputs):
    if DELAY_SECONDS:
        time.sleep(DELAY_SECONDS)
    outputs = [str(float(x.sum())) for x in inputs]
    record.write("".join(f"{float(x[0])!r}\n" for x in inputs))
    return outputs


serve(predict)
