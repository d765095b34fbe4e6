"""Draws learning_curve.ts's rows (JSON on stdin) into the PNG named by the first argument: each model's
share of the picks against the feedback count, and the app's accuracy."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

data = json.load(sys.stdin)
feedback = [r["feedback"] for r in data["rows"]]
fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
for i, model in enumerate(data["models"]):
    ax.plot(feedback, [r["shares"][i] for r in data["rows"]], "o-", label=f"{model}: share of picks")
ax.plot(feedback, [r["accuracy"] for r in data["rows"]], "k--", label="app accuracy")
ax.set_xlabel("feedback received")
ax.set_ylabel("share of the last window")
ax.set_ylim(0, 1)
ax.set_title(f'{data["policy"]} over three digit classifiers (accuracy 0.92, 0.56, 0.34)')
ax.grid(True, alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(sys.argv[1])
