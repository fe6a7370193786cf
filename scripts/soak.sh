#!/usr/bin/env bash
# Soak test (issue 11; not a CI test, runs ~25 min with the defaults): the node
# at 60 Hz VGA with ~10 faces for 10 min with reliable and 10 min with
# best-effort input, then lowres_fer_bag over a synthetic 1-hour bag. Prints
# RSS every 10 s, latency percentiles per minute and the counters; writes
# log/soak_report.json; exits 1 when memory grew past the bound or a process died.
#   scripts/soak.sh [--duration S] [--qos reliable|best_effort|both] [--no-bag] ...
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
scripts/setup_bag_tests.sh
scripts/env.sh cargo build --quiet --release --bin lowres_fer_bag
exec scripts/env.sh python scripts/soak.py "$@"
