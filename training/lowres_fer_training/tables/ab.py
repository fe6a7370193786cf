"""Render the Valid A/B table of issue 9's recipe choices (training/ab_recipe.sh) from the
runs' per-epoch logs: for each variant the epoch the recipe would keep (best selection
score, mean Valid majority accuracy at 20/10/5 px), its Valid accuracy per resolution, mean
class accuracy at 20 px, and at 10 px the mean loss under the camera degradations of
degrade.py (last epoch with a robustness check). Variants without a log are left
out; a variant still training is marked with its epoch count.

    python training/render_ab_table.py [training/runs]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..defaults import RUNS

# (title, epochs of each run, Valid resolutions shown, variants)
TABLES = (
    (
        "Labels and losses, trained from scratch",
        12,
        ("48", "20", "10", "5"),
        (
            ("ab_soft", "soft vote distributions (control, the committed recipe)"),
            ("ab_hard", "hard: majority one-hot"),
            ("ab_pdls", "PDLS (seed 003), alpha 0.9"),
            ("ab_la", "soft + logit adjustment, tau 1"),
            ("ab_kd", "soft + distillation from efc_all_s32 at 48 px (w 0.5, T 2)"),
            ("ab_real", "soft, every face through a random camera (realistic 1.0)"),
            ("ab_cons", "soft + clean/degraded consistency (C 1, T 2)"),
            ("ab_cons03", "soft + clean/degraded consistency (C 0.3, T 2)"),
            ("ab_harsh", "soft, harsher random camera (more nearest sampling, JPEG q10-60)"),
        ),
    ),
    (
        "The 32-48 px expert's input size, fine-tuned from efc_all_s32 on 48 and 32 px",
        5,
        ("48", "32", "20"),
        (
            ("ab_e48_in32", "32x32 input (as every committed model)"),
            ("ab_e48_in48", "48x48 input"),
        ),
    ),
)


def row(runs: Path, name: str, label: str, epochs: int, resolutions) -> str | None:
    path = runs / name / "log.jsonl"
    if not path.exists():
        return None
    log = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not log:
        return None
    best = max(log, key=lambda e: e["select_score"])
    cells = [label + ("" if len(log) >= epochs else f" (epoch {len(log)} of {epochs})"), str(best["epoch"] + 1)]
    cells += [f"{100 * best['valid_majority'][r]:.2f}" for r in resolutions]
    cells.append(f"{100 * best['select_score']:.2f}")
    cells.append(f"{100 * best['valid_mean_class_20']:.2f}")
    robust = [e["valid_robust_10"] for e in log if "valid_robust_10" in e]
    if robust:
        last = robust[-1]
        drops = [last["clean"] - v for k, v in last.items() if k != "clean"]
        cells.append(f"{100 * sum(drops) / len(drops):.2f} / {100 * max(drops):.2f}")
    else:
        cells.append("")
    return "| " + " | ".join(cells) + " |"


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    runs = Path(argv[0]) if argv else RUNS
    for title, epochs, resolutions, variants in TABLES:
        head = ["variant", "kept epoch"] + [f"Valid {r} px %" for r in resolutions]
        head += ["selection score %", "mean class acc. 20 px %", "10 px: mean / worst loss under degradations, points"]
        print(f"{title}: FER+ Valid, majority rule; {epochs}-epoch runs of training/ab_recipe.sh (same seed)\n")
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for name, label in variants:
            line = row(runs, name, label, epochs, resolutions)
            if line:
                print(line)
        print()


if __name__ == "__main__":
    main()
