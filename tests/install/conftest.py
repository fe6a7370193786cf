"""Shared checks of the install tests."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def assert_first_wins(package: str) -> None:
    """scripts/setup.sh builds a message package's stand-in only when no other
    copy exists: the first `package` on AMENT_PREFIX_PATH is either the stand-in
    or a real one, and the stand-in is never installed next to a real one."""
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    found = [p for p in prefixes if (Path(p) / f"share/ament_index/resource_index/packages/{package}").exists()]
    assert found, f"no {package} on AMENT_PREFIX_PATH: run scripts/setup.sh, then the tests through scripts/env.sh"
    standin = [p for p in found if Path(p).name == package and Path(p).parent == ROOT / "install"]
    assert not standin or len(found) == 1, f"the stand-in is installed although another {package} exists: {found}"
