"""package.xml declares every dependency the package really has, under the right tags,
with keys rosdep can resolve.

What is used is read from the sources, not restated here: CMakeLists.txt
(find_package, the rosidl DEPENDENCIES, the r2r IDL_PACKAGE_FILTER list
LOWRES_FER_IDL_PACKAGES), the launch files' imports, and the ROS packages the
Python tests and scripts import. A removed or misspelt entry fails a test.
"""

from __future__ import annotations

import ast
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = "lowres_fer"

# Keys that are not ROS packages of the wheels' ament index here, each with why it
# is listed. System keys are rosdep keys of rosdistro's rosdep/base.yaml and
# python.yaml (no rosdep database is reachable here, so they are named explicitly).
KNOWN_KEYS = {
    "cargo": "system key: the node is built by cargo from CMakeLists.txt's install step",
    "libclang-dev": "system key: r2r generates its bindings with bindgen, which loads libclang",
    "python3-pytest": "system key (python.yaml): the Python tests",
    "python3-numpy": "system key (python.yaml): the Python tests build images with numpy",
    "python3-pil": "system key (python.yaml): the Python tests read scenes with Pillow",
    # ROS packages that exist in every ROS 2 distribution but are not on PyPI.
    "launch": "ROS package, not on PyPI: launch/lowres_fer.launch.{py,xml}",
    "launch_ros": "ROS package, not on PyPI: launch/lowres_fer.launch.{py,xml}",
}


def venv_packages() -> set[str]:
    """ROS packages registered in the ament index of the underlay (the wheels' venv)."""
    found = set()
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        index = Path(prefix) / "share/ament_index/resource_index/packages"
        if prefix and index.is_dir():
            found |= {p.name for p in index.iterdir()}
    assert {"rclpy", "std_msgs"} <= found, "no ROS 2 ament index on AMENT_PREFIX_PATH: run through scripts/env.sh"
    return found - {PKG}


def manifest() -> dict[str, set[str]]:
    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == PKG
    tags = {}
    for el in root:
        if el.tag.endswith("depend"):
            tags.setdefault(el.tag, set()).add(el.text.strip())
    return tags


def build_deps(t):
    return t.get("depend", set()) | t.get("build_depend", set()) | t.get("buildtool_depend", set())


def exec_deps(t):
    return t.get("depend", set()) | t.get("exec_depend", set())


def test_dependencies_are_resolvable_keys():
    known = venv_packages() | set(KNOWN_KEYS)
    t = manifest()
    keys = set().union(*t.values())
    assert not keys - known, f"package.xml keys that are neither ROS packages here nor known rosdep keys: {sorted(keys - known)}"


def cmake() -> str:
    return re.sub(r"#[^\n]*", "", (ROOT / "CMakeLists.txt").read_text())


def test_cmake_find_packages_are_build_dependencies():
    t = manifest()
    found = set(re.findall(r"find_package\((\w+)", cmake()))
    assert found, "CMakeLists.txt finds no package"
    for pkg in found:
        if pkg in {"ament_cmake", "rosidl_default_generators"}:
            # Build tools (REP 149 / the rosidl interface tutorial).
            assert pkg in t.get("buildtool_depend", set()), f"{pkg}: buildtool_depend"
        else:
            assert pkg in build_deps(t), f"find_package({pkg}) without a build dependency in package.xml"


def test_interfaces_dependencies_and_runtime():
    t = manifest()
    deps = re.search(r"rosidl_generate_interfaces\(.*?DEPENDENCIES([^)]*)\)", cmake(), re.DOTALL)
    assert deps, "no rosidl_generate_interfaces(... DEPENDENCIES ...)"
    for pkg in deps.group(1).split():
        # The messages embed these types: needed to build and to use them.
        assert pkg in build_deps(t) and pkg in exec_deps(t), f"{pkg}: use <depend>"
    assert "rosidl_default_runtime" in exec_deps(t)
    root = ET.parse(ROOT / "package.xml").getroot()
    assert "rosidl_interface_packages" in {g.text for g in root.findall("member_of_group")}


def test_r2r_binding_packages_are_build_and_exec_dependencies():
    """The node is built against (r2r bindings) and loads at run time (type support
    libraries) every package of LOWRES_FER_IDL_PACKAGES."""
    t = manifest()
    m = re.search(r'set\(LOWRES_FER_IDL_PACKAGES\s+"([^"]+)"', cmake())
    assert m, "LOWRES_FER_IDL_PACKAGES not found in CMakeLists.txt"
    pkgs = set(m.group(1).split(";")) - {PKG}
    assert pkgs
    # scripts/env.sh sets the same filter for the ros-feature cargo commands.
    env_sh = (ROOT / "scripts/env.sh").read_text()
    assert f"IDL_PACKAGE_FILTER:-{m.group(1)}" in env_sh, "scripts/env.sh and CMakeLists.txt disagree on IDL_PACKAGE_FILTER"
    for pkg in sorted(pkgs):
        assert pkg in build_deps(t) and pkg in exec_deps(t), f"{pkg} (r2r bindings): use <depend>"
    # r2r links rcl and rmw_implementation (r2r_rcl's build script).
    for pkg in ("rcl", "rmw_implementation"):
        assert pkg in build_deps(t) and pkg in exec_deps(t), f"{pkg} (linked by r2r): use <depend>"
    for key in ("cargo", "libclang-dev"):
        assert key in build_deps(t), f"{key}: {KNOWN_KEYS[key]}"


def imported_top_modules(paths) -> set[str]:
    mods = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                mods |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods.add(node.module.split(".")[0])
    return mods


def test_launch_file_imports_are_exec_dependencies():
    t = manifest()
    used = imported_top_modules([ROOT / "launch/lowres_fer.launch.py"]) - {"os"}
    assert {"launch", "launch_ros", "ament_index_python"} <= used
    missing = used - exec_deps(t)
    assert not missing, f"launch file imports without <exec_depend>: {sorted(missing)}"


def test_ros_packages_the_tests_import_are_test_dependencies():
    t = manifest()
    ros = venv_packages()
    files = sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "scripts").glob("*.py"))
    used = (imported_top_modules(files) & ros) - {PKG}
    assert {"rclpy", "sensor_msgs", "rosgraph_msgs"} <= used, used
    covered = t.get("test_depend", set()) | exec_deps(t) | build_deps(t)
    missing = used - covered
    assert not missing, f"ROS packages imported by tests/scripts but not in package.xml: {sorted(missing)}"


@pytest.mark.parametrize("key", ["python3-pytest", "python3-numpy", "python3-pil"])
def test_python_test_tools_are_test_dependencies(key):
    assert key in manifest().get("test_depend", set())
