"""The resolution recognition network (RRN, seed paper 001): a small EFC whose classes
are the resolution bins of routing.py (trained by train_rrn.py)."""

from __future__ import annotations

from ..routing import BINS
from .efc import EFC

RRN_BLOCKS = ((16, 16, 2, 1), (16, 32, 2, 2), (32, 32, 2, 1), (32, 48, 2, 2))
RRN_HEAD = 256


def build() -> EFC:
    return EFC(num_classes=len(BINS), blocks=RRN_BLOCKS, head=RRN_HEAD)
