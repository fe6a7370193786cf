"""FER+ loading, the low-resolution evaluation protocol (../shared/data/README.md) and
the on-disk cache of degraded faces.

Labels: 10 vote counts per image (neutral, happiness, surprise, sadness, anger,
disgust, fear, contempt, unknown, NF). The 8 emotions keep that order everywhere.
"""

from __future__ import annotations

import csv
import os
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from .defaults import EMOTIONS

SPLITS = {"train": "FER2013Train", "valid": "FER2013Valid", "test": "FER2013Test"}


def default_cache() -> Path:
    root = os.environ.get("LOWRES_FER_CACHE") or Path.home() / ".cache" / "lowres_fer"
    return Path(root)


def extract(tarball: Path, cache: Path | None = None) -> Path:
    """Extract the FER+ tarball once into the cache; returns the dataset root."""
    root = (cache or default_cache()) / "ferplus"
    marker = root / ".extracted"
    if not marker.exists():
        root.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as tar:
            tar.extractall(root, filter="data")
        marker.write_text(str(tarball))
    return root


def read_votes(root: Path, split: str) -> tuple[list[str], np.ndarray]:
    """File names and the 10 vote counts of each image of a split."""
    names, votes = [], []
    with open(root / SPLITS[split] / "label.csv", newline="") as f:
        for row in csv.reader(f):
            if not row:
                continue
            names.append(row[0])
            votes.append([int(v) for v in row[2:12]])
    return names, np.asarray(votes, dtype=np.int64)


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """Primary rule (FER+ authors' code): drop votes of 1, label = arg-max if it has
    more than half of the remaining votes and is an emotion; else -1 (dropped)."""
    v = np.where(votes == 1, 0, votes)
    total = v.sum(axis=1)
    arg = v.argmax(axis=1)
    top = v[np.arange(len(v)), arg]
    keep = (top * 2 > total) & (arg < len(EMOTIONS)) & (total > 0)
    return np.where(keep, arg, -1)


def plurality_labels(votes: np.ndarray) -> np.ndarray:
    """Secondary rule: first arg-max among the 8 emotions; drop (-1) only when unknown
    or NF has more votes than every emotion."""
    emo = votes[:, : len(EMOTIONS)]
    best = emo.max(axis=1)
    other = votes[:, len(EMOTIONS) :].max(axis=1)
    return np.where(other > best, -1, emo.argmax(axis=1))


def soft_targets(votes: np.ndarray) -> np.ndarray:
    """Vote distribution over the 8 emotions after outlier removal (votes of 1 dropped
    when anything else remains). Rows with no emotion votes are all zero."""
    emo = votes[:, : len(EMOTIONS)].astype(np.float32)
    cleaned = np.where(emo == 1, 0, emo)
    use = np.where(cleaned.sum(axis=1, keepdims=True) > 0, cleaned, emo)
    total = use.sum(axis=1, keepdims=True)
    return np.divide(use, total, out=np.zeros_like(use), where=total > 0)


def load_images(root: Path, split: str, names: list[str]) -> np.ndarray:
    """48x48 uint8 grayscale images, [N, 48, 48]."""
    folder = root / SPLITS[split]
    out = np.empty((len(names), 48, 48), dtype=np.uint8)
    for i, name in enumerate(names):
        with Image.open(folder / name) as im:
            out[i] = np.asarray(im.convert("L"))
    return out


def degrade(img: np.ndarray, resolution: int, input_size: int) -> np.ndarray:
    """The low-resolution protocol: 48x48 -> RxR -> input_size, both steps with
    Pillow's antialiased bilinear filter (the Rust side uses image's Triangle filter,
    checked against a shared test vector)."""
    im = Image.fromarray(img, mode="L")
    if resolution != im.width:
        im = im.resize((resolution, resolution), Image.BILINEAR)
    if input_size != resolution:
        im = im.resize((input_size, input_size), Image.BILINEAR)
    return np.asarray(im)


def degrade_all(images: np.ndarray, resolution: int, input_size: int) -> np.ndarray:
    return np.stack([degrade(im, resolution, input_size) for im in images])


def degraded_cache(root: Path, split: str, images: np.ndarray, resolutions, size: int, tag: str) -> np.ndarray:
    """[len(resolutions), N, size, size] uint8, cached on disk (degrading is the slow part)."""
    cache = default_cache() / "ferplus_degraded"
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for r in resolutions:
        path = cache / f"{split}{tag}_s{size}_r{r}.npy"
        if path.exists():
            arr = np.load(path)
        else:
            arr = degrade_all(images, r, size)
            # Write then rename: parallel runs (experts) may fill the same cache.
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, arr)
            os.replace(tmp, path)
        out.append(arr)
    return np.stack(out)
