"""Write tests/data/degrade_vector.json: a synthetic 48x48 face-like pattern and its
degraded versions under the low-resolution protocol, made by Pillow. The Rust test
`tests/degrade_vector.rs` must reproduce every byte (Rust and Python degrade alike).

    python training/make_test_vector.py
"""

from __future__ import annotations

import json

import numpy as np

from . import data as ferplus
from . import degrade
from .defaults import EVAL_RESOLUTIONS, ROOT

INPUT_SIZES = (32, 20)
# Camera degradations that are deterministic (noise and JPEG differ by design between
# the two implementations), at the native resolution, before the resize to the input.
CAMERA = tuple(n for n, spec in degrade.NAMED.items() if not ({"noise", "jpeg"} & set(spec)))
CAMERA_RESOLUTIONS = (20, 10, 7, 5)


def pattern() -> np.ndarray:
    """Deterministic 48x48 uint8 image with edges, gradients and noise (no real face)."""
    rng = np.random.default_rng(1234)
    y, x = np.mgrid[0:48, 0:48]
    img = 96 + 60 * np.sin(x / 5.0) * np.cos(y / 7.0) + 2 * (x - y)
    img[14:20, 10:18] = 20
    img[14:20, 30:38] = 20
    img[32:36, 16:32] = 230
    img = img + rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def main():
    src = pattern()
    cases = []
    for size in INPUT_SIZES:
        for r in EVAL_RESOLUTIONS:
            out = ferplus.degrade(src, r, size)
            cases.append({"resolution": r, "input_size": size, "pixels": out.flatten().tolist()})
    camera = []
    for name in CAMERA:
        for r in CAMERA_RESOLUTIONS:
            native = degrade.native(src, r, degrade.NAMED[name], np.random.default_rng(0))
            camera.append({"name": name, "resolution": r, "pixels": native.flatten().tolist()})
    out_path = ROOT / "tests/data/degrade_vector.json"
    doc = {"source": src.flatten().tolist(), "cases": cases, "camera": camera}
    out_path.write_text(json.dumps(doc) + "\n")
    print(f"wrote {out_path} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
