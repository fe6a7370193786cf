"""The robot build needs no network once its crates are vendored (issue 25).

scripts/vendor_crates.sh puts every crate of Cargo.lock in one directory with
the cargo configuration that uses it. Here cargo resolves the whole build graph
of what colcon builds (the node and the bag tool, build scripts included) inside
a network namespace with no interface at all (`unshare -n`, root), from that
directory and an otherwise empty CARGO_HOME. The same resolution from an empty
CARGO_HOME must fail, so the check cannot pass by reaching a cache it should not.

The full offline `colcon build` (the same command plus compiling) was measured
once by hand: docs/platforms.md, "Offline builds".
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("LOWRES_FER_CACHE", Path.home() / ".cache" / "lowres_fer"))
VENDOR = CACHE / "vendor"


def _offline_tree(cargo_home: Path) -> subprocess.CompletedProcess:
    cargo = shutil.which("cargo")
    assert cargo, "cargo is not on PATH (run through scripts/env.sh)"
    env = dict(os.environ, CARGO_HOME=str(cargo_home), CARGO_NET_OFFLINE="true")
    return subprocess.run(
        ["unshare", "-n", cargo, "tree", "--locked", "--offline",
         "-p", "lowres_fer_node", "-p", "lowres_fer_bag", "-e", "normal,build", "--prefix", "none"],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


def test_the_vendored_crates_resolve_the_build_without_network(tmp_path):
    subprocess.run([str(ROOT / "scripts" / "vendor_crates.sh"), str(VENDOR)], check=True, timeout=600)
    config = (VENDOR / "cargo-home" / "config.toml").read_text()
    assert 'replace-with = "vendored-sources"' in config, config
    home = tmp_path / "cargo-home"
    home.mkdir()
    shutil.copy(VENDOR / "cargo-home" / "config.toml", home / "config.toml")
    r = _offline_tree(home)
    assert r.returncode == 0, r.stderr[-3000:]
    crates = {line.split(" ")[0] for line in r.stdout.splitlines() if line.strip()}
    # The node's ROS bindings and ONNX Runtime's crate, and the crates they pull.
    assert {"r2r", "ort", "tokio", "lowres_fer", "lowres_fer_node", "lowres_fer_bag"} <= crates, sorted(crates)


def test_without_the_vendored_crates_the_offline_build_fails(tmp_path):
    empty = tmp_path / "empty-cargo-home"
    empty.mkdir()
    r = _offline_tree(empty)
    assert r.returncode != 0, "resolved offline without any crates: the check is not offline"
