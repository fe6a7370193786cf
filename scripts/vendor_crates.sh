#!/usr/bin/env bash
# Every crate the build needs, in one directory, for a robot image or build farm
# without network:  scripts/vendor_crates.sh [DIR]
# (default $LOWRES_FER_CACHE/vendor). Run it where crates.io is reachable, copy DIR
# with the checkout, then build offline with the written cargo configuration:
#   CARGO_HOME=DIR/cargo-home CARGO_NET_OFFLINE=true colcon build ...
# (or append DIR/cargo-home/config.toml to ~/.cargo/config.toml). Cargo.lock pins
# every version and its checksum; `cargo vendor --locked` refuses to change it.
# Idempotent: a DIR already vendored for this Cargo.lock is kept.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-${LOWRES_FER_CACHE:-$HOME/.cache/lowres_fer}/vendor}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
lock_hash="$(sha256sum "$ROOT/Cargo.lock" | cut -c1-16)"
stamp="$DIR/.vendored_$lock_hash"
if [ -f "$stamp" ] && [ -f "$DIR/cargo-home/config.toml" ]; then
  echo "vendor_crates: $DIR is up to date for Cargo.lock ($lock_hash)" >&2
  exit 0
fi
rm -f "$DIR"/.vendored_*
mkdir -p "$DIR/cargo-home"
# cargo vendor prints the source-replacement configuration that uses DIR/crates.
if ! (cd "$ROOT" && cargo vendor --locked --versioned-dirs "$DIR/crates") \
    > "$DIR/cargo-home/config.toml" 2> "$DIR/vendor.log"; then
  tail -20 "$DIR/vendor.log" >&2
  echo "vendor_crates: cargo vendor failed (log: $DIR/vendor.log)" >&2
  exit 1
fi
grep -q 'vendored-sources' "$DIR/cargo-home/config.toml"
touch "$stamp"
echo "vendor_crates: $(ls "$DIR/crates" | wc -l) crates in $DIR/crates; offline build: CARGO_HOME=$DIR/cargo-home CARGO_NET_OFFLINE=true" >&2
