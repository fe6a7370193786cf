"""Training compute spent so far, from the committed per-epoch logs: epochs and
epoch time per run, on the CPU and on a GPU, and the totals (issue 9's note).

    python training/compute_spent.py

Counts only the epochs' own time (train.py's "seconds": training, Valid and its
robustness pass); exports, calibration and evaluation come on top.
"""

from __future__ import annotations

import json

from ..defaults import RUNS


def main() -> None:
    total = {"cpu": 0.0, "gpu": 0.0}
    print("| run | epochs | CPU h | GPU min |")
    print("|---|---|---|---|")
    for log in sorted(RUNS.glob("*/log.jsonl")):
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        spent = {"cpu": 0.0, "gpu": 0.0}
        for r in rows:
            spent["gpu" if str(r.get("device", "cpu")).startswith("cuda") else "cpu"] += r.get("seconds", 0.0)
        for k in total:
            total[k] += spent[k]
        print(f"| `{log.parent.name}` | {len(rows)} | {spent['cpu'] / 3600:.2f} | {spent['gpu'] / 60:.1f} |")
    print(f"| total | | {total['cpu'] / 3600:.1f} | {total['gpu'] / 60:.1f} |")


if __name__ == "__main__":
    main()
