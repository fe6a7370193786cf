"""Export a trained EFC checkpoint to ONNX (dynamic batch) and prove ONNX Runtime and
PyTorch agree to 1e-4 on real degraded FER+ faces; record it in models/manifest.json.

    python training/export.py training/runs/efc_all_s32/best.pt models/efc_all_s32.onnx
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from . import checkpoint, data, routing
from .defaults import ARCHS, DATA, EMOTIONS
from .defaults import ONNX_INPUT as INPUT_NAME
from .defaults import ONNX_OUTPUT as OUTPUT_NAME
from .models import efc, rrn
from .models.arch import arch_of, build


class LogitsOnly(torch.nn.Module):
    """Exported graph: [N,1,H,W] gray in [0,1] -> [N,K] logits (K = 8 emotions, or bins for the RRN) (softmax is done by the caller).
    Height and width are dynamic (the net is fully convolutional); the manifest names
    the size it was trained at."""

    def __init__(self, model: efc.EFC):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x, logits=True)


def load_checkpoint(path: Path) -> tuple[efc.EFC, dict]:
    # best.pt (or an unfinished run's last.pt: its best epoch, checkpoint.py)
    state = checkpoint.load_weights(path)
    if state.get("kind") == "rrn":
        model = rrn.build()
    else:  # efc, or a seed option of issue 15 (configs without "arch" are efc)
        model = build(arch_of(state.get("config", {})), num_classes=len(EMOTIONS))
    model.load_state_dict(state["model"])
    model.eval()
    return model, state.get("config", {})


def export(model: efc.EFC, size: int, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        LogitsOnly(model).eval(),
        (torch.zeros(1, 1, size, size),),
        str(out),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: "batch", 2: "height", 3: "width"}, OUTPUT_NAME: {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


def parity(model: efc.EFC, onnx_path: Path, faces: np.ndarray) -> float:
    """Max |logit difference| between PyTorch and ONNX Runtime on `faces` [N,S,S] uint8."""
    x = torch.from_numpy(faces).float().div(255).unsqueeze(1)
    with torch.no_grad():
        ref = model(x, logits=True).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
    return float(np.abs(ref - got).max())


def read_manifest(models_dir: Path) -> dict:
    path = models_dir / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {"models": {}}


def write_manifest(models_dir: Path, manifest: dict) -> None:
    (models_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def update_manifest(models_dir: Path, name: str, entry: dict) -> None:
    manifest = read_manifest(models_dir)
    manifest["models"][name] = entry
    write_manifest(models_dir, manifest)


def drop(onnx: Path) -> None:
    """Remove a model, its precision variants and their manifest entries (a routing bin
    the general classifier serves has no expert)."""
    manifest = read_manifest(onnx.parent)
    names = [n for n, e in manifest["models"].items() if n == onnx.name or e.get("variant_of") == onnx.name]
    for name in names + [onnx.name]:
        (onnx.parent / name).unlink(missing_ok=True)
        manifest["models"].pop(name, None)
    if (onnx.parent / "manifest.json").exists():
        write_manifest(onnx.parent, manifest)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("onnx", type=Path)
    p.add_argument("--input-size", type=int, default=32)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--role", default="classifier")
    p.add_argument("--face-px", type=lambda s: [float(v) for v in s.split(",")], default=None)
    p.add_argument("--no-manifest", action="store_true")
    args = p.parse_args(argv)

    model, _ = load_checkpoint(args.checkpoint)
    export(model, args.input_size, args.onnx)
    root = data.extract(args.data)
    names, _ = data.read_votes(root, "test")
    images = data.load_images(root, "test", names[:64])
    faces = np.concatenate([data.degrade_all(images, r, args.input_size) for r in (48, 20, 8)])
    diff = parity(model, args.onnx, faces)
    print(f"ONNX vs PyTorch max |logit diff| on {len(faces)} real faces: {diff:.2e}")
    if diff > 1e-4:
        raise SystemExit(f"ONNX export disagrees with PyTorch: {diff:.2e} > 1e-4")
    if not args.no_manifest:
        entry = {
            "sha256": hashlib.sha256(args.onnx.read_bytes()).hexdigest(),
            "input_size": args.input_size,
            "role": args.role,
        }
        if args.face_px:
            entry["face_px"] = args.face_px
        if args.role == "resolution_recogniser":  # the node routes each output as a face of this size
            entry["face_px_bins"] = [routing.manifest_face_px(b) for b in routing.BINS]
        update_manifest(args.onnx.parent, args.onnx.name, entry)
        print(f"manifest updated: {args.onnx.name} {entry['sha256']}")


def export_untrained(models_dir: str) -> None:
    """<arch>_bench.onnx (random weights, the same graphs) and a manifest in models_dir,
    for classify_bench's cost per face before the long runs exist (training/seeds.py DIR)."""
    out = Path(models_dir)
    torch.manual_seed(0)
    for arch in ARCHS:
        path = out / f"{arch}_bench.onnx"
        export(build(arch).eval(), 32, path)
        entry = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "input_size": 32, "role": "candidate"}
        update_manifest(out, path.name, entry)
        print(path)


if __name__ == "__main__":
    main()
