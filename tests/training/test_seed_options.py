"""Seed options of issue 15 (training/lowres_fer_training/models/seeds.py): shapes, cost
budgets, one-graph ONNX export with the node's I/O, and that runs from before --arch still
resume as EFC.

Run with the training venv: $LOWRES_FER_CACHE/train/bin/python -m pytest tests/training
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from lowres_fer_training import export, train
from lowres_fer_training.defaults import ARCHS
from lowres_fer_training.models import efc
from lowres_fer_training.models.arch import build

ROOT = Path(__file__).resolve().parents[2]  # conftest.py puts ROOT/training on sys.path
DATA = Path(os.environ.get("LOWRES_FER_SHARED", ROOT.parent / "shared")) / "data/ferplus.tar.gz"
EFC_PARAMS = efc.count_parameters(efc.EFC())
EFC_MACS = efc.count_macs(efc.EFC(), 32)


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_shapes(arch):
    torch.manual_seed(0)
    model = build(arch).eval()
    with torch.no_grad():
        for size in (32, 20):
            probs = model(torch.rand(3, 1, size, size))
            assert probs.shape == (3, 8)
            assert torch.allclose(probs.sum(1), torch.ones(3), atol=1e-5)
            assert model(torch.rand(1, 1, size, size), logits=True).shape == (1, 8)


def test_default_arch_is_the_efc_of_before():
    torch.manual_seed(0)
    a = build("efc").state_dict()
    torch.manual_seed(0)
    b = efc.EFC().state_dict()
    assert type(build("efc")) is efc.EFC
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_rvn_votes_over_ten_crops_with_efc_weights():
    model = build("efc_rvn").eval()
    assert efc.count_parameters(model) == EFC_PARAMS  # voting adds no weights (seed 002)
    macs = efc.count_macs(model, 32)
    assert 3 * EFC_MACS <= macs <= 5 * EFC_MACS, macs  # 10 crops after block 3: 32.7 M
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        per_crop = model.training_logits(x)
        assert per_crop.shape == (2, 10, 8)
        vote = torch.softmax(per_crop, 2).mean(1)
        assert torch.allclose(model(x), vote, atol=1e-6)
        f = model.blocks[: model.split](model.stem((x - 0.5) / 0.5))
        assert f.shape[2:] == (8, 8) and model.crops(f).shape[-2:] == (6, 6)


def test_wide_teacher_doubles_every_width():
    model = build("efc_wide")
    assert [b.dw.in_channels for b in model.blocks] == [2 * b.dw.in_channels for b in efc.EFC().blocks]
    assert 3 * EFC_PARAMS <= efc.count_parameters(model) <= 3.5 * EFC_PARAMS
    assert 3 * EFC_MACS <= efc.count_macs(model, 32) <= 3.5 * EFC_MACS


def test_sr_front_end_fits_twice_the_efc_budget():
    model = build("efc_sr").eval()
    sr_params = efc.count_parameters(model.sr)
    assert 1_000 <= sr_params <= 5_000, sr_params  # "a few thousand parameters"
    assert efc.count_parameters(model) <= EFC_PARAMS + 15_000
    macs = efc.count_macs(model, 32)
    assert EFC_MACS < macs <= 2 * EFC_MACS, macs
    # The SR residual starts at zero: the SR branch first sees the node's input as is.
    x = torch.rand(1, 1, 32, 32)
    assert torch.equal(model.sr(torch.nn.functional.avg_pool2d(x, 2)), torch.zeros_like(x))


def test_sr_branches_keep_their_own_norm_statistics():
    """The shared blocks see a 16x16 and a 32x32 input's features: each branch keeps its
    own running statistics and is normalised by them in eval mode."""
    torch.manual_seed(0)
    model = build("efc_sr").train()
    bn = model.trunk.head[1]  # a batch norm of the shared part
    seen = []  # (input, output) of every call: the low branch first, then the high one
    bn.register_forward_hook(lambda _m, inp, out: seen.append((inp[0], out)))
    x = torch.rand(64, 1, 32, 32)
    with torch.no_grad():
        for _ in range(80):  # running statistics converge to x's (momentum 0.1)
            model.branch_logits(x)
        low_in, high_in = seen[-2][0], seen[-1][0]
        assert torch.allclose(bn.low_running_mean, low_in.mean((0, 2, 3)), atol=1e-4)
        assert torch.allclose(bn.running_mean, high_in.mean((0, 2, 3)), atol=1e-4)
        assert not torch.allclose(bn.low_running_var, bn.running_var, rtol=0.05)
        model.eval()
        model.branch_logits(x)
    for (inp, out), prefix in zip(seen[-2:], ("low_", ""), strict=True):
        mean, var = getattr(bn, prefix + "running_mean"), getattr(bn, prefix + "running_var")
        expected = (inp - mean[:, None, None]) / torch.sqrt(var[:, None, None] + bn.eps)
        expected = expected * bn.weight[:, None, None] + bn.bias[:, None, None]
        assert torch.allclose(out, expected, atol=1e-4)
    # A checkpoint from before the per-branch statistics loads strictly, both branches
    # starting from the shared ones.
    old = {k: v for k, v in model.state_dict().items() if ".low_" not in k}
    fresh = build("efc_sr")
    fresh.load_state_dict(old)
    assert torch.equal(fresh.trunk.head[1].low_running_mean, bn.running_mean)


@pytest.mark.parametrize("arch", ("efc_rvn", "efc_sr", "efc_wide"))
def test_variant_exports_as_one_graph_with_the_node_io(tmp_path, arch):
    torch.manual_seed(0)
    model = build(arch).eval()
    path = tmp_path / f"{arch}.onnx"
    export.export(model, 32, path)
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["face"] and [o.name for o in graph.output] == ["logits"]
    rng = np.random.default_rng(0)
    for size in (32, 20):  # the node feeds 32; the spatial size stays dynamic
        faces = rng.integers(0, 256, (4, size, size), dtype=np.uint8)
        assert export.parity(model, path, faces) < 1e-4


def test_old_checkpoint_resumes_and_exports_as_efc(old_format_run):
    """Runs from before --arch (no "arch" in their config) are EFC runs."""
    committed = ROOT / "training/runs/efc_all_s32/best.pt"
    if committed.exists():
        assert "arch" not in torch.load(committed, weights_only=False, map_location="cpu")["config"]
        model, _ = export.load_checkpoint(committed)
        assert type(model) is efc.EFC
    out = old_format_run
    assert "arch" not in torch.load(out / "last.pt", weights_only=False, map_location="cpu")["config"]
    model, _ = export.load_checkpoint(out / "last.pt")
    assert type(model) is efc.EFC
    args = ["--data", str(DATA), "--out", str(out), "--subset", "256", "--batch", "64", "--robust-every", "0"]
    with pytest.raises(SystemExit, match="--arch efc"):
        train.main(args + ["--epochs", "2", "--resume", "--arch", "efc_rvn"])
    # With the default arch it loads the weights (strictly) and finishes the run.
    train.main(args + ["--epochs", "2", "--resume"])
    assert [json.loads(line)["epoch"] for line in (out / "log.jsonl").read_text().splitlines()] == [0, 1]


def test_comparison_table_renders_the_baseline_and_empty_rows(capsys):
    from lowres_fer_training.tables import seed_options as render_seed_table

    render_seed_table.main([str(ROOT / "models")])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 + len(render_seed_table.ROWS)
    assert "| 469,774 | 8.4 M |" in lines[2] and "| 32.7 M |" in lines[3] and "| 11.4 M |" in lines[4]
