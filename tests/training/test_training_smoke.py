"""The training code cannot rot: one epoch on a small FER+ subset, then ONNX export
with the PyTorch/ONNX Runtime parity check (training/export.py fails above 1e-4).

Run with the training venv: scripts/setup_training.sh, then
$LOWRES_FER_CACHE/train/bin/python -m pytest tests/training
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "training"))

import efc
import export
import ferplus
import train

DATA = Path(__import__("os").environ.get("LOWRES_FER_SHARED", ROOT.parent / "shared")) / "data/ferplus.tar.gz"


def test_model_matches_the_papers_budget():
    model = efc.EFC()
    params = efc.count_parameters(model)
    macs = efc.count_macs(model, 32)
    # Paper: 513,484 parameters, 0.007 GFLOPs at 32x32.
    assert 400_000 <= params <= 600_000, params
    assert 5e6 <= macs <= 10e6, macs


def test_label_rules_keep_the_documented_counts():
    root = ferplus.extract(DATA)
    _, votes = ferplus.read_votes(root, "test")
    assert (ferplus.majority_labels(votes) >= 0).sum() == 3137
    assert (ferplus.plurality_labels(votes) >= 0).sum() == 3545


def test_one_epoch_trains_and_exports(tmp_path):
    out = tmp_path / "run"
    train.main(["--data", str(DATA), "--out", str(out), "--epochs", "1", "--subset", "512", "--batch", "64"])
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert len(log) == 1 and np.isfinite(log[0]["loss"])
    onnx_path = tmp_path / "models" / "efc_smoke.onnx"
    export.main([str(out / "best.pt"), str(onnx_path), "--data", str(DATA)])
    manifest = json.loads((onnx_path.parent / "manifest.json").read_text())
    assert manifest["models"]["efc_smoke.onnx"]["input_size"] == 32
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    for size in (32, 20):  # spatial size is dynamic
        logits = sess.run(["logits"], {"face": np.random.rand(3, 1, size, size).astype(np.float32)})[0]
        assert logits.shape == (3, 8)


def test_resume_continues_from_the_last_epoch(tmp_path):
    out = tmp_path / "run"
    args = ["--data", str(DATA), "--out", str(out), "--subset", "256", "--batch", "64", "--epochs", "2"]
    train.main(args + ["--stop-after", "1"])
    train.main(args + ["--resume"])
    epochs = [json.loads(line)["epoch"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert epochs == [0, 1]


def test_calibration_balances_rare_classes_and_fixes_overconfidence():
    import calibrate

    rng = np.random.default_rng(0)
    prior = np.array([0.4, 0.3, 0.1, 0.1, 0.05, 0.02, 0.02, 0.01])
    labels = rng.choice(8, size=20_000, p=prior)
    # A model that knows the label only weakly, leans on the prior, and is 3x overconfident.
    logits = 3.0 * (np.eye(8)[labels] * 1.5 + np.log(prior) + rng.normal(0, 1.0, (len(labels), 8)))
    result = calibrate.fit(logits, labels, prior, max_loss=1.0)
    v = result["valid"]
    assert result["tau"] > 0
    assert v["accuracy"] >= v["accuracy_raw"] - 0.01
    assert v["mean_class_accuracy"] > v["mean_class_accuracy_raw"]
    assert 2.0 < result["temperature"] < 4.5
    assert v["ece"] < 0.03 < v["ece_raw"]
