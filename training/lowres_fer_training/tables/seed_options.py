"""Render the comparison table of issue 15 (models/MODEL_CARD.md, "Seed options") from
the Rust evaluator's JSON (models/<run>.eval.json, ferplus_eval --json) and
classify_bench's output (models/<run>.bench.txt); parameters and multiply-adds are
counted on the architecture (models/seeds.py). Rows without their files are left
empty, so the table can be rendered before the long runs end.

    python training/render_seed_table.py [models]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ..defaults import MODELS
from ..models import efc
from ..models.arch import build

ROWS = (
    ("efc_all_s32", "efc", "EFC baseline (seed 000)"),
    ("efc_rvn_s32", "efc_rvn", "EFC + RVN crop voting (seed 002)"),
    ("efc_sr_s32", "efc_sr", "EFC + SR pyramid (seed 003)"),
)
RESOLUTIONS = (48, 20, 15, 10, 8, 5)


def faces_per_s(path: Path) -> str:
    """Batch 1, 32x32, one thread, from classify_bench's table."""
    if not path.exists():
        return ""
    m = re.search(r"^\s*32px\s+1\s+(\d+)", path.read_text(), re.MULTILINE)
    return f"{int(m.group(1)):,}" if m else ""


def row(models: Path, name: str, arch: str, label: str) -> str:
    model = build(arch)
    cells = [label, f"`{name}.onnx`"]
    path = models / f"{name}.eval.json"
    doc = json.loads(path.read_text()) if path.exists() else {"scores": [], "robustness": []}
    major = {s["resolution"]: s for s in doc["scores"] if s["rule"] == "majority"}
    cells += [f"{100 * major[r]['accuracy']:.2f}" if r in major else "" for r in RESOLUTIONS]
    cells.append(f"{100 * major[20]['mean_class_accuracy']:.2f}" if 20 in major else "")
    degraded = [r["accuracy"] for r in doc.get("robustness") or [] if r["resolution"] == 10 and r["degradation"] != "clean"]
    cells.append(f"{100 * sum(degraded) / len(degraded):.2f}" if degraded else "")
    cells.append(f"{efc.count_parameters(model):,}")
    cells.append(f"{efc.count_macs(model, 32) / 1e6:.1f} M")
    cells.append(faces_per_s(models / f"{name}.bench.txt"))
    return "| " + " | ".join(cells) + " |"


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    models = Path(argv[0]) if argv else MODELS
    head = ["variant", "model"] + [f"{r} px %" for r in RESOLUTIONS]
    head += ["mean class acc. 20 px %", "10 px, mean of degradations %", "params", "multiply-adds (32x32)", "faces/s (batch 1, 1 thread)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, arch, label in ROWS:
        print(row(models, name, arch, label))


if __name__ == "__main__":
    main()
