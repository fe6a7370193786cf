#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, through the libfuzzer-sys crate) of every
# parser of outside data: the targets of fuzz/src/lib.rs (fuzz/fuzz_targets/).
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS_PER_TARGET] [extra libFuzzer flags...]
#   scripts/fuzz.sh all 10            # the short run scripts/test.sh does
#   scripts/fuzz.sh mcap 3600 -jobs=2 # a long run of one target
#
# Same flags as `cargo fuzz run --sanitizer none` (cargo-fuzz itself is not
# needed): sanitizer coverage needs a nightly toolchain (LOWRES_FER_FUZZ_TOOLCHAIN,
# default nightly). Corpora grow in fuzz/corpus/<target> (seeded from
# fuzz/seeds/<target>, real frames and bags), crashes land in
# fuzz/artifacts/<target>. Bounds per input: 10 s (-timeout), 512 MB per
# allocation (-malloc_limit_mb), 1 GB RSS (-rss_limit_mb). Prints one line per
# target: executions, exec/s, coverage, peak RSS; exits 1 on any finding.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/fuzz"
export PATH="$HOME/.cargo/bin:$PATH"
ALL=(raw_image compressed_image cdr mcap sqlite manifest params_file)
what="${1:-all}"; secs="${2:-60}"; shift $(( $# > 2 ? 2 : $# ))
if [ "$what" = all ]; then targets=("${ALL[@]}"); else targets=("$what"); fi
TC="${LOWRES_FER_FUZZ_TOOLCHAIN:-nightly}"
cargo +"$TC" --version >/dev/null 2>&1 || {
  echo "fuzz: ERROR: toolchain '$TC' missing (rustup toolchain install nightly); the deterministic smoke is 'cargo test -p lowres_fer_fuzz'" >&2
  exit 1
}
HOST="$(rustc +"$TC" -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
echo "fuzz: building ${#targets[@]} target(s) with $(cargo +"$TC" --version)" >&2
# Its own target dir: the sanitizer flags would otherwise rebuild the workspace's
# normal builds. Profile `fuzz` (Cargo.toml): release with line tables.
export CARGO_TARGET_DIR="$ROOT/fuzz/target"
cargo +"$TC" build --quiet --profile fuzz --target "$HOST" --features libfuzzer "${targets[@]/#/--bin=}"
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  cp -n "seeds/$t/"* "corpus/$t/" 2>/dev/null || true
  log="artifacts/$t/last_run.log"
  if ! "target/$HOST/fuzz/$t" "corpus/$t" -artifact_prefix="artifacts/$t/" \
      -max_total_time="$secs" -timeout=10 -malloc_limit_mb=512 -rss_limit_mb=1024 \
      -print_final_stats=1 "$@" >"$log" 2>&1; then
    status=1
    echo "fuzz: $t: FINDING (see $log and artifacts/$t/)" >&2
    grep -E "ERROR|panicked|SUMMARY" "$log" | head -5 >&2 || true
  fi
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)"
  cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)"
  took="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)"
  echo "fuzz: $t: ${execs:-?} runs in ${took:-$secs} s (${rate:-?}/s), ${cov:-no coverage line}, peak RSS ${rss:-?} MB, corpus $(ls "corpus/$t" | wc -l) files"
done
exit $status
