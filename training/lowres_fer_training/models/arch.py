"""The architecture a name (train.py --arch, a checkpoint's config) stands for."""

from __future__ import annotations

from torch import nn

from ..defaults import ARCHS
from . import efc, seeds


def build(arch: str = "efc", num_classes: int = 8) -> nn.Module:
    if arch == "efc":
        return efc.EFC(num_classes=num_classes)
    if arch == "efc_rvn":
        return seeds.EFCRVN(num_classes=num_classes)
    if arch == "efc_sr":
        return seeds.EFCSR(num_classes=num_classes)
    if arch == "efc_wide":
        return efc.EFC(num_classes=num_classes, blocks=efc.WIDE_BLOCKS)
    raise ValueError(f"unknown arch {arch!r} (one of {', '.join(ARCHS)})")


def arch_of(config: dict) -> str:
    """The architecture a run's config names; configs from before issue 15 are EFC."""
    return config.get("arch", "efc")
