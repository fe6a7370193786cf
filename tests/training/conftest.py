"""Shared by the training tests: the package on sys.path, the FER+ tarball, and a run
directory in the checkpoint format of before the one-file policy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "training"))

DATA = Path(os.environ.get("LOWRES_FER_SHARED", ROOT.parent / "shared")) / "data/ferplus.tar.gz"


@pytest.fixture
def old_format_run(tmp_path) -> Path:
    """One of two epochs of a small run, written as train.py wrote every run before the
    one-file checkpoint policy (and before --arch, as the committed efc_all_s32): last.pt
    without the best epoch in it, next to best.pt."""
    import torch
    from lowres_fer_training import checkpoint, train
    from lowres_fer_training.defaults import BEST, LAST

    out = tmp_path / "old"
    train.main(["--data", str(DATA), "--out", str(out), "--subset", "256", "--batch", "64", "--epochs", "2",
                "--robust-every", "0", "--stop-after", "1"])
    state = checkpoint.load(out / LAST)
    best = state.pop("best_state")
    for s in (state, best):
        s["config"].pop("arch", None)
    torch.save(state, out / LAST)
    torch.save(best, out / BEST)
    return out
