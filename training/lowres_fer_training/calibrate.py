"""Fit a classifier's post-hoc class balance and temperature on FER+ Valid, and store
them in models/manifest.json, where crates/lowres_fer/src/classify/mod.rs applies them:

    p = softmax((logits + logit_bias) / temperature)

1. Class balance (logit adjustment, Menon et al. 2021): logit_bias = -tau * log(prior),
   prior = the class shares of the FER+ Train vote distributions. tau = 0 is the raw
   model; tau = 1 targets balanced recall. The rule: the largest tau on a 0.05 grid
   whose Valid accuracy stays within --max-accuracy-loss points of tau = 0, so rare
   classes (disgust, contempt, fear) are predicted at a bounded cost in accuracy.
2. Temperature: the T > 0 minimising the negative log-likelihood of the Valid majority
   labels given the balanced logits (Guo et al. 2017); a planner thresholding
   `top_confidence` then reads calibrated probabilities.

Valid faces go through the clean protocol at the resolutions the model serves (the
manifest's face_px bin for experts, every protocol resolution otherwise), pooled.
Test is never used here.

    python training/calibrate.py models/efc_all_s32.onnx
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from . import data as ferplus
from .defaults import ALL_RESOLUTIONS, DATA, ONNX_INPUT, ONNX_OUTPUT


def resolutions_for(entry: dict) -> tuple[int, ...]:
    """The protocol resolutions a model serves: its face_px bin, or all of them."""
    lo, hi = entry.get("face_px") or (0, 1e9)
    return tuple(r for r in ALL_RESOLUTIONS if lo <= r < hi) or ALL_RESOLUTIONS


def valid_logits(onnx_path: Path, data: Path, resolutions, input_size: int) -> tuple[np.ndarray, np.ndarray]:
    root = ferplus.extract(data)
    names, votes = ferplus.read_votes(root, "valid")
    labels = ferplus.majority_labels(votes)
    keep = labels >= 0
    images = ferplus.load_images(root, "valid", [n for n, k in zip(names, keep) if k])
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits = []
    for r in resolutions:
        x = ferplus.degrade_all(images, r, input_size).astype(np.float32)[:, None] / 255.0
        logits.append(np.concatenate([sess.run([ONNX_OUTPUT], {ONNX_INPUT: c})[0] for c in np.array_split(x, 8)]))
    return np.concatenate(logits), np.tile(labels[keep], len(resolutions))


def train_prior(data: Path) -> np.ndarray:
    root = ferplus.extract(data)
    _, votes = ferplus.read_votes(root, "train")
    return ferplus.soft_targets(votes).mean(0)


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def nll(logits: np.ndarray, labels: np.ndarray, t: float) -> float:
    return float(-log_softmax(logits / t)[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Golden-section search of the NLL over log T in [log 0.2, log 10]."""
    a, b = np.log(0.2), np.log(10.0)
    g = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        c, d = b - g * (b - a), a + g * (b - a)
        if nll(logits, labels, np.exp(c)) < nll(logits, labels, np.exp(d)):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


def ece(logits: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top-class confidence (as crates/lowres_fer_lab/src/ferplus.rs)."""
    p = np.exp(log_softmax(logits))
    conf, pred = p.max(1), p.argmax(1)
    b = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for i in range(bins):
        m = b == i
        if m.any():
            total += abs((pred[m] == labels[m]).sum() - conf[m].sum()) / len(labels)
    return float(total)


def scores(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    pred = logits.argmax(1)
    acc = float((pred == labels).mean())
    present = [c for c in range(logits.shape[1]) if (labels == c).any()]
    return acc, float(np.mean([(pred[labels == c] == c).mean() for c in present]))


def fit(logits: np.ndarray, labels: np.ndarray, prior: np.ndarray, max_loss: float | None) -> dict:
    """max_loss None: temperature only (tau = 0)."""
    base_acc, base_mca = scores(logits, labels)
    tau = 0.0
    for t in np.arange(0.05, 1.0001, 0.05) if max_loss is not None else ():
        acc, _ = scores(logits - t * np.log(prior), labels)
        if acc >= base_acc - max_loss / 100:
            tau = float(round(t, 2))
    bias = -tau * np.log(prior)
    bias -= bias.mean()  # softmax is shift-invariant; keep the numbers small
    balanced = logits + bias
    acc, mca = scores(balanced, labels)
    temperature = fit_temperature(balanced, labels)
    return {
        "tau": tau,
        "logit_bias": [float(round(v, 5)) for v in bias],
        "temperature": float(round(temperature, 4)),
        "valid": {
            "images": len(labels),
            "accuracy_raw": base_acc,
            "mean_class_accuracy_raw": base_mca,
            "accuracy": acc,
            "mean_class_accuracy": mca,
            "ece_raw": ece(logits, labels),
            "ece_balanced": ece(balanced, labels),
            "ece": ece(balanced / temperature, labels),
        },
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("onnx", type=Path)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--max-accuracy-loss", type=float, default=1.0, help="points of Valid accuracy tau may cost")
    p.add_argument("--no-balance", action="store_true", help="temperature only (tau = 0)")
    args = p.parse_args(argv)
    manifest_path = args.onnx.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = manifest["models"][args.onnx.name]
    res = resolutions_for(entry)
    logits, labels = valid_logits(args.onnx, args.data, res, entry.get("input_size", 32))
    result = fit(logits, labels, train_prior(args.data), None if args.no_balance else args.max_accuracy_loss)
    v = result["valid"]
    print(
        f"{args.onnx.name}: Valid {v['images']} faces at {res} px: tau {result['tau']}, "
        f"accuracy {100 * v['accuracy_raw']:.2f} -> {100 * v['accuracy']:.2f} %, "
        f"mean class {100 * v['mean_class_accuracy_raw']:.2f} -> {100 * v['mean_class_accuracy']:.2f} %; "
        f"T {result['temperature']}, ECE {100 * v['ece_raw']:.2f} -> {100 * v['ece']:.2f} %"
    )
    entry["logit_bias"] = result["logit_bias"]
    entry["temperature"] = result["temperature"]
    entry["calibration"] = {"tau": result["tau"], "resolutions": list(res), **v}
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return result


if __name__ == "__main__":
    main()
