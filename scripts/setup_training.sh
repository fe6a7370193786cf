#!/usr/bin/env bash
# Training set-up: a venv with training/requirements.txt (PyTorch, ONNX, ONNX Runtime)
# at $LOWRES_FER_CACHE/train. Idempotent: re-installs only when the requirements
# change. The PyPI torch wheel pulls CUDA libraries (~5 GB, ~2 min the first time);
# it trains on CPU when no GPU is present.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LOWRES_FER_CACHE:-$HOME/.cache/lowres_fer}"
VENV="$CACHE/train"
PY="${PYTHON:-python3}"
REQ="$ROOT/training/requirements.txt"
STAMP="$VENV/.lowres_fer_reqs_$(sha256sum "$REQ" | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  [ -x "$VENV/bin/python" ] || { echo "setup_training: creating venv $VENV" >&2; "$PY" -m venv "$VENV"; }
  echo "setup_training: pip install -r training/requirements.txt (minutes the first time)" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ" pytest
  touch "$STAMP"
fi
