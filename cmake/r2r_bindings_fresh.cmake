# Forget r2r's generated message bindings when an interface definition changed.
#
# r2r 0.9.7's build scripts (r2r_msg_gen, r2r) cache their bindings under a hash
# of five environment variables only (AMENT_PREFIX_PATH, CMAKE_PREFIX_PATH,
# CMAKE_IDL_PACKAGES, IDL_PACKAGE_FILTER, ROS_DISTRO). A changed .msg of a
# package already built into them (this package's own, or the hri_msgs
# stand-in) leaves the environment unchanged, so cargo would keep the old
# bindings and the node would not compile against the new fields. This hashes
# every definition r2r reads (the packages of the filter, on AMENT_PREFIX_PATH)
# and, when the hash differs from the one of the last build, removes the build
# script outputs and fingerprints of those two crates so cargo regenerates them.
#
# Inputs (set by the install step that includes this file):
#   _lowres_fer_idl_packages  the IDL_PACKAGE_FILTER (a ;-list)
#   _lowres_fer_target_dir    the CARGO_TARGET_DIR of the node build
set(_defs "")
string(REPLACE ":" ";" _prefixes "$ENV{AMENT_PREFIX_PATH}")
foreach(_p IN LISTS _prefixes)
  foreach(_pkg IN LISTS _lowres_fer_idl_packages)
    file(GLOB _found "${_p}/share/${_pkg}/msg/*.msg" "${_p}/share/${_pkg}/srv/*.srv"
      "${_p}/share/${_pkg}/action/*.action")
    list(APPEND _defs ${_found})
  endforeach()
endforeach()
list(SORT _defs)
set(_all "")
foreach(_f IN LISTS _defs)
  file(SHA256 "${_f}" _h)
  string(APPEND _all "${_f} ${_h}\n")
endforeach()
string(SHA256 _hash "${_all}")
set(_stamp "${_lowres_fer_target_dir}/lowres_fer_interfaces.sha256")
set(_old "")
if(EXISTS "${_stamp}")
  file(READ "${_stamp}" _old)
endif()
if(NOT _old STREQUAL _hash)
  file(GLOB _stale LIST_DIRECTORIES true
    "${_lowres_fer_target_dir}/*/build/r2r_msg_gen-*" "${_lowres_fer_target_dir}/*/build/r2r-*"
    "${_lowres_fer_target_dir}/*/.fingerprint/r2r_msg_gen-*" "${_lowres_fer_target_dir}/*/.fingerprint/r2r-*")
  if(_stale)
    message(STATUS "interface definitions changed since the last build: regenerating r2r's bindings")
    file(REMOVE_RECURSE ${_stale})
  endif()
  file(MAKE_DIRECTORY "${_lowres_fer_target_dir}")
  file(WRITE "${_stamp}" "${_hash}")
endif()
