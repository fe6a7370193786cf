"""Render the evaluator's JSON (ferplus_eval --json) as the model card's markdown
tables, so figures are copied by a program, not by hand.

    python training/render_tables.py models/efc_all_s32.eval.json
"""

from __future__ import annotations

import json
import sys

from ..defaults import EMOTIONS

PAPER = {20: 80.12, 15: 76.67, 10: 72.33, 8: 68.29, 5: 61.83}


def main(path: str) -> None:
    with open(path) as f:
        doc = json.load(f)
    scores = doc["scores"]
    print(f"Model `{doc['model']}` — FER+ Test, Rust evaluator (`ferplus_eval`).\n")
    print("| R (px) | rule | images | accuracy % | mean class acc. % | paper Table 3 % |")
    print("|---|---|---|---|---|---|")
    for s in scores:
        paper = PAPER.get(s["resolution"], "") if s["rule"] == "majority" else ""
        print(
            f"| {s['resolution']} | {s['rule']} | {s['images']} | {100 * s['accuracy']:.2f} | "
            f"{100 * s['mean_class_accuracy']:.2f} | {paper} |"
        )
    print("\nPer-class recall % (majority rule):\n")
    print("| R | " + " | ".join(EMOTIONS) + " |")
    print("|---|" + "---|" * len(EMOTIONS))
    for s in scores:
        if s["rule"] == "majority":
            print(f"| {s['resolution']} | " + " | ".join(f"{100 * r:.1f}" for r in s["class_recall"]) + " |")
    for s in scores:
        if s["rule"] == "majority" and s["resolution"] in (20, 8):
            print(f"\nConfusion at R={s['resolution']} (majority; rows true, columns predicted, FER+ order):\n")
            print("| true \\ pred | " + " | ".join(e[:4] for e in EMOTIONS) + " |")
            print("|---|" + "---|" * len(EMOTIONS))
            for name, row in zip(EMOTIONS, s["confusion"]):
                print(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    if doc.get("calibration"):
        print("\nExpected calibration error of the top-class confidence (majority rule, 15 bins):\n")
        print("| R | " + " | ".join(str(c["resolution"]) for c in doc["calibration"]) + " |")
        print("|---|" + "---|" * len(doc["calibration"]))
        print("| ECE % | " + " | ".join(f"{100 * c['ece']:.2f}" for c in doc["calibration"]) + " |")
    robust = doc.get("robustness") or []
    if robust:
        res = sorted({r["resolution"] for r in robust}, reverse=True)
        clean = {r["resolution"]: r["accuracy"] for r in robust if r["degradation"] == "clean"}
        print("\nRobustness: majority accuracy % under each camera degradation (crates/lowres_fer_lab/src/degrade.rs), and the")
        print("change against the clean protocol in points:\n")
        print("| degradation | " + " | ".join(f"{r} px" for r in res) + " |")
        print("|---|" + "---|" * len(res))
        for name in dict.fromkeys(r["degradation"] for r in robust):
            cells = []
            for r in res:
                acc = next(x["accuracy"] for x in robust if x["degradation"] == name and x["resolution"] == r)
                delta = "" if name == "clean" else f" ({100 * (acc - clean[r]):+.1f})"
                cells.append(f"{100 * acc:.2f}{delta}")
            print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
