"""Valid accuracy of a model during training (train.py): arg-max predictions of uint8
faces, per resolution, per class, and under the camera degradations."""

from __future__ import annotations

import numpy as np
import torch

from . import degrade
from .defaults import EMOTIONS


def model_device(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def predict(model, faces: np.ndarray) -> np.ndarray:
    """Arg-max class of [N, S, S] uint8 faces."""
    model.eval()
    device = model_device(model)
    x = torch.from_numpy(faces).float().div_(255).unsqueeze(1)
    pred = torch.cat([model(chunk.to(device), logits=True).argmax(1).cpu() for chunk in x.split(1024)]).numpy()
    model.train()
    return pred


def mean_class_accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    classes = [c for c in range(len(EMOTIONS)) if (labels == c).any()]
    return float(np.mean([(pred[labels == c] == c).mean() for c in classes]))


def accuracy_by_resolution(model, data: np.ndarray, labels: np.ndarray, resolutions) -> dict[int, float]:
    keep = labels >= 0
    return {r: float((predict(model, data[i][keep]) == labels[keep]).mean()) for i, r in enumerate(resolutions)}


def robust_valid(images: np.ndarray, resolution: int, size: int) -> dict[str, np.ndarray]:
    """Valid faces under each named degradation at one resolution (fixed noise seed)."""
    out = {}
    for name, spec in degrade.NAMED.items():
        rng = np.random.default_rng(1234)
        out[name] = np.stack([degrade.apply(im, resolution, size, spec, rng) for im in images])
    return out
