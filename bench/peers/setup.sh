#!/usr/bin/env bash
# Creates the bench-only environments of the peers scenario, once: Ray Serve and BentoML in
# bench/.venv-peers, MLServer (whose pins clash with theirs) in bench/.venv-mlserver.
set -euo pipefail
bench="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -x "$bench/.venv-peers/bin/bentoml" ]; then
  python3 -m venv "$bench/.venv-peers"
  "$bench/.venv-peers/bin/python" -m pip install --quiet --upgrade pip
  "$bench/.venv-peers/bin/python" -m pip install --quiet "ray[serve]" bentoml scikit-learn
fi
if [ ! -x "$bench/.venv-mlserver/bin/mlserver" ]; then
  python3 -m venv "$bench/.venv-mlserver"
  "$bench/.venv-mlserver/bin/python" -m pip install --quiet --upgrade pip
  "$bench/.venv-mlserver/bin/python" -m pip install --quiet mlserver mlserver-sklearn
fi
