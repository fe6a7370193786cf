"""Training targets and loss terms (train.py): the label rules over FER+ votes (soft,
hard, PDLS) and the distillation / consistency term."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import data
from .defaults import EMOTIONS


def pdls_prior(votes: np.ndarray) -> np.ndarray:
    """Seed 003, eq. 5: row k = the mean vote distribution of the training faces whose
    majority label is k (computed on this run's training set)."""
    hard = data.majority_labels(votes)
    soft = data.soft_targets(votes)
    k = len(EMOTIONS)
    return np.stack([soft[hard == c].mean(0) if (hard == c).any() else np.eye(k)[c] for c in range(k)]).astype(np.float32)


def build_targets(votes: np.ndarray, labels: str, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(targets [N, 8], keep mask) for the chosen label rule."""
    eye = np.eye(len(EMOTIONS), dtype=np.float32)
    if labels == "soft":
        targets = data.soft_targets(votes)
        return targets, (targets.sum(1) > 0) & (data.plurality_labels(votes) >= 0)
    hard = data.majority_labels(votes)
    onehot = eye[np.maximum(hard, 0)]
    if labels == "pdls":
        onehot = alpha * onehot + (1 - alpha) * pdls_prior(votes)[np.maximum(hard, 0)]
    return onehot, hard >= 0


def distillation(teacher, clean: torch.Tensor, logits: torch.Tensor, temp: float) -> torch.Tensor:
    """T^2 * KL(softmax(teacher/T) || softmax(student/T)), batch mean. With RVN's
    per-crop logits [B, K, C] every crop learns the teacher's distribution."""
    with torch.no_grad():
        soft = F.softmax(teacher(clean, logits=True) / temp, dim=-1)
    if logits.dim() == 3:
        soft = soft[:, None]
    log_student = F.log_softmax(logits / temp, dim=-1)
    return temp * temp * (soft * (soft.clamp_min(1e-8).log() - log_student)).sum(-1).mean()
