#!/usr/bin/env bash
# Live latency benchmark (issue 12; not a CI test, ~6 min with the defaults): the
# colcon-installed node in a real graph, an rclpy peer publishing VGA frames with
# 0/1/5/10 real faces at 15 and 30 Hz, reliable and best effort. Prints delivery,
# end-to-end and node-internal latency percentiles, stage times and CPU use per
# case; writes log/latency_bench.json. See docs/realtime.md.
#   scripts/latency_bench.sh [--seconds S] [--faces 0,1,5,10] [--rates 15,30]
#                            [--qos reliable|best_effort|both] [-- NODE ROS ARGS...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
cargo build --quiet --release --bin frame_bench
FRAMES="$ROOT/log/latency_bench_frames"
# The same frames the offline benchmark times (frame_bench), 10 frames per case: just to write them.
scripts/env.sh "${CARGO_TARGET_DIR:-$ROOT/target}/release/frame_bench" --frames 10 --write-frames "$FRAMES" >/dev/null
exec scripts/env.sh python scripts/latency_bench.py --frames-dir "$FRAMES" "$@"
