#!/usr/bin/env bash
# Bounded memory of the offline bag tool over a long recording (issue 11; not a
# CI test): builds a synthetic bag once (default 1 hour of stamps at 15 Hz,
# 640x360 JPEG frames of the Hamilton clip, cycled; ~1.5 GB under
# $LOWRES_FER_CACHE/bag_memory), runs lowres_fer_bag over it and prints the
# peak RSS and the RSS at 10/50/90 % of the frames. The figures are in
# docs/reliability.md.
#   scripts/bag_memory.sh [--duration-s S] [--rate HZ] [-- TOOL OPTIONS...]
# Default tool options: --annotated jpeg --report (every per-frame path that
# keeps state: annotation, the CSVs, summary statistics, the HTML report).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/setup_bag_tests.sh"
# LOWRES_FER_BAG_TOOL: measure that binary instead of building one.
TOOL="${LOWRES_FER_BAG_TOOL:-}"
if [ -z "$TOOL" ]; then
  cargo build --release --bin lowres_fer_bag >&2
  TOOL="${CARGO_TARGET_DIR:-$ROOT/target}/release/lowres_fer_bag"
fi
ARGS=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do ARGS+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
TOOL_ARGS=("$@")
[ ${#TOOL_ARGS[@]} -gt 0 ] || TOOL_ARGS=(--annotated jpeg --report)
exec "$ROOT/scripts/env.sh" python scripts/bag_memory.py "$TOOL" "$ROOT/models" \
  "${ARGS[@]}" -- "${TOOL_ARGS[@]}"
