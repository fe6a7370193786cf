"""Camera degradations of a face crop, for training and for the robustness table.

The clean protocol (data.degrade) is Pillow's antialiased bilinear 48 -> R -> input.
A robot's crop is not that: the camera integrates light over its pixels (area), cheap
ISPs subsample (nearest), the image was JPEG-compressed at the size the face really
has, the sensor adds noise, the lens may be out of focus or the head moving, and the
exposure curve is not the dataset's.

Every degradation here acts at the face's *native* resolution R (blurs are drawn at
48 px scaled by 48/R, which is the same blur in native pixels), then the crop is
resized to the model input with Pillow's bilinear filter, as the node does
(crates/lowres_fer/src/imaging/resample.rs). The named set (NAMED) fixes one setting per degradation for the
evaluator's robustness table; crates/lowres_fer_lab/src/degrade.rs implements the same definitions in Rust
(JPEG goes through another encoder there, so the two agree in kind, not byte for byte).
`random_degrade` draws from ranges around those settings for training.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

KERNELS = {
    "bilinear": Image.BILINEAR,
    "nearest": Image.NEAREST,
    "area": Image.BOX,
    "bicubic": Image.BICUBIC,
}


def gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(np.ceil(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def convolve_separable(img: np.ndarray, kx: np.ndarray, ky: np.ndarray) -> np.ndarray:
    """float64 image convolved with a row kernel kx and a column kernel ky, edges replicated."""
    rx, ry = len(kx) // 2, len(ky) // 2
    p = np.pad(img, ((0, 0), (rx, rx)), mode="edge")
    out = sum(kx[i] * p[:, i : i + img.shape[1]] for i in range(len(kx)))
    p = np.pad(out, ((ry, ry), (0, 0)), mode="edge")
    return sum(ky[i] * p[i : i + img.shape[0], :] for i in range(len(ky)))


def defocus(img48: np.ndarray, sigma_native: float, resolution: int) -> np.ndarray:
    """Gaussian blur of sigma_native pixels of the native face, drawn at 48 px."""
    k = gaussian_kernel(sigma_native * 48.0 / resolution)
    return convolve_separable(img48.astype(np.float64), k, k)


def motion(img48: np.ndarray, length_native: float, resolution: int) -> np.ndarray:
    """Horizontal motion blur of length_native pixels of the native face, drawn at 48 px."""
    n = max(1, round(length_native * 48.0 / resolution))
    k = np.ones(n) / n
    if n % 2 == 0:  # odd support, centred: spread the extra tap over both ends
        k = np.convolve(k, [0.5, 0.5])
    return convolve_separable(img48.astype(np.float64), k, np.ones(1))


def to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img, mode="L").save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("L"))


def gamma(img: np.ndarray, g: float) -> np.ndarray:
    return to_u8(255.0 * (img.astype(np.float64) / 255.0) ** g)


def contrast(img: np.ndarray, factor: float) -> np.ndarray:
    f = img.astype(np.float64)
    return to_u8((f - f.mean()) * factor + f.mean())


def noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return to_u8(img.astype(np.float64) + rng.normal(0.0, sigma, img.shape))


def downscale(img48: np.ndarray, resolution: int, kernel: str) -> np.ndarray:
    im = Image.fromarray(to_u8(img48) if img48.dtype != np.uint8 else img48, mode="L")
    if resolution != im.width:
        im = im.resize((resolution, resolution), KERNELS[kernel])
    return np.asarray(im)


def to_input(native: np.ndarray, input_size: int) -> np.ndarray:
    im = Image.fromarray(native, mode="L")
    if input_size != im.width:
        im = im.resize((input_size, input_size), Image.BILINEAR)
    return np.asarray(im)


# One setting per degradation for the robustness table (crates/lowres_fer_lab/src/degrade.rs mirrors these).
NAMED = {
    "clean": {},
    "nearest": {"kernel": "nearest"},
    "area": {"kernel": "area"},
    "bicubic": {"kernel": "bicubic"},
    "jpeg_q30": {"jpeg": 30},
    "noise_s8": {"noise": 8.0},
    "defocus_s0.7": {"defocus": 0.7},
    "motion_l2": {"motion": 2.0},
    "gamma_dark": {"gamma": 1.8},
    "gamma_bright": {"gamma": 0.55},
    "contrast_0.5": {"contrast": 0.5},
}


def apply(img48: np.ndarray, resolution: int, input_size: int, spec: dict, rng: np.random.Generator) -> np.ndarray:
    """Degrade one 48x48 uint8 face to `resolution` by `spec`, then to the model input."""
    return to_input(native(img48, resolution, spec, rng), input_size)


def native(img48: np.ndarray, resolution: int, spec: dict, rng: np.random.Generator) -> np.ndarray:
    """The face at its native resolution under `spec`. Order: optics (defocus, motion)
    -> sampling kernel -> exposure (gamma, contrast) -> sensor noise -> JPEG."""
    x = img48
    if spec.get("defocus"):
        x = defocus(x, spec["defocus"], resolution)
    if spec.get("motion"):
        x = motion(x, spec["motion"], resolution)
    low = downscale(x if x.dtype == np.uint8 else to_u8(x), resolution, spec.get("kernel", "bilinear"))
    if spec.get("gamma"):
        low = gamma(low, spec["gamma"])
    if spec.get("contrast"):
        low = contrast(low, spec["contrast"])
    if spec.get("noise"):
        low = noise(low, spec["noise"], rng)
    if spec.get("jpeg"):
        low = jpeg(low, spec["jpeg"])
    return low


def random_spec(rng: np.random.Generator, harsh: bool = False) -> dict:
    """A random camera: each degradation independently, in ranges around NAMED.
    harsh: more of the two that cost most at 10 px (MODEL_CARD, robustness): nearest
    sampling for 2 faces in 5 instead of 1 in 4, JPEG for 60 % instead of 40 % and at
    quality 10-60 instead of 20-90. The default draws stay exactly as before."""
    kernels = list(KERNELS)
    if harsh:
        spec: dict = {"kernel": kernels[rng.choice(len(kernels), p=[0.2, 0.4, 0.2, 0.2])]}
    else:
        spec = {"kernel": rng.choice(kernels)}
    if rng.random() < 0.25:
        spec["defocus"] = float(rng.uniform(0.3, 1.0))
    elif rng.random() < 0.15:
        spec["motion"] = float(rng.uniform(1.0, 3.0))
    if rng.random() < 0.3:
        spec["gamma"] = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    if rng.random() < 0.2:
        spec["contrast"] = float(rng.uniform(0.4, 1.0))
    if rng.random() < 0.4:
        spec["noise"] = float(rng.uniform(1.0, 12.0))
    if rng.random() < (0.6 if harsh else 0.4):
        spec["jpeg"] = int(rng.integers(10, 61)) if harsh else int(rng.integers(20, 91))
    return spec
