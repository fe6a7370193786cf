#!/usr/bin/env bash
# The one environment wrapper:  scripts/env.sh CMD [ARGS...]
# runs CMD the way a robot runs the package: the ROS 2 wheels venv as the
# underlay (what /opt/ros/<distro>/setup.bash is on a robot), then the colcon
# workspace's `install/setup.bash` as the overlay, plus ONNX Runtime and the
# loader settings the PyPI ROS wheels need. It can also be sourced
# (`source scripts/env.sh`) to export the same variables.
_lf_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_lf_cache="${LOWRES_FER_CACHE:-$HOME/.cache/lowres_fer}"
_lf_venv="$_lf_cache/ros"
# colcon install base (install/setup.bash) and this package's prefix in it.
_lf_install="${LOWRES_FER_INSTALL:-$_lf_root/install}"
_lf_prefix="$_lf_install/lowres_fer"
_lf_pysite="$_lf_venv/lib/python3.11/site-packages"

export LOWRES_FER_ROOT="$_lf_root"
export VIRTUAL_ENV="$_lf_venv"
# `lowres_fer_node` on PATH (what `ros2 run lowres_fer lowres_fer_node` finds).
export PATH="$_lf_prefix/lib/lowres_fer:$_lf_venv/bin:$HOME/.cargo/bin:$PATH"
# VAR DIR: put DIR first on the path list VAR, once (sourcing this file twice,
# or from a shell that already did, gives the same values).
_lf_first() {
  local _v _out="$2" _IFS_old="$IFS"
  IFS=:
  for _v in ${!1:-}; do [ -n "$_v" ] && [ "$_v" != "$2" ] && _out="$_out:$_v"; done
  IFS="$_IFS_old"
  export "$1=$_out"
}
# Underlay: r2r and rclpy find the wheels' message packages through the ament index.
_lf_first AMENT_PREFIX_PATH "$_lf_venv"
_lf_first CMAKE_PREFIX_PATH "$_lf_venv"
# venv lib/ (rcl, rmw, Fast DDS) and the wheels' bundled *.libs (tinyxml2, ...).
_lf_ld="$_lf_venv/lib"
for _d in "$_lf_pysite"/*.libs; do [ -d "$_d" ] && _lf_ld="$_lf_ld:$_d"; done
export LD_LIBRARY_PATH="$_lf_ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Overlay: the colcon install (our messages' ament index entry, C libraries and
# Python bindings, the node, share/lowres_fer/{launch,config,models}). Absent
# only before the first scripts/setup.sh. colcon's scripts are not `set -u` clean.
if [ -f "$_lf_install/setup.bash" ]; then
  case $- in *u*) _lf_u=1; set +u ;; *) _lf_u=0 ;; esac
  # shellcheck source=/dev/null
  source "$_lf_install/setup.bash"
  [ "$_lf_u" = 1 ] && set -u
fi
# Keep our prefix first on the paths r2r hashes (its build script regenerates
# every binding when AMENT_PREFIX_PATH/CMAKE_PREFIX_PATH change): the same rule
# as the install step of CMakeLists.txt, so colcon builds and the node-building
# cargo commands see identical values, before and after the first build.
_lf_first AMENT_PREFIX_PATH "$_lf_prefix"
_lf_first CMAKE_PREFIX_PATH "$_lf_prefix"
# The wheels' librcl has NEEDED entries on *__rosidl_generator_py.so, which need
# libpython symbols: a non-Python process (the Rust node) must preload libpython.
_lf_pylib="$("$_lf_venv/bin/python" -c 'import sysconfig,os;print(os.path.join(sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY")))' 2>/dev/null || true)"
if [ -n "$_lf_pylib" ] && [ -e "$_lf_pylib" ]; then
  case ":${LD_PRELOAD:-}:" in *":$_lf_pylib:"*) ;; *) export LD_PRELOAD="$_lf_pylib${LD_PRELOAD:+:$LD_PRELOAD}" ;; esac
fi
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$_lf_pysite/onnxruntime/capi/libonnxruntime.so.1.31.1}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# Camera images are large (VGA rgb8 0.9 MB, 720p 2.7 MB) and the input QoS is
# best effort. Fast DDS's built-in shared memory has 512 KB segments, so bigger
# samples go over UDP loopback in fragments and one lost fragment loses the
# frame (0-10 % of VGA frames arrived at 15-30 Hz here, also with
# FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA). The shipped profile's 16 MB segments
# deliver them (docs/realtime.md). Unless the caller chose a profile already.
if [ -z "${FASTDDS_DEFAULT_PROFILES_FILE:-}" ] && [ -z "${FASTRTPS_DEFAULT_PROFILES_FILE:-}" ]; then
  export FASTDDS_DEFAULT_PROFILES_FILE="$_lf_root/config/fastdds_large_frames.xml"
fi
# r2r 0.9.7 does not know "kilted"; jazzy's API is what it binds (see CMakeLists.txt).
case "${ROS_DISTRO:-}" in humble|iron|jazzy|rolling) ;; *) export ROS_DISTRO=jazzy ;; esac
export IDL_PACKAGE_FILTER="${IDL_PACKAGE_FILTER:-lowres_fer;hri_msgs;vision_msgs;std_msgs;sensor_msgs;geometry_msgs;builtin_interfaces;diagnostic_msgs;rosgraph_msgs;lifecycle_msgs}"
# cargo commands that build the node share the cmake build's target dir so the
# r2r bindings are generated once.
export LOWRES_FER_ROS_TARGET_DIR="${LOWRES_FER_CARGO_TARGET_DIR:-$_lf_root/build/cargo}"
unset _d _lf_ld _lf_pylib _lf_pysite _lf_u _lf_prefix
unset -f _lf_first

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  [ $# -gt 0 ] || { echo "usage: scripts/env.sh CMD [ARGS...]" >&2; exit 2; }
  exec "$@"
fi
