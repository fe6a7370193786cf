#!/usr/bin/env bash
# The one environment wrapper:  scripts/env.sh CMD [ARGS...]
# runs CMD with the ROS 2 wheels venv, this package's install/ prefix, ONNX
# Runtime and the loader settings the PyPI ROS wheels need. It can also be
# sourced (`source scripts/env.sh`) to export the same variables.
_lf_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_lf_cache="${LOWRES_FER_CACHE:-$HOME/.cache/lowres_fer}"
_lf_venv="$_lf_cache/ros"
_lf_install="${LOWRES_FER_INSTALL:-$_lf_root/install}"
_lf_pysite="$_lf_venv/lib/python3.11/site-packages"

export LOWRES_FER_ROOT="$_lf_root"
export VIRTUAL_ENV="$_lf_venv"
export PATH="$_lf_install/lib/lowres_fer:$_lf_venv/bin:$HOME/.cargo/bin:$PATH"
# r2r and rclpy find message packages through the ament index.
export AMENT_PREFIX_PATH="$_lf_install:$_lf_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$_lf_install:$_lf_venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
# Python bindings of our own messages (rclpy peers in tests/demo).
export PYTHONPATH="$_lf_install/lib/python3.11/site-packages${PYTHONPATH:+:$PYTHONPATH}"
# venv lib/ (rcl, rmw, Fast DDS), the wheels' bundled *.libs (tinyxml2, ...),
# and our interface libraries.
_lf_ld="$_lf_install/lib:$_lf_venv/lib"
for _d in "$_lf_pysite"/*.libs; do [ -d "$_d" ] && _lf_ld="$_lf_ld:$_d"; done
export LD_LIBRARY_PATH="$_lf_ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The wheels' librcl has NEEDED entries on *__rosidl_generator_py.so, which need
# libpython symbols: a non-Python process (the Rust node) must preload libpython.
_lf_pylib="$("$_lf_venv/bin/python" -c 'import sysconfig,os;print(os.path.join(sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY")))' 2>/dev/null || true)"
if [ -n "$_lf_pylib" ] && [ -e "$_lf_pylib" ]; then
  case ":${LD_PRELOAD:-}:" in *":$_lf_pylib:"*) ;; *) export LD_PRELOAD="$_lf_pylib${LD_PRELOAD:+:$LD_PRELOAD}" ;; esac
fi
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$_lf_pysite/onnxruntime/capi/libonnxruntime.so.1.31.1}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# Camera images are large (a 720p rgb8 frame is 2.7 MB) and the input QoS is
# best effort: with Fast DDS's default UDP transport a lost fragment loses the
# frame, and on loopback with default socket buffers most big frames are lost.
# LARGE_DATA (shared memory + TCP, Fast DDS >= 2.13) is the documented fix.
export FASTDDS_BUILTIN_TRANSPORTS="${FASTDDS_BUILTIN_TRANSPORTS:-LARGE_DATA}"
# r2r 0.9.7 does not know "kilted"; jazzy's API is what it binds (see CMakeLists.txt).
case "${ROS_DISTRO:-}" in humble|iron|jazzy|rolling) ;; *) export ROS_DISTRO=jazzy ;; esac
export IDL_PACKAGE_FILTER="${IDL_PACKAGE_FILTER:-lowres_fer;std_msgs;sensor_msgs;geometry_msgs;builtin_interfaces;diagnostic_msgs;rosgraph_msgs}"
# cargo commands with --features ros share the cmake build's target dir so the
# r2r bindings are generated once.
export LOWRES_FER_ROS_TARGET_DIR="$_lf_root/build/cargo"
unset _d _lf_ld _lf_pylib _lf_pysite

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  [ $# -gt 0 ] || { echo "usage: scripts/env.sh CMD [ARGS...]" >&2; exit 2; }
  exec "$@"
fi
