#!/usr/bin/env bash
# Extra set-up for the rosbag tests (tests/bag) and scripts/bag_bench.sh, on top
# of scripts/setup.sh: ffmpeg (decodes the Hamilton clip into bag frames),
# Chromium (renders the --report page headless: tests/bag/test_report.py), the
# pure-Python `rosbags` in the ROS venv (builds the input bags and reads the
# output bags: an implementation independent of ours) and Foxglove's `mcap` +
# `mcap-ros2-support` (the decoder Foxglove itself uses). Idempotent: each step
# checks for its artefact first, so a warm run takes well under a second.
set -euo pipefail
CACHE="${LOWRES_FER_CACHE:-$HOME/.cache/lowres_fer}"
VENV="$CACHE/ros"
log() { echo "setup_bag_tests: $*" >&2; }
die() { echo "setup_bag_tests: ERROR: $*" >&2; exit 1; }

if ! command -v ffmpeg >/dev/null; then
  [ "$(id -u)" = 0 ] || die "ffmpeg missing (run as root, or: sudo apt-get install -y ffmpeg)"
  log "apt-get install ffmpeg"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
fi

if ! command -v chromium >/dev/null; then
  [ "$(id -u)" = 0 ] || die "chromium missing (run as root, or: sudo apt-get install -y chromium)"
  log "apt-get install chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

[ -x "$VENV/bin/python" ] || die "$VENV missing: run scripts/setup.sh first"
# rosbags >= 0.10 has the Writer API with both storage plugins the tests use.
if ! "$VENV/bin/python" -c 'import rosbags.rosbag2, rosbags.highlevel; from rosbags.rosbag2 import StoragePlugin; StoragePlugin.MCAP' 2>/dev/null; then
  log "pip install rosbags into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "rosbags>=0.10,<0.12"
fi
# Foxglove's own MCAP reader and ros2msg decoder (what Foxglove does in the
# browser): the output bag must decode with it too.
if ! "$VENV/bin/python" -c 'import mcap.reader, mcap_ros2.decoder' 2>/dev/null; then
  log "pip install mcap-ros2-support into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "mcap>=1.1,<2" "mcap-ros2-support>=0.5,<0.7"
fi
