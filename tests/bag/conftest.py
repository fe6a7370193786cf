"""Fixtures for the rosbag tests: the offline tool (built by cargo), test bags
built with the independent `rosbags` library from the shared scenes.

Run through the environment wrapper (it sets ORT_DYLIB_PATH and the ROS paths):
    scripts/setup_bag_tests.sh && scripts/env.sh python -m pytest tests/bag
Missing pieces (ffmpeg, scenes, ONNX Runtime, models) are errors, never skips.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bagtools

ROOT = bagtools.ROOT
MODELS = Path(os.environ.get("LOWRES_FER_MODELS", ROOT / "models"))
N_FRAMES = 40


@pytest.fixture(scope="session")
def tool():
    """Path of a release build of lowres_fer_bag (incremental cargo build)."""
    override = os.environ.get("LOWRES_FER_BAG_TOOL")
    if override:
        return Path(override)
    env = dict(os.environ)
    # The tool is ROS-free: its crate and the core only.
    r = subprocess.run(
        ["cargo", "build", "--release", "-p", "lowres_fer_bag"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, f"cargo build failed:\n{r.stderr[-4000:]}"
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = target / "release" / "lowres_fer_bag"
    assert path.is_file(), path
    return path


@pytest.fixture(scope="session")
def run_tool(tool):
    ort = os.environ.get("ORT_DYLIB_PATH", "")
    if not ort or not Path(ort).is_file():
        raise RuntimeError(
            f"ORT_DYLIB_PATH={ort!r} is not a file: run the tests through scripts/env.sh"
        )
    if not (MODELS / "manifest.json").is_file():
        raise FileNotFoundError(f"{MODELS}/manifest.json missing: run scripts/setup.sh")

    def run(*args, models=True, check=None):
        cmd = [str(tool), *map(str, args), "--quiet"]
        if models:
            cmd += ["--models-dir", str(MODELS)]
        r = subprocess.run(
            cmd, check=False, capture_output=True, text=True, timeout=600
        )
        if check is True:
            assert r.returncode == 0, f"{cmd} failed ({r.returncode}):\n{r.stderr}"
        return r

    return run


@pytest.fixture(scope="session")
def hamilton():
    return bagtools.hamilton_frames(N_FRAMES)


@pytest.fixture(scope="session")
def bags(tmp_path_factory, hamilton):
    """Hamilton frames as rosbag2 directories: {name: (path, header stamps)}."""
    d = tmp_path_factory.mktemp("bags")
    out = {}
    for name, storage, fmt, extra in [
        ("mcap_raw", "mcap", "raw", None),
        ("sqlite3_raw", "sqlite3", "raw", None),
        ("mcap_jpeg", "mcap", "jpeg", "/chatter"),
        ("sqlite3_jpeg", "sqlite3", "jpeg", "/chatter"),
    ]:
        path = d / name
        stamps = bagtools.write_bag(
            path, hamilton, storage=storage, fmt=fmt, extra_string_topic=extra
        )
        out[name] = (path, stamps)
    return out
