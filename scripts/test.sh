#!/usr/bin/env bash
# The project's test command (README, .ci/run): set-up (idempotent), the core's
# unit tests, then the real-graph tests of the node. Fails loudly on anything
# missing; nothing is skipped.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

echo "== setup" >&2
scripts/setup.sh

echo "== cargo test (core, no ROS)" >&2
# Through env.sh: the detector/classifier integration tests need ORT_DYLIB_PATH.
scripts/env.sh cargo test --quiet

echo "== cargo test --features ros (parameter/diagnostics logic)" >&2
scripts/env.sh bash -c 'CARGO_TARGET_DIR="$LOWRES_FER_ROS_TARGET_DIR" cargo test --quiet --release --features ros --lib ros::'

echo "== pytest tests/ros_graph (real ROS 2 graph)" >&2
scripts/env.sh python -m pytest -q -p no:cacheprovider tests/ros_graph "$@"
