"""Accuracy of an emotion model's precision variants on the CPU this Python runs on.

INT8 kernels differ between CPU kinds (x86 with or without VNNI, aarch64 with or without
dot-product instructions), so a variant must be measured on each kind a robot runs. This
splits the work so that the slow, emulated side needs nothing but numpy and ONNX Runtime:

    # on any machine with the training venv: FER+ Test faces at 20 px, as the model sees them
    python training/precision_check.py prepare --out /tmp/test20.npz
    # on the CPU kind to check (natively, or under qemu-user with that kind's ONNX Runtime wheel)
    python training/precision_check.py evaluate /tmp/test20.npz models efc_all_s32.onnx efc_all_s32.int8.onnx

`evaluate` prints one JSON line per model: its majority-rule accuracy with the manifest's
calibration applied (the node's arg-max), and the CPU it ran on. The suite's driver for the
aarch64 kind is scripts/aarch64_check.sh.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

from .defaults import DATA


def prepare(data: Path, out: Path, resolution: int, input_size: int) -> None:
    # The training stack (Pillow): imported here, `evaluate` runs without it.
    from . import data as ferplus

    root = ferplus.extract(data)
    names, votes = ferplus.read_votes(root, "test")
    labels = ferplus.majority_labels(votes)
    keep = labels >= 0
    names = [n for n, k in zip(names, keep) if k]
    faces = ferplus.degrade_all(ferplus.load_images(root, "test", names), resolution, input_size)
    np.savez_compressed(out, faces=faces.astype(np.uint8), labels=labels[keep], resolution=resolution)
    print(f"{out}: {len(names)} FER+ Test faces at {resolution} px in {input_size}x{input_size}")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":")[0].strip() in ("model name", "CPU part"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def evaluate(cache: Path, models: Path, files: list[str], batch: int = 256) -> list[dict]:
    import onnxruntime as ort

    data = np.load(cache)
    faces, labels = data["faces"], data["labels"]
    manifest = json.loads((models / "manifest.json").read_text())["models"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    results = []
    for file in files:
        entry = manifest.get(file)
        if entry is None:
            raise SystemExit(f"{file}: not in {models / 'manifest.json'}")
        session = ort.InferenceSession(str(models / file), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        bias = np.asarray(entry.get("logit_bias") or np.zeros(8), dtype=np.float32)
        correct = 0
        for start in range(0, len(faces), batch):
            x = faces[start : start + batch].astype(np.float32)[:, None] / 255.0
            logits = session.run(None, {name: x})[0]
            correct += int(((logits + bias).argmax(axis=1) == labels[start : start + batch]).sum())
        results.append({"model": file, "accuracy": correct / len(faces), "images": len(faces),
                        "resolution": int(data["resolution"]), "machine": platform.machine(), "cpu": cpu_name(),
                        "onnxruntime": ort.__version__})
        print(json.dumps(results[-1]), flush=True)
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="FER+ Test faces at one resolution, as model input")
    prep.add_argument("--data", type=Path, default=DATA)
    prep.add_argument("--out", type=Path, required=True)
    prep.add_argument("--resolution", type=int, default=20)
    prep.add_argument("--input-size", type=int, default=32)
    ev = sub.add_parser("evaluate", help="accuracy of each model on the prepared faces")
    ev.add_argument("cache", type=Path)
    ev.add_argument("models", type=Path, help="models directory (with manifest.json)")
    ev.add_argument("files", nargs="+")
    ev.add_argument("--max-loss", help="fail when a later model is more than this under the first "
                    "(one value, or one per later model, comma-separated)")
    args = p.parse_args(argv)
    if args.command == "prepare":
        prepare(args.data, args.out, args.resolution, args.input_size)
        return
    results = evaluate(args.cache, args.models, args.files)
    if args.max_loss is not None:
        losses = [float(v) for v in args.max_loss.split(",")]
        if len(losses) == 1:
            losses *= len(results) - 1
        if len(losses) != len(results) - 1:
            raise SystemExit(f"--max-loss: {len(losses)} values for {len(results) - 1} models after the first")
        reference = results[0]
        failed = [f"{r['model']}: {r['accuracy']:.4f} is more than {loss} under {reference['model']} "
                  f"{reference['accuracy']:.4f} on {r['machine']} ({r['cpu']})"
                  for r, loss in zip(results[1:], losses) if r["accuracy"] < reference["accuracy"] - loss]
        if failed:
            sys.exit("\n".join(failed))


if __name__ == "__main__":
    main()
