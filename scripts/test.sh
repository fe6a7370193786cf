#!/usr/bin/env bash
# The project's test command (README, .ci/run): set-up (idempotent), the core's
# unit and integration tests (detector, classifier floor on FER+, routing, the
# fuzz smoke), a short coverage-guided fuzz run, the real-graph tests of the
# node, the rosbag tools, the training smoke test, and the precision variants on the
# other CPU kinds (x86 without AVX-512/VNNI, aarch64) under emulation.
# Fails loudly on anything missing; nothing is skipped.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

echo "== setup" >&2
scripts/setup.sh

echo "== cargo test (core, bag tool, lab, fuzz smoke: every crate but the node; no ROS)" >&2
# Through env.sh: the detector/classifier integration tests need ORT_DYLIB_PATH.
scripts/env.sh cargo test --quiet

# cargo test above ran the deterministic fuzz smoke (fuzz/tests/fuzz_smoke.rs); this
# is the short coverage-guided run of every target (libFuzzer; needs nightly).
echo "== fuzz: 10 s of libFuzzer per target (scripts/fuzz.sh)" >&2
scripts/fuzz.sh all 10

echo "== cargo test -p lowres_fer_node (parameter/diagnostics logic of the node)" >&2
scripts/env.sh bash -c 'CARGO_TARGET_DIR="$LOWRES_FER_ROS_TARGET_DIR" cargo test --quiet --release -p lowres_fer_node'

echo "== pytest tests/launch (launch files vs README, install rules; no launch_ros needed)" >&2
scripts/env.sh python -m pytest -q -p no:cacheprovider tests/launch

echo "== pytest tests/install (the colcon install: layout, setup.bash, package.xml deps)" >&2
scripts/env.sh python -m pytest -q -p no:cacheprovider tests/install

echo "== pytest tests/ros_graph (real ROS 2 graph)" >&2
scripts/env.sh python -m pytest -q -p no:cacheprovider tests/ros_graph "$@"

# Separate pytest processes: both suites call rclpy.init().
echo "== pytest tests/bag (offline rosbag2 tool, live sim-time replay)" >&2
scripts/setup_bag_tests.sh
scripts/env.sh python -m pytest -q -p no:cacheprovider tests/bag

echo "== pytest tests/training (train one epoch, resume, export; needs the training venv)" >&2
scripts/setup_training.sh
"${LOWRES_FER_CACHE:-$HOME/.cache/lowres_fer}/train/bin/python" -m pytest -q -p no:cacheprovider tests/training

# The INT8/FP16 variants on the CPU kinds this machine is not (x86 without AVX-512/VNNI,
# aarch64), under qemu-user: the bound crates/lowres_fer_lab/tests/ferplus_floor.rs holds on this CPU.
echo "== CPU kinds: precision variants under qemu (scripts/cpu_kinds_check.sh)" >&2
scripts/cpu_kinds_check.sh
