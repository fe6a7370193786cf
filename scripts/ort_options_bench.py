"""ONNX Runtime options for the committed models, measured in Python (docs/realtime.md,
"Model variants"): graph optimisation levels for the detector and the classifier, and a
static INT8 (QDQ) BlazeFace calibrated on letterboxed scene frames and native 256x256 tiles.
1 thread, runs interleaved so other load hits every variant alike; prints median / best ms.
Not a CI test. Needs the training venv (onnxruntime, onnx) and ../shared/data/scenes.

    ~/.cache/lowres_fer/train/bin/python scripts/ort_options_bench.py [--runs 40]
"""

import argparse
import glob
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DETECTOR = ROOT / "models" / "blazeface_back_256.onnx"
CLASSIFIER = ROOT / "models" / "efc_all_s32.onnx"
SCENES = ROOT.parent / "shared" / "data" / "scenes"


def detector_inputs():
    rng = np.random.default_rng(0)
    for p in sorted(glob.glob(str(SCENES / "dlib_faces" / "*.jpg"))) + sorted(glob.glob(str(SCENES / "*.jpg"))):
        im = Image.open(p).convert("RGB")
        w, h = im.size
        s = 256 / max(w, h)
        canvas = Image.new("RGB", (256, 256))
        canvas.paste(im.resize((round(w * s), round(h * s)), Image.BILINEAR), (0, 0))
        yield canvas
        for _ in range(3):
            if w > 256 and h > 256:
                x, y = rng.integers(0, w - 256), rng.integers(0, h - 256)
                yield im.crop((x, y, x + 256, y + 256))


class Reader(CalibrationDataReader):
    def __init__(self):
        self.it = (np.asarray(c, np.float32)[None] / 127.5 - 1.0 for c in detector_inputs())

    def get_next(self):
        x = next(self.it, None)
        return None if x is None else {"input:0": x}


def session(path, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
    o = ort.SessionOptions()
    o.intra_op_num_threads = o.inter_op_num_threads = 1
    o.graph_optimization_level = level
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


def race(sessions, name, x, runs):
    times = {n: [] for n in sessions}
    for _ in range(runs):
        for n, s in sessions.items():
            t = time.perf_counter()
            s.run(None, {name: x})
            times[n].append(time.perf_counter() - t)
    return {n: f"{1000 * np.median(v):.2f} / {1000 * min(v):.2f}" for n, v in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=40)
    a = ap.parse_args()
    L = ort.GraphOptimizationLevel
    levels = {"disable": L.ORT_DISABLE_ALL, "basic": L.ORT_ENABLE_BASIC, "extended": L.ORT_ENABLE_EXTENDED,
              "all": L.ORT_ENABLE_ALL}
    det_x = next(Reader().it)
    clf_x = np.random.default_rng(0).random((16, 1, 32, 32), dtype=np.float32)
    print("optimisation level, median / best ms:")
    print("  blazeface", race({n: session(DETECTOR, lv) for n, lv in levels.items()}, "input:0", det_x, a.runs))
    print("  efc batch 16", race({n: session(CLASSIFIER, lv) for n, lv in levels.items()}, "face", clf_x, a.runs))
    with tempfile.TemporaryDirectory() as tmp:
        op13, prep, q = Path(tmp) / "op13.onnx", Path(tmp) / "prep.onnx", Path(tmp) / "int8.onnx"
        # The BlazeFace export is below opset 13, where DequantizeLinear has no per-channel axis.
        onnx.save(version_converter.convert_version(onnx.load(str(DETECTOR)), 13), str(op13))
        quant_pre_process(str(op13), str(prep), skip_symbolic_shape=True)
        quantize_static(str(prep), str(q), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
        print("blazeface fp32 vs static int8, median / best ms:",
              race({"fp32": session(DETECTOR), "int8": session(q)}, "input:0", det_x, a.runs))


if __name__ == "__main__":
    main()
