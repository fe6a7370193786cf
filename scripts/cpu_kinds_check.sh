#!/usr/bin/env bash
# The committed classifier's INT8 and FP16 variants, checked on the CPU kinds a robot runs
# that this machine is not: an x86 CPU without AVX-512/VNNI (AMD EPYC Milan, emulated by
# qemu-x86_64) and aarch64 (a Jetson Orin's Cortex-A78AE class: Neoverse-N1, with dot-product
# instructions, emulated by qemu-aarch64 with the aarch64 ONNX Runtime wheel from PyPI;
# LOWRES_FER_AARCH64_CPUS="neoverse-n1 cortex-a57" adds the older Cortex-A57 without them).
# The same bound as crates/lowres_fer_lab/tests/ferplus_floor.rs on this CPU: INT8 at most 1.5 points, FP16 0.3
# points under FP32 on FER+ Test at 20 px (majority rule).
#
#   scripts/cpu_kinds_check.sh            # all kinds
#   scripts/cpu_kinds_check.sh x86 | aarch64
#
# The aarch64 step also cross-compiles the core (rustup's aarch64-unknown-linux-gnu target, Debian's
# gcc-aarch64-linux-gnu as the linker) and runs its unit tests under qemu-aarch64.
#
# Needs the training venv (scripts/setup_training.sh) for the one-off face preparation;
# installs qemu-user and debootstrap (apt, as root) and caches an arm64 Debian userland
# (packages unpacked, not configured: Python and its libraries are all it runs) and the
# aarch64 wheels in $LOWRES_FER_CACHE/aarch64.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE="${LOWRES_FER_CACHE:-$HOME/.cache/lowres_fer}"
TRAIN_PY="$CACHE/train/bin/python"
ARM="$CACHE/aarch64"
ORT_VERSION=1.31.1
DATA="${LOWRES_FER_SHARED:-$ROOT/../shared}/data/ferplus.tar.gz"
KINDS="${1:-all}"
log() { echo "cpu_kinds_check: $*" >&2; }

need=()
command -v qemu-x86_64 >/dev/null || need+=(qemu-user)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -x "$TRAIN_PY" ] || scripts/setup_training.sh

# The classifier and its variants, from the manifest (as the node picks them).
read -r MODEL INT8 FP16 < <("$TRAIN_PY" - <<'EOF'
import json
m = json.load(open("models/manifest.json"))["models"]
(base,) = [k for k, v in m.items() if v.get("role") == "classifier"]
var = {v["precision"]: k for k, v in m.items() if v.get("variant_of") == base}
print(base, var["int8"], var["fp16"])
EOF
)
FACES="$CACHE/precision_check/test20.npz"
if [ ! -f "$FACES" ]; then
  mkdir -p "$(dirname "$FACES")"
  (cd training && "$TRAIN_PY" precision_check.py prepare --data "$DATA" --out "$FACES.tmp.npz")
  mv "$FACES.tmp.npz" "$FACES"
fi

check() { # label, then the command that runs Python on that CPU kind
  local label=$1; shift
  log "$label: $MODEL vs $INT8 (max loss 0.015) and $FP16 (0.003)"
  (cd training && "$@" precision_check.py evaluate "$FACES" ../models "$MODEL" "$INT8" "$FP16" \
    --max-loss 0.015,0.003) | sed -u "s|^|$label: |"
}

x86() {
  # The CPU kind of issue 25's failure: AVX2 without AVX-512 or VNNI. qemu warns once per
  # thread about host features its emulator lacks (irrelevant to the kernels chosen).
  check "x86_64 EPYC-Milan (no AVX-512/VNNI)" qemu-x86_64 -cpu EPYC-Milan "$TRAIN_PY" 2> >(grep --line-buffered -v "TCG doesn't support" >&2)
}

arm_userland() {
  local root="$ARM/root" stamp="$ARM/.ready_$ORT_VERSION"
  [ -f "$stamp" ] && return
  rm -rf "$ARM"
  mkdir -p "$ARM/wheels" "$ARM/site" "$root"
  log "arm64 Debian userland (debootstrap --foreign, unpacked) in $root"
  debootstrap --foreign --arch=arm64 --variant=minbase --include=python3,libpython3.11 \
    bookworm "$root" http://deb.debian.org/debian >/dev/null
  for deb in "$root"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$root"; done
  # qemu-user shows the host's /proc/cpuinfo and /sys CPU tree, which ONNX Runtime's cpuinfo
  # library cannot parse as aarch64 (it crashes at import). With -L, qemu reads these files
  # under the userland root first: describe two Neoverse-N1 cores.
  mkdir -p "$root/proc" "$root/sys/devices/system/cpu"
  for cpu in 0 1; do
    printf 'processor\t: %s\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n' "$cpu"
  done > "$root/proc/cpuinfo"
  for f in possible present online; do echo 0-1 > "$root/sys/devices/system/cpu/$f"; done
  log "aarch64 wheels: onnxruntime==$ORT_VERSION, numpy"
  "$TRAIN_PY" -m pip download -q --disable-pip-version-check --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_aarch64 --platform manylinux_2_27_aarch64 --platform manylinux2014_aarch64 \
    -d "$ARM/wheels" "onnxruntime==$ORT_VERSION" numpy
  for w in "$ARM/wheels"/*.whl; do "$TRAIN_PY" -m zipfile -e "$w" "$ARM/site"; done
  touch "$stamp"
}

aarch64_core_tests() { # the core's unit tests, cross-compiled for a Jetson's CPU, run by qemu
  local root=$1 cpu=$2
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
  log "aarch64 $cpu: the core's unit tests (cargo test --lib --target aarch64-unknown-linux-gnu, under qemu)"
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -cpu $cpu -L $root" \
  ORT_DYLIB_PATH="$ARM/site/onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" \
  CARGO_TARGET_DIR="${LOWRES_FER_AARCH64_TARGET_DIR:-$ROOT/target/aarch64-cross}" \
    cargo test --quiet --release --target aarch64-unknown-linux-gnu -p lowres_fer -p lowres_fer_lab --lib
}

aarch64() {
  arm_userland
  local root="$ARM/root" cpu
  for cpu in ${LOWRES_FER_AARCH64_CPUS:-neoverse-n1}; do
    check "aarch64 $cpu" env PYTHONPATH="$ARM/site" qemu-aarch64 -cpu "$cpu" -L "$root" "$root/usr/bin/python3.11"
  done
  aarch64_core_tests "$root" neoverse-n1
}

case "$KINDS" in
  all) x86 & x86_pid=$!; aarch64; wait "$x86_pid" ;;
  x86) x86 ;;
  aarch64) aarch64 ;;
  aarch64-core) arm_userland; aarch64_core_tests "$ARM/root" neoverse-n1 ;;
  *) echo "usage: $0 [all|x86|aarch64|aarch64-core]" >&2; exit 2 ;;
esac
log "every CPU kind within bounds"
