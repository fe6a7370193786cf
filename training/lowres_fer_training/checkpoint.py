"""What a training run's directory holds (the checkpoint policy; training/reproduce.sh's
header and docs/training-on-a-gpu.md describe it for the runs committed to git):

- While a run is in progress: one file, last.pt. It holds everything a resume needs (the
  model, the optimiser and schedule, the random states, the epoch, the best selection
  score `best`) and the best epoch so far, `best_state`: {model, epoch, valid, config}. So
  neither resuming nor distilling from an unfinished run needs a second file.
- Once a run has done all its epochs: one file, best.pt, the best epoch's {model, epoch,
  valid, config} (what export.py, --teacher and --init read). last.pt is removed.
- Directories written before this policy (last.pt without `best_state`, and best.pt,
  both rewritten every epoch) resume as before: the best epoch comes from their best.pt.
  The first epoch written in the new form removes that best.pt (last.pt carries it).

Every file is written to a temporary name and renamed, so an interrupted write leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .defaults import BEST, LAST


def on_cpu(state):
    """A state dict (nested dicts, lists) with its tensors on the CPU: checkpoints load on
    any machine, with or without a GPU."""
    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {k: on_cpu(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(on_cpu(v) for v in state)
    return state


def load(path: Path) -> dict:
    return torch.load(path, weights_only=False, map_location="cpu")


def save(state: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def best_entry(model: torch.nn.Module, epoch: int, valid: dict, config: dict) -> dict:
    """The best epoch's record: best.pt's contents, and last.pt's `best_state`."""
    return {"model": on_cpu(model.state_dict()), "epoch": epoch, "valid": valid, "config": config}


def best_of(state: dict) -> dict:
    """The best epoch's {model, epoch, valid, config} of a checkpoint: a best.pt (or an
    old-format last.pt) as it is, a last.pt in progress its `best_state`."""
    return state.get("best_state") or state


def load_weights(path: Path) -> dict:
    """A checkpoint's best weights and their record, whichever file of a run `path` is."""
    return best_of(load(path))


def resume_state(out: Path) -> dict | None:
    """last.pt of the run in `out`, with `best_state` filled in (from best.pt for an
    old-format directory; None where that best.pt is missing), or None without last.pt."""
    last = out / LAST
    if not last.exists():
        return None
    state = load(last)
    if "best_state" not in state:
        best = out / BEST
        state["best_state"] = load(best) if best.exists() else None
    return state


def is_finished(out: Path) -> bool:
    """A finished run in the one-file form: best.pt and no last.pt."""
    return (out / BEST).exists() and not (out / LAST).exists()


def save_progress(out: Path, state: dict) -> None:
    """Write last.pt (with its `best_state`), and drop an old-format best.pt it replaces."""
    save(state, out / LAST)
    if state.get("best_state") is not None:
        (out / BEST).unlink(missing_ok=True)


def finish(out: Path) -> None:
    """The run has done all its epochs: keep best.pt only. Idempotent; a last.pt whose
    best epoch is unknown (an old-format last.pt whose best.pt was lost) is kept."""
    last = out / LAST
    if not last.exists():
        return
    best = load(last).get("best_state")
    if best is not None:
        save(best, out / BEST)
    if (out / BEST).exists():
        last.unlink()
