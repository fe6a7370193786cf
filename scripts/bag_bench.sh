#!/usr/bin/env bash
# Throughput of the offline bag tool on the Hamilton clip (275 frames, 640x360),
# ONNX Runtime on 1 thread unless TOOL OPTIONS say --threads N:
#   scripts/bag_bench.sh [--storage mcap|sqlite3] [TOOL OPTIONS...]
# Builds the input bag once (cached under $LOWRES_FER_CACHE/bag_bench), runs
# lowres_fer_bag over every frame with the default output (emotions + raw
# annotated images) and prints frames/s end to end (bag read + decode +
# pipeline + annotation + bag write) and of the pipeline alone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LOWRES_FER_CACHE:-$HOME/.cache/lowres_fer}"
STORAGE=mcap
if [ "${1:-}" = "--storage" ]; then STORAGE="$2"; shift 2; fi
cd "$ROOT"

"$ROOT/scripts/setup_bag_tests.sh"
BAG="$CACHE/bag_bench/hamilton_$STORAGE"
if [ ! -f "$BAG/metadata.yaml" ]; then
  mkdir -p "$(dirname "$BAG")"
  "$ROOT/scripts/env.sh" python tests/bag/bagtools.py hamilton "$BAG" --storage "$STORAGE"
fi
cargo build --release --bin lowres_fer_bag >&2
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
TOOL="${CARGO_TARGET_DIR:-$ROOT/target}/release/lowres_fer_bag"
THREADS=1
for ((i = 1; i <= $#; i++)); do [ "${!i}" = --threads ] && { j=$((i + 1)); THREADS="${!j}"; }; done
"$ROOT/scripts/env.sh" "$TOOL" "$BAG" -o "$WORK/eval" --threads 1 --quiet "$@"
python3 - "$WORK/eval/summary.json" "$STORAGE" "$THREADS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
t = s["timings_ms"]
print(f"bag_bench: {s['frames_processed']} frames {s['topic']} ({sys.argv[2]}, 640x360), {sys.argv[3]} thread(s)")
print(f"  end to end : {s['throughput_fps']:.1f} frames/s ({s['wall_s']:.2f} s)")
print(f"  pipeline   : {1000 / t['processing']['mean']:.1f} frames/s "
      f"(mean ms: decode {t['decode']['mean']:.2f}, detect {t['detect']['mean']:.2f}, "
      f"align {t['align']['mean']:.2f}, classify {t['classify']['mean']:.2f}, track {t['track']['mean']:.3f}; "
      f"p95 processing {t['processing']['p95']:.2f})")
print(f"  faces/frame: {s['faces_per_frame']['mean']:.2f}, tracks: {len(s['tracks'])}")
PY
