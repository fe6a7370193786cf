"""The colcon install of this checkout (scripts/setup.sh) has the layout a robot
relies on: `source install/setup.bash` registers the package in the ament index
and makes the executable, launch files, config, models and message bindings
findable.

Files are checked against CMake's install_manifest.txt of the last install too,
so a removed install rule fails here even while an older copy of the file still
lies in install/ (colcon never deletes installed files).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = "lowres_fer"
INSTALL = Path(os.environ.get("LOWRES_FER_INSTALL", ROOT / "install"))
PREFIX = INSTALL / PKG
SHARE = PREFIX / "share" / PKG
BUILD_MANIFEST = ROOT / "build" / PKG / "install_manifest.txt"


@pytest.fixture(scope="module")
def installed() -> set[Path]:
    """Files the last `cmake --install` of colcon's build installed."""
    assert (INSTALL / "setup.bash").is_file(), f"{INSTALL}/setup.bash missing: run scripts/setup.sh"
    assert BUILD_MANIFEST.is_file(), f"{BUILD_MANIFEST} missing: run scripts/setup.sh"
    return {Path(line) for line in BUILD_MANIFEST.read_text().split()}


def check_installed(installed, rel):
    path = PREFIX / rel
    assert path in installed, f"{rel}: no install rule installs it (not in {BUILD_MANIFEST.name})"
    assert path.is_file(), f"{path} missing"
    return path


def test_package_is_found_through_the_ament_index():
    """What `ros2 pkg prefix lowres_fer` answers, in this (env.sh) environment."""
    from ament_index_python.packages import (
        get_package_prefix,
        get_package_share_directory,
    )

    assert (PREFIX / "share/ament_index/resource_index/packages" / PKG).is_file()
    assert Path(get_package_prefix(PKG)) == PREFIX
    assert Path(get_package_share_directory(PKG)) == SHARE
    assert (SHARE / "package.xml").read_text() == (ROOT / "package.xml").read_text()
    interfaces = (PREFIX / "share/ament_index/resource_index/rosidl_interfaces" / PKG).read_text().split()
    assert {"msg/FaceEmotion.msg", "msg/FaceEmotionArray.msg"} <= set(interfaces)


@pytest.mark.parametrize("exe", ["lowres_fer_node", "lowres_fer_bag"])
def test_executables(installed, exe):
    """Both of what `ros2 run lowres_fer ...` offers: the node and the bag tool."""
    path = check_installed(installed, f"lib/lowres_fer/{exe}")
    assert os.access(path, os.X_OK)
    assert path.read_bytes()[:4] == b"\x7fELF"


def test_bag_tool_runs_from_the_install():
    """`ros2 run lowres_fer lowres_fer_bag --help`: the installed tool starts and
    answers (through the ament index, as ros2 run finds it)."""
    from ament_index_python.packages import get_package_prefix

    exe = Path(get_package_prefix(PKG)) / "lib" / PKG / "lowres_fer_bag"
    r = subprocess.run([str(exe), "--help"], check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "--params-file" in r.stdout + r.stderr


@pytest.mark.parametrize("subdir", ["launch", "config"])
def test_launch_and_config_files(installed, subdir):
    sources = sorted(p for p in (ROOT / subdir).iterdir() if p.is_file())
    assert sources
    for src in sources:
        dst = check_installed(installed, f"share/lowres_fer/{subdir}/{src.name}")
        assert dst.read_bytes() == src.read_bytes(), f"{dst} differs from {src}: run scripts/setup.sh"
    assert (SHARE / "launch/lowres_fer.launch.py").is_file() and (SHARE / "launch/lowres_fer.launch.xml").is_file()
    assert (SHARE / "config/default.yaml").is_file()


def test_models_and_manifest(installed):
    """Every model of the manifest, installed, with the manifest's sha256: the node
    (models_dir empty) loads exactly these."""
    src = json.loads((ROOT / "models/manifest.json").read_text())
    man_path = check_installed(installed, "share/lowres_fer/models/manifest.json")
    man = json.loads(man_path.read_text())
    assert man == src
    assert man["models"], "empty manifest"
    for name, entry in man["models"].items():
        path = check_installed(installed, f"share/lowres_fer/models/{name}")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], f"{path}: sha256 differs from the manifest"
    onnx = {p.name for p in (SHARE / "models").glob("*.onnx")}
    assert onnx == set(man["models"]), "installed .onnx files and the manifest disagree"


def test_message_bindings_import_from_the_install():
    import lowres_fer
    from lowres_fer.msg import FaceEmotion, FaceEmotionArray

    assert Path(lowres_fer.__file__).resolve().is_relative_to(PREFIX.resolve()), lowres_fer.__file__
    msg = FaceEmotionArray(faces=[FaceEmotion(top_label="happiness")])
    assert msg.faces[0].top_label == "happiness"
    assert len(FaceEmotion().probabilities) == 8


def strip(value: str) -> str:
    """A path list without this install's entries: the underlay alone."""
    return os.pathsep.join(p for p in value.split(os.pathsep) if p and not p.startswith(str(INSTALL)))


def test_setup_bash_alone_makes_the_package_usable():
    """From the underlay only (the wheels' venv, like /opt/ros/<distro>), sourcing
    install/setup.bash is all it takes: ament index, Python bindings, libraries."""
    env = dict(os.environ)
    for var in ("AMENT_PREFIX_PATH", "CMAKE_PREFIX_PATH", "PYTHONPATH", "LD_LIBRARY_PATH", "PATH"):
        env[var] = strip(env.get(var, ""))
    for var in ("COLCON_PREFIX_PATH", "COLCON_CURRENT_PREFIX"):
        env.pop(var, None)
    code = (
        "from ament_index_python.packages import get_package_prefix;"
        "from lowres_fer.msg import FaceEmotionArray;"
        "import lowres_fer;"
        "print(get_package_prefix('lowres_fer'));print(lowres_fer.__file__)"
    )
    before = subprocess.run(["python", "-c", code], env=env, capture_output=True, text=True, check=False)
    assert before.returncode != 0, "the package is importable without install/setup.bash: the check proves nothing"
    r = subprocess.run(
        ["bash", "-c", f'source "{INSTALL}/setup.bash" && python -c "{code}"'],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    prefix, module = r.stdout.split()
    assert Path(prefix) == PREFIX
    assert Path(module).resolve().is_relative_to(PREFIX.resolve())
