"""Compare long runs on FER+ Valid from their per-epoch logs: the best epoch by
train.py's selection score, and the mean (and spread) of the last N epochs, which
is what decides between two runs (a best epoch alone is partly luck).

    python training/render_valid_table.py efc_all_s32 efc_all_kd_s32 efc_all_kd_rvn_s32

Reads training/runs/NAME/log.jsonl; prints the model card's markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics

from ..defaults import RUNS

RESOLUTIONS = ("48", "20", "10", "5")


def load(name: str) -> list[dict]:
    path = RUNS / name / "log.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise SystemExit(f"{path}: no epochs logged")
    return rows


def cells(rows: list[dict]) -> list[float]:
    """Selection score, Valid majority accuracy per resolution, mean class at 20 px (%)."""
    def mean(key):
        return 100 * statistics.fmean(key(r) for r in rows)
    return [mean(lambda r: r["select_score"])] + [
        mean(lambda r, res=res: r["valid_majority"][res]) for res in RESOLUTIONS
    ] + [mean(lambda r: r["valid_mean_class_20"])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run names under training/runs")
    ap.add_argument("--last", type=int, default=20, help="epochs averaged at the end of each run")
    args = ap.parse_args()
    print(f"| Valid, % | epochs | best epoch | selection score | {' | '.join(r + ' px' for r in RESOLUTIONS)} "
          "| mean class 20 px (raw) |")
    print("|---|---|---|---|" + "---|" * len(RESOLUTIONS) + "---|")
    for name in args.runs:
        rows = load(name)
        best = max(rows, key=lambda r: r["select_score"])
        vals = cells([best])
        print(f"| `{name}`, best epoch | {len(rows)} | {best['epoch']} | "
              + " | ".join(f"{v:.2f}" for v in vals) + " |")
    for name in args.runs:
        rows = load(name)[-args.last:]
        vals = cells(rows)
        sd = 100 * statistics.stdev(r["select_score"] for r in rows) if len(rows) > 1 else 0.0
        print(f"| `{name}`, mean of the last {len(rows)} epochs | | | {vals[0]:.2f} (sd {sd:.2f}) | "
              + " | ".join(f"{v:.2f}" for v in vals[1:]) + " |")


if __name__ == "__main__":
    main()
