"""The training code cannot rot: one epoch on a small FER+ subset, then ONNX export
with the PyTorch/ONNX Runtime parity check (training/export.py fails above 1e-4).

Run with the training venv: scripts/setup_training.sh, then
$LOWRES_FER_CACHE/train/bin/python -m pytest tests/training
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from lowres_fer_training import checkpoint, degrade, export, quantize, train
from lowres_fer_training import data as ferplus
from lowres_fer_training.augment import augment
from lowres_fer_training.models import efc
from lowres_fer_training.models.arch import build
from lowres_fer_training.objectives import distillation

ROOT = Path(__file__).resolve().parents[2]  # conftest.py puts ROOT/training on sys.path
DATA = Path(os.environ.get("LOWRES_FER_SHARED", ROOT.parent / "shared")) / "data/ferplus.tar.gz"
RUNS = ROOT / "training/runs"


def checkpoints(out: Path) -> list[str]:
    return sorted(p.name for p in out.glob("*.pt"))


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
    assert checkpoints(out) == ["best.pt"]  # a finished run keeps one file (checkpoint.py)
    onnx_path = tmp_path / "models" / "efc_smoke.onnx"
    export.main([str(out / "best.pt"), str(onnx_path), "--data", str(DATA)])
    manifest = json.loads((onnx_path.parent / "manifest.json").read_text())
    assert manifest["models"]["efc_smoke.onnx"]["input_size"] == 32
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    for size in (32, 20):  # spatial size is dynamic
        logits = sess.run(["logits"], {"face": np.random.rand(3, 1, size, size).astype(np.float32)})[0]
        assert logits.shape == (3, 8)
    # INT8 with percentile ranges (the large-face expert's): recorded in the variant's entry, and
    # the variant follows the FP32 model on real faces.
    quantize.main([str(onnx_path), "--data", str(DATA), "--precision", "int8", "--calibration-images", "200",
                   "--percentile", "99.9"])
    entry = json.loads((onnx_path.parent / "manifest.json").read_text())["models"]["efc_smoke.int8.onnx"]
    assert entry["int8_percentile"] == 99.9 and entry["variant_of"] == "efc_smoke.onnx"
    root = ferplus.extract(DATA)
    names, _ = ferplus.read_votes(root, "test")
    faces = ferplus.degrade_all(ferplus.load_images(root, "test", names[:64]), 20, 32)[:, None] / np.float32(255)
    int8 = ort.InferenceSession(str(onnx_path.with_name("efc_smoke.int8.onnx")), providers=["CPUExecutionProvider"])
    ref = sess.run(["logits"], {"face": faces.astype(np.float32)})[0]
    got = int8.run(["logits"], {"face": faces.astype(np.float32)})[0]
    assert np.mean(ref.argmax(1) == got.argmax(1)) > 0.8


def test_resume_continues_from_the_last_epoch(tmp_path):
    out = tmp_path / "run"
    args = ["--data", str(DATA), "--out", str(out), "--subset", "256", "--batch", "64", "--epochs", "2"]
    train.main(args + ["--stop-after", "1"])
    # In progress: one file, last.pt, with the best epoch in it (what a resume or a teacher needs).
    assert checkpoints(out) == ["last.pt"]
    state = torch.load(out / "last.pt", weights_only=False)
    assert state["epoch"] == 0 and state["best_state"]["epoch"] == 0
    assert state["best"] == json.loads((out / "log.jsonl").read_text())["select_score"]
    # Checkpoints hold CPU tensors whatever --device trained them: they resume anywhere.
    assert all(v.device.type == "cpu" for v in state["model"].values())
    assert all(v.device.type == "cpu" for v in state["best_state"]["model"].values())
    assert all(v.device.type == "cpu" for moments in state["opt"]["state"].values() for v in moments.values())
    # A time slot already spent (a lent GPU's 10 minutes): leaves before the next epoch.
    train.main(args + ["--resume", "--time-limit", "1e-3"])
    assert len((out / "log.jsonl").read_text().splitlines()) == 1
    assert checkpoints(out) == ["last.pt"]
    train.main(args + ["--resume"])
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [0, 1]
    # Finished: one file, best.pt, the best epoch's weights (last.pt is gone).
    assert checkpoints(out) == ["best.pt"]
    best = torch.load(out / "best.pt", weights_only=False)
    assert sorted(best) == ["config", "epoch", "model", "valid"]
    assert best["epoch"] == max(log, key=lambda e: e["select_score"])["epoch"]
    # Resuming a finished run trains nothing.
    train.main(args + ["--resume"])
    assert len((out / "log.jsonl").read_text().splitlines()) == 2 and checkpoints(out) == ["best.pt"]


def test_old_format_run_resumes_and_finishes_in_one_file(old_format_run):
    """A run directory of before the one-file policy (last.pt and best.pt, as the runs
    resumed across sessions were committed) resumes with its best epoch from best.pt."""
    out = old_format_run
    last, best = (torch.load(out / name, weights_only=False) for name in ("last.pt", "best.pt"))
    assert "best_state" not in last
    state = checkpoint.resume_state(out)
    assert state["epoch"] == last["epoch"] == 0 and state["best"] == last["best"]
    assert state["best_state"]["epoch"] == best["epoch"]
    assert all(torch.equal(state["best_state"]["model"][k], v) for k, v in best["model"].items())
    args = ["--data", str(DATA), "--out", str(out), "--subset", "256", "--batch", "64", "--epochs", "2",
            "--robust-every", "0", "--resume"]
    train.main(args)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [0, 1]
    assert checkpoints(out) == ["best.pt"]
    kept = torch.load(out / "best.pt", weights_only=False)
    assert kept["epoch"] == max(log, key=lambda e: e["select_score"])["epoch"]
    if kept["epoch"] == 0:  # the old best.pt's epoch survived the conversion unchanged
        assert all(torch.equal(kept["model"][k], v) for k, v in best["model"].items())


@pytest.mark.parametrize("run", sorted(p.parent.name for p in RUNS.glob("*/last.pt")))
def test_committed_run_in_progress_restores_its_state(run):
    """Every committed run with a last.pt (in progress; either format) resumes: the epoch,
    optimiser state, schedule and best score restored into a fresh model are the files'."""
    out = RUNS / run
    raw = torch.load(out / "last.pt", weights_only=False, map_location="cpu")
    state = checkpoint.resume_state(out)
    config = state["config"]
    assert len((out / "log.jsonl").read_text().splitlines()) == raw["epoch"] + 1 < config["epochs"]
    args = train.parse_args(["--out", str(out), "--arch", config.get("arch", "efc"), "--lr", str(config["lr"]),
                             "--weight-decay", str(config["weight_decay"]), "--epochs", str(config["epochs"])])
    model = build(args.arch)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=raw["sched"]["total_steps"])
    gen, rng = torch.Generator(), np.random.default_rng(0)
    start, best, best_state = train.restore(state, out, args.arch, model, opt, sched, gen, rng)
    assert start == raw["epoch"] + 1 and best == raw["best"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in raw["model"].items())
    restored = opt.state_dict()
    assert restored["param_groups"] == raw["opt"]["param_groups"]
    for i, moments in raw["opt"]["state"].items():
        assert all(torch.equal(restored["state"][i][k], v) for k, v in moments.items())
    assert sched.state_dict()["last_epoch"] == raw["sched"]["last_epoch"]
    assert torch.equal(gen.get_state(), raw["gen"]) and rng.bit_generator.state == raw["np_rng"]
    # The best epoch: in last.pt (one-file form) or its old-format best.pt, whose score is logged.
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert best_state is not None and log[best_state["epoch"]]["select_score"] == best


def test_calibration_balances_rare_classes_and_fixes_overconfidence():
    from lowres_fer_training import calibrate

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


def test_augmentation_moves_both_views_of_a_face_alike():
    """Distillation stacks the degraded and the clean face as channels, so the teacher
    sees exactly the flip, shift, rotation and erasing the student sees."""
    face = torch.rand(16, 1, 32, 32)
    for max_deg in (10.0, 0.0):  # resampling and integer-shift branches
        out = augment(torch.cat([face, face], 1), torch.Generator().manual_seed(3), max_deg, 1.0)
        assert out.shape == (16, 2, 32, 32)
        assert torch.allclose(out[:, 0], out[:, 1])
        assert not torch.allclose(out[:, :1], face)


def test_distillation_term_vanishes_only_when_the_student_agrees():
    teacher = build("efc").eval()
    clean = torch.rand(8, 1, 32, 32)
    with torch.no_grad():
        agree = teacher(clean, logits=True)
    assert distillation(teacher, clean, agree, 2.0).item() < 1e-5
    assert distillation(teacher, clean, agree + torch.randn(8, 8), 2.0).item() > 1e-3
    # Crop voting's per-crop logits [B, K, C] each learn the teacher's distribution.
    assert distillation(teacher, clean, agree[:, None].expand(8, 10, 8), 2.0).item() < 1e-5


def test_distilled_training_runs_from_a_checkpoint_teacher(tmp_path):
    """The larger teacher's recipe (reproduce.sh teacher_wide: wide EFC, clean 48 px faces
    only), then an EFC student distilled from it: the teacher's arch comes from its checkpoint."""
    teacher = tmp_path / "teacher"
    base = ["--data", str(DATA), "--subset", "256", "--batch", "64", "--epochs", "1", "--robust-every", "0"]
    train.main(base + ["--out", str(teacher), "--arch", "efc_wide", "--resolutions", "48", "--select", "48",
                       "--realistic", "0"])
    student = tmp_path / "student"
    train.main(base + ["--out", str(student), "--teacher", str(teacher / "best.pt")])
    log = [json.loads(line) for line in (student / "log.jsonl").read_text().splitlines()]
    assert len(log) == 1 and np.isfinite(log[0]["loss"])
    assert json.loads((student / "config.json").read_text())["teacher"] == str(teacher / "best.pt")
    args = train.parse_args(base + ["--out", str(student), "--teacher", str(teacher / "best.pt")])
    loaded = train.load_teacher(args, torch.device("cpu"))
    assert efc.count_parameters(loaded) > 3 * efc.count_parameters(efc.EFC())
    student_state = torch.load(student / "best.pt", weights_only=False, map_location="cpu")
    assert student_state["model"].keys() == efc.EFC().state_dict().keys()
    with pytest.raises(SystemExit, match="input size"):
        train.main(base + ["--out", str(tmp_path / "bad"), "--teacher", str(teacher / "best.pt"), "--input-size", "48"])
    # The large-face expert's recipe (reproduce.sh expert_wide_r28): the teacher fine-tuned with
    # the cameras on 24-48 px faces, distilled from itself; it starts from the teacher's weights.
    expert = tmp_path / "expert"
    train.main(base + ["--out", str(expert), "--arch", "efc_wide", "--init", str(teacher / "best.pt"),
                       "--teacher", str(teacher / "best.pt"), "--resolutions", "48,40,32,28,24",
                       "--select", "48,32"])
    expert_state = torch.load(expert / "best.pt", weights_only=False, map_location="cpu")["model"]
    teacher_state = torch.load(teacher / "best.pt", weights_only=False, map_location="cpu")["model"]
    assert expert_state.keys() == teacher_state.keys()
    assert any(not torch.equal(expert_state[k], teacher_state[k]) for k in teacher_state if k.endswith("weight"))


def test_drop_removes_a_model_its_variants_and_their_entries(tmp_path):
    """A routing bin the general classifier serves has no expert (routing.py): reproduce.sh
    drops the old one, its INT8/FP16 files and their manifest entries, and nothing else."""
    models = {
        "expert_r5_8.onnx": {"role": "expert"},
        "expert_r5_8.int8.onnx": {"role": "variant", "variant_of": "expert_r5_8.onnx"},
        "expert_r5_8.fp16.onnx": {"role": "variant", "variant_of": "expert_r5_8.onnx"},
        "efc_all_s32.onnx": {"role": "classifier"},
        "efc_all_s32.int8.onnx": {"role": "variant", "variant_of": "efc_all_s32.onnx"},
    }
    for name in models:
        (tmp_path / name).write_bytes(b"onnx")
    (tmp_path / "manifest.json").write_text(json.dumps({"models": models}))
    export.drop(tmp_path / "expert_r5_8.onnx")
    left = json.loads((tmp_path / "manifest.json").read_text())["models"]
    assert sorted(left) == ["efc_all_s32.int8.onnx", "efc_all_s32.onnx"]
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == sorted(left)
    export.drop(tmp_path / "expert_r5_8.onnx")  # again: nothing to do, no error


def test_consistency_term_trains_the_degraded_view_towards_the_clean_one(tmp_path):
    base = ["--data", str(DATA), "--subset", "256", "--batch", "64", "--epochs", "1", "--robust-every", "0", "--threads", "1"]
    train.main(base + ["--out", str(tmp_path / "plain")])
    train.main(base + ["--out", str(tmp_path / "consistent"), "--consistency", "1.0"])
    log = [json.loads(line) for line in (tmp_path / "consistent" / "log.jsonl").read_text().splitlines()]
    assert len(log) == 1 and np.isfinite(log[0]["loss"])
    # One epoch: best.pt (the finished run's one file) holds its weights.
    plain = torch.load(tmp_path / "plain" / "best.pt", weights_only=False)["model"]
    consistent = torch.load(tmp_path / "consistent" / "best.pt", weights_only=False)["model"]
    # Same seed and batches: only the term's gradient can make the weights differ.
    assert any(not torch.equal(plain[k], consistent[k]) for k in plain if k.endswith("weight"))
    # The clean view runs in eval mode, so the batch norms counted the degraded batches only.
    tracked = [k for k in plain if k.endswith("num_batches_tracked")]
    assert tracked and all(torch.equal(plain[k], consistent[k]) for k in tracked)


def test_harsh_camera_draws_more_of_the_costliest_degradations():
    def draws(harsh):
        rng = np.random.default_rng(3)
        specs = [degrade.random_spec(rng, harsh) for _ in range(4000)]
        nearest = np.mean([s["kernel"] == "nearest" for s in specs])
        quality = [s["jpeg"] for s in specs if "jpeg" in s]
        return nearest, len(quality) / len(specs), min(quality), max(quality)

    nearest, jpeg, low, high = draws(False)
    assert abs(nearest - 0.25) < 0.03 and abs(jpeg - 0.4) < 0.03 and (low, high) == (20, 90)
    nearest, jpeg, low, high = draws(True)
    assert abs(nearest - 0.4) < 0.03 and abs(jpeg - 0.6) < 0.03 and (low, high) == (10, 60)


def test_recipe_ab_table_renders_every_logged_variant(tmp_path, capsys):
    from lowres_fer_training.tables import ab as render_ab_table

    entry = {
        "epoch": 0,
        "valid_majority": {"48": 0.7, "32": 0.7, "20": 0.6, "10": 0.5, "5": 0.4},
        "select_score": 0.5,
        "valid_mean_class_20": 0.3,
        "valid_robust_10": {"clean": 0.5, "jpeg_q30": 0.4, "nearest": 0.48},
    }
    for name, epochs in (("ab_soft", 12), ("ab_e48_in48", 2)):
        (tmp_path / name).mkdir()
        lines = [dict(entry, epoch=e, select_score=0.5 + e / 100) for e in range(epochs)]
        (tmp_path / name / "log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    render_ab_table.main([str(tmp_path)])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "variant" not in line]
    assert len(rows) == 2
    assert rows[0].startswith("| soft vote") and "| 12 | 70.00 | 60.00 | 50.00 | 40.00 | 61.00 | 30.00 | 6.00 / 10.00 |" in rows[0]
    assert "(epoch 2 of 5) | 2 | 70.00 | 70.00 | 60.00 |" in rows[1]
