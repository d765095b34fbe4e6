"""Draws latency percentiles against offered load for the open-loop curves read as JSON from stdin
(bench/lib/report.ts writes them), with the bare ceiling's p99 under the same attacks where measured, into
the PNG named by the first argument."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

curves = json.load(sys.stdin)
fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
for entry in curves:
    points = entry["curve"]
    offered = [p["offered_per_second"] for p in points]
    for key, style in (("p50_ms", "o-"), ("p90_ms", "s--"), ("p99_ms", "^-")):
        ax.plot(offered, [p[key] for p in points], style, label=f'{entry["scenario"]} {key[:-3]}')
    ceiling = entry.get("ceiling_curve") or []
    if ceiling:
        ax.plot(
            [p["offered_per_second"] for p in ceiling],
            [p["p99_ms"] for p in ceiling],
            "x:",
            color="gray",
            label="bare Deno.serve ceiling p99",
        )
ax.set_xlabel("offered load (requests/s, open loop)")
ax.set_ylabel("latency (ms)")
ax.set_title("Clipper query latency against offered load")
ax.set_yscale("log")
ax.grid(True, alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(sys.argv[1])
