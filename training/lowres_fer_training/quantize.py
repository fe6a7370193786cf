"""INT8 and FP16 variants of an exported emotion model (seed 004's optimisations as
measured options; issue 12). Writes next to the FP32 model:

    models/<name>.int8.onnx  static QDQ quantisation, weights per channel, in the
                             data types of --int8-scheme; ranges calibrated on FER+ Train faces
                             through the clean protocol at every resolution the model
                             serves (never Valid or Test), from their min/max or, with
                             --percentile, a percentile of |activation|
    models/<name>.fp16.onnx  weights and activations float16, float32 input/output
                             (for GPUs: CUDA / TensorRT on a Jetson; on x86 CPUs
                             ONNX Runtime inserts casts and it is slower)

and adds a manifest entry for each: role "variant", "variant_of" (the FP32 file),
"variant_of_sha256" (so the node refuses a variant of an older model), "precision",
and the base entry's input size, face_px bin and calibration (logit_bias,
temperature). The node selects them with `classifier.precision`. Accuracy per
resolution: `ferplus_eval --model <name>.int8.onnx` (models/MODEL_CARD.md).

    python training/quantize.py models/efc_all_s32.onnx [--precision int8,fp16]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from . import data as ferplus
from .calibrate import resolutions_for
from .defaults import DATA
from .defaults import ONNX_INPUT as INPUT


class FerplusReader(CalibrationDataReader):
    """Batches of Train faces (clean protocol) at the model's resolutions."""

    def __init__(self, data: Path, resolutions, input_size: int, images: int, seed: int = 0, even: bool = False):
        root = ferplus.extract(data)
        names, _ = ferplus.read_votes(root, "train")
        rng = np.random.default_rng(seed)
        pick = sorted(rng.choice(len(names), size=min(images, len(names)), replace=False))
        faces = ferplus.load_images(root, "train", [names[i] for i in pick])
        # Every face at one of the resolutions, cycling: the ranges cover them all.
        x = np.concatenate(
            [ferplus.degrade_all(faces[i :: len(resolutions)], r, input_size) for i, r in enumerate(resolutions)]
        )
        x = x.astype(np.float32)[:, None] / 255.0
        if even:  # the histogram calibrators stack batches: all of one size (the last < 64 faces dropped)
            n = max(64, len(x) // 64 * 64)
            self.batches = iter(np.split(x[:n], n // 64))
        else:
            self.batches = iter(np.array_split(x, max(1, len(x) // 64)))

    def get_next(self):
        b = next(self.batches, None)
        return None if b is None else {INPUT: b}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# INT8 data types: activations x weights. The shipped choice is measured on every CPU kind a
# robot runs (models/MODEL_CARD.md, "Precision variants"): ONNX Runtime's x86 kernels without
# VNNI multiply uint8 x int8 with an instruction that saturates, which cost 5 points there.
SCHEMES = {
    "u8s8": (QuantType.QUInt8, QuantType.QInt8, False),
    "u8s8_reduce_range": (QuantType.QUInt8, QuantType.QInt8, True),
    "u8u8": (QuantType.QUInt8, QuantType.QUInt8, False),
    "s8s8": (QuantType.QInt8, QuantType.QInt8, False),
}
DEFAULT_SCHEME = "u8u8"


def int8(src: Path, dst: Path, reader: CalibrationDataReader, scheme: str = DEFAULT_SCHEME,
         percentile: float = 0.0) -> None:
    """percentile 0: activation ranges from the calibration faces' min and max; else the
    range holding that percentile of |activation| (an outlier then no longer widens the step)."""
    activation_type, weight_type, reduce_range = SCHEMES[scheme]
    ranges = {}
    if percentile:
        ranges = {"calibrate_method": CalibrationMethod.Percentile, "extra_options": {"CalibPercentile": percentile}}
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(dst),
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=reduce_range,
            weight_type=weight_type,
            activation_type=activation_type,
            **ranges,
        )


def fp16(src: Path, dst: Path) -> None:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(dst))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("onnx", type=Path)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--precision", default="int8,fp16", help="comma-separated: int8, fp16")
    p.add_argument("--calibration-images", type=int, default=2000, help="FER+ Train faces for the INT8 ranges")
    p.add_argument("--int8-scheme", choices=sorted(SCHEMES), default=DEFAULT_SCHEME,
                   help="INT8 activation x weight types (default %(default)s: right on every CPU kind measured)")
    p.add_argument("--percentile", type=float, default=0.0,
                   help="INT8 activation ranges at this percentile of |activation| (e.g. 99.9; default 0: min/max)")
    args = p.parse_args(argv)
    manifest_path = args.onnx.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    base = manifest["models"][args.onnx.name]
    stem = args.onnx.name.removesuffix(".onnx")
    for precision in [s.strip() for s in args.precision.split(",") if s.strip()]:
        dst = args.onnx.with_name(f"{stem}.{precision}.onnx")
        if precision == "int8":
            reader = FerplusReader(args.data, resolutions_for(base), base.get("input_size", 32),
                                   args.calibration_images, even=bool(args.percentile))
            int8(args.onnx, dst, reader, args.int8_scheme, args.percentile)
        elif precision == "fp16":
            fp16(args.onnx, dst)
        else:
            raise SystemExit(f"unknown precision {precision!r} (int8, fp16)")
        entry = {k: v for k, v in base.items() if k in ("input_size", "face_px", "logit_bias", "temperature")}
        entry |= {"role": "variant", "variant_of": args.onnx.name, "variant_of_sha256": base["sha256"],
                  "precision": precision, "sha256": sha256(dst)}
        if precision == "int8":
            entry["int8_scheme"] = args.int8_scheme
            if args.percentile:
                entry["int8_percentile"] = args.percentile
        manifest["models"][dst.name] = entry
        print(f"{dst}: {dst.stat().st_size / 1024:.0f} KB ({args.onnx.stat().st_size / 1024:.0f} KB fp32)")
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
